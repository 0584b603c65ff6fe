/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * audit internals shared by the files of src/audit (never included from
 * outside): the columns an entry is read with, and the hooks between the
 * chain (audit.c), the checkpoints (audit_ckpt.c) and the SIEM shipper
 * (siem.c).
 */
#ifndef RAMPART_AUDIT_INTERNAL_H
#define RAMPART_AUDIT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "formats/auditckpt.h"
#include "formats/auditwalk.h"

struct store_conn;
struct store_stmt;

/* The columns audit_row_json reads, in its order. */
#define AUDIT_ENTRY_COLUMNS "id, ts, actor_id, actor_login, source, action, object_type, object_id, " \
	"outcome, details, request_id, prev_hash, hash"

/* The columns audit_ckpt_row reads, in its order. */
#define AUDIT_CKPT_COLUMNS "id, document, signature, public_key"

/*
 * Called by audit_append inside the append's transaction, after entry
 * @seq with @hash: signs and stores a checkpoint when @seq is a multiple
 * of checkpoint_every_entries and a key is set up.  A failure is logged
 * and not returned: the entry stands, the timer signs a later head.
 */
void audit_ckpt_after_append(struct store_conn *c, int64_t seq, const char *hash, int64_t now_ms);

/* The checkpoint in the current row of @q (AUDIT_CKPT_COLUMNS).  Returns 0 or ERR_INVALID (a damaged row). */
int audit_ckpt_row(struct store_stmt *q, struct audit_checkpoint *ret);

/*
 * The stored checkpoints whose signature is good under @pk, as anchors
 * sorted by seq (malloc'd array in *ret, count in *ret_n), and how many
 * rows were left out (bad signature, another key, damaged) in *ret_ignored.
 * Returns 0, a store error or -ENOMEM.
 */
int audit_ckpt_anchors(struct store_conn *c, const unsigned char *pk, struct audit_anchor **ret,
		       size_t *ret_n, int64_t *ret_ignored);

#endif
