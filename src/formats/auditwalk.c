/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* auditwalk: the verdict on an audit chain, entry by entry (see auditwalk.h). */
#include "formats/auditwalk.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/str.h"

static void walk_break(struct audit_walk *w, int64_t first, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void walk_break(struct audit_walk *w, int64_t first, const char *fmt, ...)
{
	va_list ap;

	w->broken = true;
	w->first_broken = first;
	va_start(ap, fmt);
	vsnprintf(w->reason, sizeof(w->reason), fmt, ap);
	va_end(ap);
}

void audit_walk_init(struct audit_walk *w, const struct audit_anchor *anchors, size_t n)
{
	memset(w, 0, sizeof(*w));
	w->anchors = anchors;
	w->nanchors = n;
	w->expect = 1;
	str_copy(w->prev, sizeof(w->prev), AUDIT_GENESIS);
}

void audit_walk_set_head(struct audit_walk *w, int64_t seq, const char *hash)
{
	w->has_head = true;
	w->head_seq = seq;
	if (!hash || str_copy(w->head_hash, sizeof(w->head_hash), hash) < 0)
		w->head_hash[0] = '\0';
}

/* Compares @computed, the hash of entry @id, with the anchors at @id.  Returns false after a break. */
static bool walk_anchors(struct audit_walk *w, int64_t id, const char *computed)
{
	while (w->next_anchor < w->nanchors && w->anchors[w->next_anchor].seq <= id) {
		const struct audit_anchor *a = &w->anchors[w->next_anchor++];

		if (a->seq < id)
			continue;   /* only below 1, which no entry has: nothing to compare */
		if (strcmp(a->hash, computed) != 0) {
			walk_break(w, w->proved_through + 1,
				   "entry %lld differs from %s: the chain was rewritten after entry %lld",
				   (long long)id, a->what, (long long)w->proved_through);
			return false;
		}
		w->proved_through = id;
		w->anchors_matched++;
	}
	return true;
}

void audit_walk_entry(struct audit_walk *w, int64_t id, const char *prev_hash, const char *hash,
		      const char *computed, const char *problem)
{
	w->entries++;
	if (w->broken)
		return;
	if (id != w->expect) {
		walk_break(w, id, "entry %lld is missing before %lld", (long long)w->expect, (long long)id);
		return;
	}
	if (w->has_head && id > w->head_seq) {
		walk_break(w, id, "entry %lld comes after the chain's head (%lld entries were written)",
			   (long long)id, (long long)w->head_seq);
		return;
	}
	if (problem) {
		walk_break(w, id, "entry %lld is not as it was written: %s", (long long)id, problem);
		return;
	}
	if (!prev_hash || strcmp(prev_hash, w->prev) != 0) {
		walk_break(w, id, "entry %lld does not follow its predecessor", (long long)id);
		return;
	}
	if (!computed || !hash || strcmp(hash, computed) != 0) {
		walk_break(w, id, "entry %lld was altered", (long long)id);
		return;
	}
	if (!walk_anchors(w, id, computed))
		return;
	if (w->has_head && id == w->head_seq && strcmp(w->head_hash, computed) != 0) {
		walk_break(w, id, "entry %lld, the last written, differs from the chain's head", (long long)id);
		return;
	}
	memcpy(w->prev, computed, sizeof(w->prev));
	w->expect++;
}

void audit_walk_finish(struct audit_walk *w)
{
	if (w->broken)
		return;
	if (w->has_head && w->expect - 1 < w->head_seq) {
		walk_break(w, w->expect, "the chain ends at %lld but %lld entries were written",
			   (long long)(w->expect - 1), (long long)w->head_seq);
		return;
	}
	while (w->next_anchor < w->nanchors && w->anchors[w->next_anchor].seq < 1)
		w->next_anchor++;
	if (w->next_anchor < w->nanchors) {
		const struct audit_anchor *a = &w->anchors[w->next_anchor];

		walk_break(w, w->expect, "the chain ends at %lld but %s covers %lld entries",
			   (long long)(w->expect - 1), a->what, (long long)a->seq);
	}
}
