/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * auditwalk: the verdict on an audit chain, entry by entry from #1, shared by
 * rampartd's verify (over the database) and the CLI's verify (over the
 * entries the API lists), so that "intact" and "first_broken" mean the
 * same thing everywhere.
 *
 * The caller hands each entry in id order with the hash it recomputed
 * (auditchain.h) and, optionally, anchors: hashes the chain must have at given
 * sequence numbers, taken from signed checkpoints whose signature the
 * caller has already checked against a pinned key, and the chain's head
 * (audit_head: an unsigned anchor that catches a cut or extended tail).
 *
 * first_broken is the first entry the walk does not prove:
 *   - a gap: the entry after it; an entry out of canonical form, not
 *     following its predecessor, or whose hash differs: that entry;
 *   - an entry after the head: that entry; a head whose hash differs
 *     from its entry's: that entry; a chain that ends before the head or
 *     before an anchor: the first entry missing;
 *   - a signed anchor whose hash differs from the chain's at its sequence
 *     number: the chain was rewritten consistently since it was signed
 *     (only the key can tell), so every entry after the last anchor that
 *     matched is unproved: first_broken is that anchor's sequence + 1.
 * Entries after the last matching signed anchor are proved only by the
 * chain's own links; proved_through says how far the signatures reach.
 */
#ifndef RAMPART_FORMATS_AUDITWALK_H
#define RAMPART_FORMATS_AUDITWALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/auditchain.h"

/* A hash the chain must have at entry @seq (signed checkpoint). */
struct audit_anchor {
	int64_t seq;
	char hash[AUDIT_HASH_HEX];
	char what[64];             /* for the reason: "checkpoint 12", "the checkpoint file" */
};

struct audit_walk {
	/* inputs: set by audit_walk_init and audit_walk_set_head */
	const struct audit_anchor *anchors;   /* sorted by seq; borrowed */
	size_t nanchors;
	bool has_head;
	int64_t head_seq;
	char head_hash[AUDIT_HASH_HEX];
	/* progress */
	int64_t expect;
	char prev[AUDIT_HASH_HEX];
	size_t next_anchor;
	/* the verdict */
	int64_t entries;           /* entries seen */
	bool broken;
	int64_t first_broken;      /* 0 while intact */
	char reason[192];
	int64_t proved_through;    /* highest anchor matched before any break; 0 none */
	size_t anchors_matched;
};

/* Starts a walk over a chain that must agree with @anchors (@n, sorted by seq; may be none). */
void audit_walk_init(struct audit_walk *w, const struct audit_anchor *anchors, size_t n);

/* Also requires the chain to end exactly at the head (@seq, @hash). */
void audit_walk_set_head(struct audit_walk *w, int64_t seq, const char *hash);

/*
 * The next entry: its @id, stored @prev_hash and @hash (NULL if absent),
 * the hash @computed over its fields (NULL when it could not be, e.g. a
 * text that is not UTF-8), and @problem, why its stored form is not the
 * canonical one (NULL when it is; "ts is stored as a real" ...).  After the
 * first break the entry is only counted.
 */
void audit_walk_entry(struct audit_walk *w, int64_t id, const char *prev_hash, const char *hash,
		      const char *computed, const char *problem);

/* Ends the walk: checks that the chain did not end before the head or an anchor. */
void audit_walk_finish(struct audit_walk *w);

#endif
