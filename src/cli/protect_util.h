/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * protect_util: what "rampart protect", "rampart open" and "rampart files"
 * share: turning a grantee given on the command line into the API's form,
 * and a file argument (an id or a .rpf file) into a file id.
 */
#ifndef RAMPART_CLI_PROTECT_UTIL_H
#define RAMPART_CLI_PROTECT_UTIL_H

#include <stddef.h>

#include "cli/cli.h"

#define PROTECT_GRANTEE_MAX 600

/*
 * "user:PERSON" (an id, login, employee number or email: looked up),
 * "group:NAME", "org:PATH" or "role:ROLE" into @out.  Returns 0 or an exit
 * code after printing why.
 */
int protect_grantee_resolve(struct cli *cli, const char *cmd, const char *in, char *out, size_t size);

/*
 * A file id from @arg: a file id, or the path of a protected file whose
 * header names it.  Returns 0 or an exit code after printing why.
 */
int protect_file_id(const char *cmd, const char *arg, char out[27]);

#endif
