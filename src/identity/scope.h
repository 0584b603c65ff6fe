/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * scope: the one org-scope rule of Rampart, as a C predicate and as SQL.
 *
 * The org tree is a set of paths "Group/Company/Division/Department".  A
 * path lies within a subtree when it is the subtree's root or starts with
 * the root followed by '/': "A/B" is within "A", "A/BC" is not within
 * "A/B".  Nothing else (no LIKE, no prefix without the separator) decides
 * whether a row is in someone's subtree, so '%', '_' and '\' in names are
 * plain characters.
 *
 * What a principal may see of rows that belong to a person at an org path:
 *   admin, security_officer, auditor   every row;
 *   everyone else                      the rows the caller's rules name:
 *     SCOPE_SELF      rows whose person is the principal;
 *     SCOPE_SUBTREE   rows within the subtree a security_manager manages
 *                     (principal.manages_path);
 *     SCOPE_REPORTS   rows of people who report to the principal, directly
 *                     or not (only for a principal holding manager);
 *     SCOPE_ABOVE     org units on the principal's own path: their own unit
 *                     and every unit above it.
 * The C predicate (scope_may_see) and the SQL builder (scope_sql_where)
 * state the same rule; the unit tests run both on one table.
 *
 * SQL produced here is the portable dialect of store.h: "$n" parameters,
 * substr/length/||, WITH RECURSIVE.  Values are always bound, never pasted;
 * the column names given to the builders are SQL written by the caller
 * (never input).
 */
#ifndef RAMPART_SCOPE_H
#define RAMPART_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "http/principal.h"

struct buf;
struct store_arg;

enum scope_rule {
	SCOPE_SELF = 1u << 0,
	SCOPE_SUBTREE = 1u << 1,
	SCOPE_REPORTS = 1u << 2,
	SCOPE_ABOVE = 1u << 3,
};

/* Longest manager chain followed for "reports to" (a loop in the data ends there). */
#define SCOPE_CHAIN_MAX 64

/*
 * The subtree condition over two SQL expressions, as a string literal: true
 * when @path is @root or lies below it.  For SQL written at compile time
 * ("o.path", "$1"); scope_sql_within binds a value instead.  Both operands
 * are evaluated more than once: use columns or parameters.
 */
#define SCOPE_SQL_WITHIN(path, root) \
	"(" path " = " root " OR substr(" path ", 1, length(" root ") + 1) = " root " || '/')"

/* True if @path is @root or lies below it; false when either is NULL or @root is "". */
bool scope_path_within(const char *path, const char *root);

/* True if @p sees every row whatever its path (admin, security_officer, auditor). */
bool scope_sees_all(const struct principal *p);

/*
 * The row facts the predicate needs: the row's person (may be NULL), its
 * org path (may be NULL or "" outside the tree), and whether that person
 * reports to the principal (the caller looks it up with
 * people_reports_to when the rules include SCOPE_REPORTS).
 */
struct scope_row {
	const char *person_id;
	const char *org_path;
	bool reports_to_principal;
};

/*
 * Whether @p may see @row under @rules (enum scope_rule bits).  An
 * unauthenticated principal sees nothing.  Pure: no I/O.
 */
bool scope_may_see(const struct principal *p, unsigned rules, const struct scope_row *row);

/*
 * The SQL side of the same rule.  Each builder appends to @sql and binds
 * what it needs as the next parameters of @args (@nargs in use, room for
 * @cap), numbering them $(*nargs + 1)...
 * Returns 0, ERR_TOO_LARGE when @args has no room (nothing is bound then),
 * or -ENOMEM when @sql cannot grow; @sql may hold part of the fragment
 * after an error, so the caller drops the query.
 */

/*
 * Appends " AND (...)" limiting rows to what @p may see under @rules, or
 * nothing when @p sees everything.  @path_col is the SQL of the row's org
 * path (NULL when the rows have none: SCOPE_SUBTREE and SCOPE_ABOVE then
 * match nothing); @person_col the SQL of the row's person id (NULL when
 * the rows have none: SCOPE_SELF and SCOPE_REPORTS then match nothing).
 * A principal with no rule that can match gets " AND (1 = 0)".  Binds at
 * most 3 parameters.  The reports are found by a recursive subquery on
 * people.manager_id (UNION: a loop in the data ends).
 */
int scope_sql_where(struct buf *sql, struct store_arg *args, size_t *nargs, size_t cap,
		    const struct principal *p, unsigned rules, const char *path_col,
		    const char *person_col);

/*
 * Appends the condition "@path_col lies within the subtree @root" (no
 * leading AND), binding @root once.  Binds 1 parameter.
 */
int scope_sql_within(struct buf *sql, struct store_arg *args, size_t *nargs, size_t cap,
		     const char *path_col, const char *root);

#endif
