/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* scope: the org-scope rule as a predicate and as bound SQL (see scope.h). */
#include "identity/scope.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "store/store.h"

bool scope_path_within(const char *path, const char *root)
{
	size_t n;

	if (!path || !root || !*root)
		return false;
	n = strlen(root);
	if (strncmp(path, root, n) != 0)
		return false;
	return path[n] == '\0' || path[n] == '/';
}

bool scope_sees_all(const struct principal *p)
{
	return principal_has(p, ROLE_ADMIN | ROLE_SECURITY_OFFICER | ROLE_AUDITOR);
}

/* The rules that can match anything for @p. */
static unsigned scope_effective(const struct principal *p, unsigned rules)
{
	if (!principal_has(p, ROLE_MANAGER))
		rules &= ~(unsigned)SCOPE_REPORTS;
	if (!principal_has(p, ROLE_SECURITY_MANAGER) || !p->manages_path[0])
		rules &= ~(unsigned)SCOPE_SUBTREE;
	return rules;
}

bool scope_may_see(const struct principal *p, unsigned rules, const struct scope_row *row)
{
	if (!principal_is_authenticated(p) || !row)
		return false;
	if (scope_sees_all(p))
		return true;
	rules = scope_effective(p, rules);
	if ((rules & SCOPE_SELF) && row->person_id && strcmp(row->person_id, p->person_id) == 0)
		return true;
	if ((rules & SCOPE_REPORTS) && row->person_id && row->reports_to_principal)
		return true;
	if ((rules & SCOPE_SUBTREE) && scope_path_within(row->org_path, p->manages_path))
		return true;
	/* The unit is the principal's own or one above it: the principal's path lies within it. */
	return (rules & SCOPE_ABOVE) && row->org_path && *row->org_path &&
	       scope_path_within(p->org_path, row->org_path);
}

/* Binds @v as the next parameter; returns its number, or ERR_TOO_LARGE. */
static int scope_bind(struct store_arg *args, size_t *nargs, size_t cap, struct store_arg v)
{
	if (*nargs >= cap)
		return ERR_TOO_LARGE;
	args[(*nargs)++] = v;
	return (int)*nargs;
}

int scope_sql_within(struct buf *sql, struct store_arg *args, size_t *nargs, size_t cap,
		     const char *path_col, const char *root)
{
	int n = scope_bind(args, nargs, cap, SA_TEXT(root));
	char ph[16];

	if (n < 0)
		return n;
	snprintf(ph, sizeof(ph), "$%d", n);
	return buf_printf(sql, SCOPE_SQL_WITHIN("%1$s", "%2$s"), path_col, ph) < 0 ? -ENOMEM : 0;
}

int scope_sql_where(struct buf *sql, struct store_arg *args, size_t *nargs, size_t cap,
		    const struct principal *p, unsigned rules, const char *path_col,
		    const char *person_col)
{
	const char *sep = "";
	size_t start = *nargs;
	int n, r = 0;

	if (scope_sees_all(p))
		return 0;
	rules = scope_effective(p, rules);
	if (!person_col)
		rules &= ~(unsigned)(SCOPE_SELF | SCOPE_REPORTS);
	if (!path_col)
		rules &= ~(unsigned)(SCOPE_SUBTREE | SCOPE_ABOVE);
	if (cap - *nargs < (size_t)((rules & SCOPE_SELF ? 1 : 0) + (rules & SCOPE_REPORTS ? 1 : 0) +
				    (rules & SCOPE_SUBTREE ? 1 : 0) + (rules & SCOPE_ABOVE ? 1 : 0)))
		return ERR_TOO_LARGE;
	if (!rules)
		return buf_puts(sql, " AND (1 = 0)") < 0 ? -ENOMEM : 0;
	r = buf_puts(sql, " AND (");
	if (r >= 0 && (rules & SCOPE_SELF)) {
		n = scope_bind(args, nargs, cap, SA_TEXT(p->person_id));
		r = buf_printf(sql, "%s = $%d", person_col, n);
		sep = " OR ";
	}
	if (r >= 0 && (rules & SCOPE_REPORTS)) {
		n = scope_bind(args, nargs, cap, SA_TEXT(p->person_id));
		r = buf_printf(sql, "%s%s IN (WITH RECURSIVE reports(id) AS (SELECT id FROM people "
				    "WHERE manager_id = $%d UNION SELECT x.id FROM people x JOIN reports r "
				    "ON x.manager_id = r.id) SELECT id FROM reports)", sep, person_col, n);
		sep = " OR ";
	}
	if (r >= 0 && (rules & SCOPE_SUBTREE)) {
		r = buf_puts(sql, sep);
		if (r >= 0)
			r = scope_sql_within(sql, args, nargs, cap, path_col, p->manages_path);
		sep = " OR ";
	}
	if (r >= 0 && (rules & SCOPE_ABOVE)) {
		char ph[16];

		/* The principal's own path lies within the row's unit. */
		n = scope_bind(args, nargs, cap, SA_TEXT(p->org_path));
		snprintf(ph, sizeof(ph), "$%d", n);
		r = buf_puts(sql, sep);
		if (r >= 0)
			r = buf_printf(sql, SCOPE_SQL_WITHIN("%1$s", "%2$s"), ph, path_col);
	}
	if (r >= 0)
		r = buf_puts(sql, ")");
	if (r < 0) {
		*nargs = start;
		return r == ERR_TOO_LARGE ? r : -ENOMEM;
	}
	return 0;
}
