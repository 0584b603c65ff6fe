/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * usbguard: USBGuard rules from the endpoint policy (see usbguard.h).
 */
#include "agent/usbguard.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fsio.h"
#include "agent/posture.h"
#include "common/log.h"

#define G_DAEMON "/usr/sbin/usbguard-daemon"

extern char **environ;

static bool g_is_hex4(const char *s)
{
	if (!s || strlen(s) != 4)
		return false;
	for (int i = 0; i < 4; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

/* Appends @s as a USBGuard string: quoted, with '"' and '\' escaped and other bytes outside ASCII as \xHH. */
static int g_quote(struct buf *out, const char *s)
{
	int r = buf_puts(out, "\"");

	for (; r == 0 && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			r = buf_printf(out, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			r = buf_printf(out, "\\x%02x", ch);
		else
			r = buf_append(out, s, 1);
	}
	return r ? r : buf_puts(out, "\"");
}

int usbguard_rules(const json_t *media, struct buf *out, size_t *ret_skipped)
{
	size_t i, skipped = 0;
	json_t *m;
	int r;

	r = buf_puts(out, "# Written by rampart-agent from the endpoint policy's removable_media; it is\n"
			  "# replaced at every policy change.  USBGuard applies the first rule that matches.\n");
	json_array_foreach((json_t *)media, i, m) {
		const char *v = json_string_value(json_object_get(m, "vendor"));
		const char *p = json_string_value(json_object_get(m, "product"));
		const char *s = json_string_value(json_object_get(m, "serial"));
		char id[16];

		if (r < 0)
			break;
		if (!g_is_hex4(v) || !g_is_hex4(p) || !s) {
			skipped++;
			continue;
		}
		snprintf(id, sizeof(id), "%s:%s", v, p);
		for (char *c = id; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'F' ? *c + 32 : *c);
		r = buf_printf(out, "allow id %s serial ", id);
		if (r == 0)
			r = g_quote(out, s);
		if (r == 0)
			r = buf_puts(out, "\n");
	}
	if (r == 0)
		r = buf_puts(out, "block with-interface one-of { 08:*:* }\nallow\n");
	if (r == 0 && ret_skipped)
		*ret_skipped = skipped;
	return r;
}

/* Runs @argv (a program path and its arguments) and returns its exit status, or -errno. */
static int g_run(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	int status = 0, r;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -r;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int usbguard_apply(const char *path, const char *text, int force)
{
	char *old = NULL;
	size_t old_len = 0, len = strlen(text);
	bool changed;
	int r = 0;

	if (access(G_DAEMON, X_OK) < 0)
		return -ENOENT;
	changed = posture_read_file(NULL, path, POSTURE_MAX_SMALL_FILE, &old, &old_len) < 0 || old_len != len ||
		  memcmp(old, text, len) != 0;
	free(old);
	if (changed) {
		r = fsio_replace(path, text, len, 0600);
		if (r < 0)
			return r;
		log_info("usbguard: rules written", "path=%s", path);
	}
	{
		char *active[] = { "systemctl", "is-active", "--quiet", "usbguard.service", NULL };
		char *restart[] = { "systemctl", "restart", "usbguard.service", NULL };

		if (g_run(active) != 0)
			return 0;   /* installed, not running: the agent reports */
		if (changed || force) {
			r = g_run(restart);
			if (r != 0) {
				log_error("usbguard: the daemon did not restart with the new rules", "status=%d", r);
				return r < 0 ? r : -EIO;
			}
			log_info("usbguard: the daemon enforces the new rules", NULL);
		}
	}
	return 1;
}
