/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cmd_enroll: `rampart-agent enroll --server URL --token T [--org UNIT]
 * [--owner LOGIN]`, which makes this PC a device of rampartd.
 *
 * It creates the device's Ed25519 key pair, sends the public key with the
 * enrollment token, the machine id and the host name (unsigned: the token
 * is the credential) to /api/v1/endpoint/enroll, and on 201 saves
 * device.key and device.json (the device id, the server URL, the server
 * policy key it pins and the org unit) in the state directory (state.c).
 *
 * Invariants: a PC with a device.json is never enrolled again (exit 1);
 * the secret key lives only in sodium_malloc memory and device.key (0600);
 * the token's copy in the request body is wiped once sent; nothing is
 * saved unless the server answered 201 with a device id and a valid key.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "common/fsio.h"
#include "agent/posture.h"
#include "common/err.h"
#include "common/str.h"

/*
 * Reads the machine id (trailing blanks cut) into a new *ret_machine_id and
 * the host name the posture report gives (/etc/hostname under the root,
 * else the kernel's) into @host.  Returns 0, or an error after reporting it.
 */
static int a_enroll_identity(const struct agent_opts *o, char **ret_machine_id, char *host, size_t host_size)
{
	char *machine_id = NULL, *name = NULL;
	size_t len;
	int r;

	r = posture_read_file(o->root, "/etc/machine-id", POSTURE_MAX_SMALL_FILE, &machine_id, &len);
	if (r < 0) {
		fprintf(stderr, "rampart-agent: cannot read /etc/machine-id: %s\n", err_str(r));
		return r;
	}
	while (len && (machine_id[len - 1] == '\n' || machine_id[len - 1] == ' '))
		machine_id[--len] = '\0';
	r = posture_read_file(o->root, "/etc/hostname", POSTURE_MAX_SMALL_FILE, &name, &len);
	if (r == 0) {
		name[strcspn(name, " \t\r\n")] = '\0';
		r = name[0] ? str_copy(host, host_size, name) : ERR_INVALID;
		free(name);
	}
	if (r < 0 && gethostname(host, host_size - 1) < 0)
		str_copy(host, host_size, "localhost");
	host[host_size - 1] = '\0';
	*ret_machine_id = machine_id;
	return 0;
}

/*
 * Sends the enrollment request for the public key @pk_b64.  Returns 0 with
 * the status and the answer, or an error after reporting it.
 */
static int a_enroll_send(const struct agent_opts *o, const char *machine_id, const char *host, const char *pk_b64,
			 long *ret_status, json_t **ret_ans)
{
	json_t *req;
	char *body;
	int r;

	req = json_pack("{s:s, s:s, s:s, s:s}", "token", o->token, "hostname", host, "machine_id", machine_id,
			"public_key", pk_b64);
	if (req && o->org)
		json_object_set_new(req, "org_unit", json_string(o->org));
	if (req && o->owner)
		json_object_set_new(req, "owner", json_string(o->owner));
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	if (req && body) {
		/* A token is sensitive: wipe our copy once it has been sent. */
		r = agent_post(o, o->server, "/api/v1/endpoint/enroll", body, NULL, NULL, ret_status, ret_ans);
		sodium_memzero(body, strlen(body));
	} else {
		r = -ENOMEM;
	}
	free(body);
	json_decref(req);
	return r;
}

/*
 * Saves device.key (@sk) and device.json from the server's answer @ans.
 * Returns 0 with the new device state in *ret_state, or an error after
 * reporting it.
 */
static int a_enroll_save(const struct agent_opts *o, const unsigned char *sk, const json_t *ans, json_t **ret_state)
{
	unsigned char spk_raw[DEVSIG_PK_BYTES];
	const char *did, *spk;
	char path[AGENT_PATH];
	json_t *state;
	int r;

	did = json_string_value(json_object_get(ans, "device_id"));
	spk = json_string_value(json_object_get(ans, "server_public_key"));
	if (!did || !spk || devsig_b64_decode(spk, spk_raw, sizeof(spk_raw)) < 0) {
		fputs("rampart-agent: the server's answer lacks the device id or its key\n", stderr);
		return ERR_INVALID;
	}
	r = agent_path(path, sizeof(path), o->state_dir, "device.key");
	if (r == 0)
		r = fsio_replace(path, sk, DEVSIG_SK_BYTES, 0600);
	state = json_pack("{s:s, s:s, s:s, s:O?}", "device_id", did, "server", o->server,
			  "server_public_key", spk, "org_unit", json_object_get(ans, "org_unit"));
	if (r == 0)
		r = state ? agent_write_json(o->state_dir, "device.json", state) : -ENOMEM;
	if (r < 0) {
		fprintf(stderr, "rampart-agent: cannot save the device state in %s: %s\n", o->state_dir, err_str(r));
		json_decref(state);
		return r;
	}
	*ret_state = state;
	return 0;
}

int agent_cmd_enroll(const struct agent_opts *o)
{
	unsigned char pk[DEVSIG_PK_BYTES], *sk = NULL;
	char pk_b64[DEVSIG_PK_B64_SIZE], path[AGENT_PATH], *machine_id = NULL, host[256];
	json_t *ans = NULL, *state = NULL;
	struct stat st;
	long status = 0;
	int r;

	if (!o->server || !o->token) {
		fputs("rampart-agent: enroll needs --server and --token\n", stderr);
		return 2;
	}
	if (mkdir(o->state_dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "rampart-agent: cannot create %s: %s\n", o->state_dir, strerror(errno));
		return 1;
	}
	if (agent_path(path, sizeof(path), o->state_dir, "device.json") < 0 || stat(path, &st) == 0) {
		fprintf(stderr, "rampart-agent: %s exists: this PC is already enrolled\n", path);
		return 1;
	}
	if (a_enroll_identity(o, &machine_id, host, sizeof(host)) < 0)
		return 1;
	sk = sodium_malloc(DEVSIG_SK_BYTES);
	if (!sk) {
		free(machine_id);
		return 1;
	}
	crypto_sign_keypair(pk, sk);
	devsig_b64_encode(pk, sizeof(pk), pk_b64, sizeof(pk_b64));
	r = a_enroll_send(o, machine_id, host, pk_b64, &status, &ans);
	free(machine_id);
	if (r < 0)
		goto out;
	if (status != 201) {
		agent_print_error(status, ans);
		r = -EACCES;
		goto out;
	}
	r = a_enroll_save(o, sk, ans, &state);
	if (r < 0)
		goto out;
	if (o->json) {
		char *t = json_dumps(state, JSON_INDENT(2) | JSON_SORT_KEYS);

		if (t)
			puts(t);
		free(t);
	} else {
		printf("enrolled as device %s\n", json_string_value(json_object_get(state, "device_id")));
	}
out:
	sodium_free(sk);
	json_decref(ans);
	json_decref(state);
	return r < 0 ? 1 : 0;
}
