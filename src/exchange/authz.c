/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * exchange/authz: exchange_may, the one authorization decision of the
 * exchange site (the table is in exchange.h).  Pure: it reads only the
 * principal and the target, so it is tested without HTTP or a database.
 * Who may decide on a held transfer needs the directory and is asked in
 * approval.c (xappr_is_approver).
 */
#include "exchange/exchange.h"

#include <string.h>

#include "identity/scope.h"

bool exchange_may(const struct principal *p, enum exchange_action a, const struct exchange_target *t)
{
	if (!principal_is_authenticated(p) || p->via == VIA_SCIM_TOKEN)
		return false;
	switch (a) {
	case EXCHANGE_CREATE:
		return true;
	case EXCHANGE_SWEEP:
	case EXCHANGE_CONFIGURE:
		return principal_has(p, ROLE_ADMIN);
	case EXCHANGE_READ_SETTINGS:
		return principal_has(p, ROLE_ADMIN | ROLE_SECURITY_OFFICER | ROLE_AUDITOR);
	case EXCHANGE_READ:
	case EXCHANGE_REVOKE:
		if (!t)
			return false;
		if (strcmp(p->person_id, t->owner_id) == 0)
			return true;
		if (principal_has(p, ROLE_ADMIN | ROLE_SECURITY_OFFICER))
			return true;
		if (a == EXCHANGE_READ && principal_has(p, ROLE_AUDITOR))
			return true;
		if (principal_has(p, ROLE_SECURITY_MANAGER) && p->manages_path[0] &&
		    scope_path_within(t->owner_org_path, p->manages_path))
			return true;
		return false;
	}
	return false;
}
