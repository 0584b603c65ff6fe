/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* hr_map: the HR import's hash map from employee numbers, ids, logins and paths to indexes (hr_internal.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "identity/hr_internal.h"

void hr_map_done(struct hr_map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

long hr_map_get(const struct hr_map *m, const char *key)
{
	if (!m->cap || !key)
		return -1;
	for (size_t i = hash_str(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->keys[i])
			return -1;
		if (strcmp(m->keys[i], key) == 0)
			return m->vals[i];
	}
}

static void hr_map_slot_set(struct hr_map *m, const char *key, long val)
{
	size_t i = hash_str(key) & (m->cap - 1);

	while (m->keys[i])
		i = (i + 1) & (m->cap - 1);
	m->keys[i] = key;
	m->vals[i] = val;
}

int hr_map_reserve(struct hr_map *m, size_t want)
{
	struct hr_map g = { 0 };
	size_t cap = 16;

	while (cap < want * 2)
		cap <<= 1;
	if (cap <= m->cap)
		return 0;
	g.keys = calloc(cap, sizeof(*g.keys));
	g.vals = calloc(cap, sizeof(*g.vals));
	if (!g.keys || !g.vals) {
		hr_map_done(&g);
		return -ENOMEM;
	}
	g.cap = cap;
	g.n = m->n;
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i])
			hr_map_slot_set(&g, m->keys[i], m->vals[i]);
	hr_map_done(m);
	*m = g;
	return 0;
}

int hr_map_put(struct hr_map *m, const char *key, long val, long *ret_old)
{
	long old = hr_map_get(m, key);

	if (old >= 0) {
		if (ret_old)
			*ret_old = old;
		return 1;
	}
	if ((m->n + 1) * 2 > m->cap && hr_map_reserve(m, m->n + 1 > 8 ? (m->n + 1) * 2 : 16) < 0)
		return -ENOMEM;
	hr_map_slot_set(m, key, val);
	m->n++;
	return 0;
}
