/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* people_group: groups of people and their members (see people.h). */
#include "identity/people.h"

#include <string.h>

#include "common/err.h"
#include "identity/people_internal.h"
#include "store/store.h"

int people_group_create(struct people_writer *w, const char *id, const char *name, const char *external_id)
{
	int r = store_exec(w->c, "INSERT INTO groups (id, name, external_id, created_at, updated_at) "
				 "VALUES ($1, $2, $3, $4, $4)",
			   STORE_ARGS(SA_TEXT(id), SA_TEXT(name), SA_TEXT(people_opt(external_id)),
				      SA_I64(w->now)));

	return r < 0 ? r : 0;
}

int people_group_update(struct people_writer *w, const char *id, const char *name, const char *external_id)
{
	int r = store_exec(w->c, "UPDATE groups SET name = $2, external_id = $3, updated_at = $4 WHERE id = $1",
			   STORE_ARGS(SA_TEXT(id), SA_TEXT(name), SA_TEXT(people_opt(external_id)),
				      SA_I64(w->now)));

	return r < 0 ? r : 0;
}

int people_group_delete(struct people_writer *w, const char *id)
{
	int r = store_exec(w->c, "DELETE FROM group_members WHERE group_id = $1", STORE_ARGS(SA_TEXT(id)));

	if (r >= 0)
		r = store_exec(w->c, "DELETE FROM groups WHERE id = $1", STORE_ARGS(SA_TEXT(id)));
	return r < 0 ? r : 0;
}

int people_group_member_add(struct people_writer *w, const char *group_id, const char *person_id)
{
	int64_t n;
	int r = store_exec(w->c, "INSERT INTO group_members (group_id, person_id) SELECT $1, id FROM people "
				 "WHERE id = $2 ON CONFLICT (group_id, person_id) DO NOTHING",
			   STORE_ARGS(SA_TEXT(group_id), SA_TEXT(person_id)));

	if (r != 0)
		return r;
	/* Nothing inserted: already a member, or no such person. */
	r = store_query_i64(w->c, "SELECT count(*) FROM people WHERE id = $1", STORE_ARGS(SA_TEXT(person_id)), &n);
	if (r < 0)
		return r;
	return n == 0 ? ERR_NOT_FOUND : 0;
}

int people_group_member_remove(struct people_writer *w, const char *group_id, const char *person_id)
{
	if (person_id)
		return store_exec(w->c, "DELETE FROM group_members WHERE group_id = $1 AND person_id = $2",
				  STORE_ARGS(SA_TEXT(group_id), SA_TEXT(person_id)));
	return store_exec(w->c, "DELETE FROM group_members WHERE group_id = $1", STORE_ARGS(SA_TEXT(group_id)));
}

int people_group_exists(struct store_conn *c, const char *name, bool *ret)
{
	return people_any(c, "SELECT count(*) FROM groups WHERE name = $1", STORE_ARGS(SA_TEXT(name)), ret);
}

int people_group_names(struct store_conn *c, const char *person_id,
		       int (*fn)(const char *name, void *ud), void *ud)
{
	return people_each_text(c, "SELECT g.name FROM group_members m JOIN groups g ON g.id = m.group_id "
				   "WHERE m.person_id = $1", STORE_ARGS(SA_TEXT(person_id)), fn, ud);
}
