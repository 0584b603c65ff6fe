/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * creds: the saved login, $XDG_CONFIG_HOME/rampart/login.json (else
 * ~/.config/rampart/login.json), holding {"server","token","login"} and,
 * when login was given --ca, {"ca"}: the CA file to trust for that server.
 *
 * The directory is kept at mode 0700 and the file at 0600; the file is
 * replaced atomically (temporary file, fsync, rename, fsync of the
 * directory) so that a crash leaves the old login or the new one, never a
 * mix.  A file that others could read, or that belongs to someone else, is
 * refused rather than used.
 */
#ifndef RAMPART_CLI_CREDS_H
#define RAMPART_CLI_CREDS_H

#include <stddef.h>

#define CREDS_PATH_MAX 4096

struct creds {
	char server[512];
	char login[256];
	char ca_file[CREDS_PATH_MAX]; /* absolute path of the --ca given at login, or "" */
	char *token;        /* owned; wiped by creds_done */
};

/*
 * Writes the directory holding the saved login into @buf.  Returns 0,
 * -ENOENT when no home directory is known, or -ENAMETOOLONG.
 */
int creds_dir(char *buf, size_t size);

/* Writes the saved login file's path into @buf.  Returns as creds_dir. */
int creds_path(char *buf, size_t size);

/*
 * Loads the saved login into @c (zeroed first).  Returns 0; -ENOENT when
 * there is none; -EPERM when the file is readable by others or owned by
 * someone else; -EINVAL when it is not a valid login file; -ENOMEM or
 * another -errno.  @why (may be NULL) receives a sentence about a failure.
 */
int creds_load(struct creds *c, char *why, size_t why_size);

/*
 * Saves @c atomically with mode 0600, creating the directory with mode 0700.
 * Returns 0 or -errno (@why receives a sentence naming the path).
 */
int creds_save(const struct creds *c, char *why, size_t why_size);

/* Deletes the saved login.  Returns 0 (also when there was none) or -errno. */
int creds_remove(void);

/* Wipes and frees what @c holds. */
void creds_done(struct creds *c);

#endif
