/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * state: rampart-agent's state directory (--state-dir, default
 * /var/lib/rampart-agent, mode 0700) and how its files are read and written.
 *
 *   device.key       Ed25519 secret key, 64 bytes, mode 0600 (cmd_enroll.c)
 *   device.json      device id, server URL, pinned server policy key, org unit
 *   packages.json    the package list last acknowledged by the server, so that
 *                    later check-ins send only the changes (checkin.c)
 *   policy.json      the last good signed policy, {document, signature} (policy.c)
 *   quarantine.json  the last signed quarantine order applied (quarantine.c)
 *   events/          the operation-log buffer (oplog.h)
 *   wtmp.json, usb.json  what the collectors last read (collect.h)
 *
 * Invariants: every file is replaced atomically (temporary file, fsync,
 * rename) with mode 0600, so that a crash leaves the old or the new
 * version and never half of one; every file is read with a size limit; the
 * device key is copied only into memory the caller gives (sodium_malloc)
 * and its other copies are wiped.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "common/fsio.h"
#include "agent/posture.h"
#include "common/err.h"

int agent_path(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int agent_write_json(const char *dir, const char *name, const json_t *v)
{
	char path[AGENT_PATH], *text;
	int r;

	r = agent_path(path, sizeof(path), dir, name);
	if (r < 0)
		return r;
	text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return -ENOMEM;
	r = fsio_replace(path, text, strlen(text), 0600);
	free(text);
	return r;
}

int agent_read_json(const char *dir, const char *name, json_t **ret)
{
	char path[AGENT_PATH], *data;
	json_error_t je;
	size_t len;
	json_t *v;
	int r;

	r = agent_path(path, sizeof(path), dir, name);
	if (r == 0)
		r = posture_read_file(NULL, path, POSTURE_MAX_FILE, &data, &len);
	if (r < 0)
		return r;
	v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	free(data);
	if (!v)
		return ERR_INVALID;
	*ret = v;
	return 0;
}

int agent_signed_load(const char *dir, const char *name, const char *what, agent_verify_fn verify, const void *ud,
		      json_t **ret)
{
	struct rerr e = { "" };
	json_t *signed_doc = NULL;
	int r;

	r = agent_read_json(dir, name, &signed_doc);
	if (r == -ENOENT)
		return r;
	if (r == 0)
		r = verify(signed_doc, ud, ret, &e);
	json_decref(signed_doc);
	if (r < 0)
		fprintf(stderr, "rampart-agent: the stored %s in %s/%s is refused: %s\n", what, dir, name,
			rerr_text(&e, r));
	return r;
}

int agent_pinned_key(const json_t *state, unsigned char pk[DEVSIG_PK_BYTES])
{
	const char *b64 = json_string_value(json_object_get(state, "server_public_key"));

	return b64 ? devsig_b64_decode(b64, pk, DEVSIG_PK_BYTES) : ERR_INVALID;
}

int agent_device_key_load(const char *state_dir, unsigned char *sk)
{
	char path[AGENT_PATH], *key = NULL;
	size_t len = 0;
	int r;

	r = agent_path(path, sizeof(path), state_dir, "device.key");
	if (r == 0)
		r = posture_read_file(NULL, path, DEVSIG_SK_BYTES + 1, &key, &len);
	if (r == 0 && len != DEVSIG_SK_BYTES)
		r = ERR_INVALID;
	if (r == 0)
		memcpy(sk, key, DEVSIG_SK_BYTES);
	if (key) {
		sodium_memzero(key, len);
		free(key);
	}
	return r;
}

int agent_device_load(const struct agent_opts *o, json_t **ret_state, unsigned char *sk)
{
	json_t *state = NULL;
	int r;

	r = agent_read_json(o->state_dir, "device.json", &state);
	if (r == 0 && !json_string_value(json_object_get(state, "device_id")))
		r = ERR_INVALID;
	if (r == 0)
		r = agent_device_key_load(o->state_dir, sk);
	if (r < 0) {
		json_decref(state);
		return r;
	}
	*ret_state = state;
	return 0;
}

int agent_print_json(const json_t *v)
{
	char *t = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (!t)
		return -ENOMEM;
	puts(t);
	free(t);
	return 0;
}
