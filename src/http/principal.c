/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* principal: role names and org-path containment. */
#include "http/principal.h"

#include <string.h>

static const char *const role_names[ROLE_COUNT] = {
	"admin", "security_officer", "security_manager", "manager",
	"auditor", "employee", "partner_staff",
};

const char *role_name(unsigned role)
{
	for (unsigned i = 0; i < ROLE_COUNT; i++)
		if (role == (1u << i))
			return role_names[i];
	return NULL;
}

unsigned role_from_name(const char *name)
{
	for (unsigned i = 0; i < ROLE_COUNT; i++)
		if (name && strcmp(name, role_names[i]) == 0)
			return 1u << i;
	return 0;
}
