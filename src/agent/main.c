/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * rampart-agent: the endpoint agent.
 *
 *   rampart-agent enroll --server URL --token T [--org UNIT] [--owner LOGIN]
 *   rampart-agent posture [--json] [--root DIR]
 *   rampart-agent checkin [--root DIR] [--json]
 *   rampart-agent run [--interval D] [--count N] [--root DIR]
 *   rampart-agent status [--json]
 *   rampart-agent events [--json]
 * common: [--state-dir DIR] (default /var/lib/rampart-agent) [--ca FILE]
 *         [--no-enforce]
 *
 * State directory: device.key (Ed25519 secret key, 64 bytes, mode 0600),
 * device.json (device id, server URL, pinned server policy key, org unit)
 * packages.json (the package list last acknowledged by the server, so
 * that later check-ins send only the changes) and policy.json (the last
 * good signed policy, {document, signature}) and quarantine.json (the last
 * signed quarantine order applied, {document, signature}), events/ (the
 * operation-log buffer, oplog.h), wtmp.json and usb.json (what the
 * collectors last read, collect.h).
 *
 * Policy: a policy is applied only when its signature checks against the
 * server key pinned at enrollment (policy.h) and it is not older than the
 * one applied (a lower version for the same unit); anything else is
 * reported on stderr and ignored, keeping the last good one.  The stored
 * policy is verified again whenever it is loaded.  Its version is reported
 * in each check-in, and `run` checks in at its checkin_interval unless
 * --interval is given.
 *
 * Quarantine: every check-in answer carries a signed quarantine order
 * (qorder.h).  It is applied only when it verifies against the pinned key,
 * names this device and is not older than the order applied last; then
 * quarantined=true installs the nftables quarantine table (firewall.h) and
 * false removes it.  Refused orders are reported on stderr and change
 * nothing.  `run` re-installs the table from quarantine.json when it
 * starts, and every check-in refreshes it while quarantined (the server's
 * addresses may have changed).  --no-enforce records and reports orders
 * without touching nftables, for PCs whose network equipment enforces the
 * quarantine (rampartd's published list) and for tests.
 *
 * Operation logs: `run` collects events (collect.h) into the disk buffer
 * and POSTs them in batches of at most 1000 events and 1 MiB to
 * /api/v1/endpoint/events, signed like the check-in; the buffer drops only
 * what the answer's accepted_through covers, so an unreachable server or a
 * crash loses nothing acknowledged.  The policy's removable_media become
 * USBGuard rules (usbguard.h).
 *
 * Memory: libcurl is loaded with dlopen() where a command first needs the
 * network (net.h).  `run` does each check-in, the quarantine restore at its
 * start and each POST of events in a forked child that loads it, does the
 * exchange and exits, so that the long-running process never maps libcurl
 * and its ~35 libraries, nor keeps the check-in's package list.  The
 * children change only files and the nftables table; an events child hands
 * back the status and answer through a pipe, and the parent alone drops
 * what accepted_through covers from the buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <jansson.h>
#include <malloc.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/collect.h"
#include "agent/firewall.h"
#include "agent/net.h"
#include "agent/oplog.h"
#include "agent/posture.h"
#include "agent/usbguard.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/rtime.h"
#include "common/str.h"
#include "formats/devsig.h"
#include "formats/policy.h"
#include "formats/qorder.h"

#define A_PATH 4096
#define A_MAX_RESPONSE ((size_t)1 << 20)
#define A_DEFAULT_STATE "/var/lib/rampart-agent"
#define A_DEFAULT_INTERVAL_MS (5 * 60 * 1000)
#define A_MIN_INTERVAL_MS 1000
#define A_TICK_MS 2000                        /* collectors without a socket: USB, wtmp, mounts, /proc scan */
#define A_FLUSH_MS 1000                       /* events from sockets reach the disk buffer within this */
#define A_FLUSH_EVENTS 256                    /* ... or once this many are waiting: one fsync per group */
#define A_DEFAULT_EVENTS_INTERVAL_MS 10000    /* buffered events are sent this often */
#define A_MIN_BACKOFF_MS 1000
#define A_MAX_BACKOFF_MS (5 * 60 * 1000)
#define A_EVENTS_BATCH 1000                   /* the server takes at most 1000 events ... */
#define A_EVENTS_BYTES ((size_t)1000 << 10)   /* ... and 1 MiB per batch, with room for the envelope */

struct opts {
	const char *server, *token, *org, *owner, *state_dir, *root, *ca;
	int64_t interval_ms;
	bool interval_set;   /* --interval given: it wins over the policy's */
	int64_t count;   /* run: check-ins before exiting; 0 runs until a signal */
	bool json;
	bool no_enforce;   /* record quarantine orders without changing nftables */
	uint64_t buffer_max;          /* --buffer-max: bound of the event buffer (0: default) */
	int64_t events_interval_ms;   /* --events-interval */
	const char *usbguard_rules;   /* --usbguard-rules: the rules file USBGuard reads */
};

static void usage(FILE *f)
{
	fputs("usage: rampart-agent enroll --server URL --token TOKEN [--org UNIT] [--owner LOGIN]\n"
	      "       rampart-agent posture [--json] [--root DIR]\n"
	      "       rampart-agent checkin [--root DIR] [--json]\n"
	      "       rampart-agent run [--interval D (default: the policy's, else 5m)] [--count N] [--root DIR]\n"
	      "                 [--events-interval D (default 10s)] [--buffer-max MIB (default 16)]\n"
	      "                 [--usbguard-rules FILE (default " USBGUARD_DEFAULT_RULES " with --root /;\n"
	      "                  \"\" for none)]\n"
	      "       rampart-agent status [--json]   (enrollment, policy version, quarantine and its table)\n"
	      "       rampart-agent events [--json]   (the operation-log events buffered, as they would be sent)\n"
	      "options: --state-dir DIR (default " A_DEFAULT_STATE "), --ca FILE (TLS trust),\n"
	      "         --no-enforce (record quarantine orders without installing the nftables table)\n"
	      "A quarantine order from the server installs the nftables table inet " FIREWALL_TABLE ",\n"
	      "which lets the PC reach only the server and its DNS resolvers; it needs root (CAP_NET_ADMIN).\n"
	      "run records process executions, logins and logouts (wtmp), USB inserts, blocks and removals,\n"
	      "and files written to removable USB storage, in a disk buffer (STATE_DIR/events, bounded by\n"
	      "--buffer-max, the oldest events dropped when full) sent to the server in signed batches.\n"
	      "With USBGuard installed the policy's removable media become its rules (other USB storage\n"
	      "blocked); without it USB storage that is not designated is only reported.  --root applies to\n"
	      "the posture, wtmp and USB devices; executions and files are always the running system's.\n", f);
}

static int a_path(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Writes @len bytes to @path atomically (temporary file, fsync, rename) with @mode. */
static int a_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[A_PATH];
	const char *p = data;
	int fd, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

static int a_write_json(const char *dir, const char *name, const json_t *v)
{
	char path[A_PATH], *text;
	int r;

	r = a_path(path, sizeof(path), dir, name);
	if (r < 0)
		return r;
	text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return -ENOMEM;
	r = a_write_file(path, text, strlen(text), 0600);
	free(text);
	return r;
}

static int a_read_json(const char *dir, const char *name, json_t **ret)
{
	char path[A_PATH], *data;
	json_error_t je;
	size_t len;
	json_t *v;
	int r;

	r = a_path(path, sizeof(path), dir, name);
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

/* ---------------------------------------------------------------- HTTP */

/*
 * POSTs @body to @server + @path, signed with @sk as @device_id when @sk is
 * given, through libcurl (net.h).  Returns 0 with the status and the
 * answer's body in @resp (bounded by its limit), or a negative error after
 * reporting it when the server could not be reached or libcurl is missing.
 */
static int a_exchange(const struct opts *o, const char *server, const char *path, const char *body,
		      const char *device_id, const unsigned char *sk, long *ret_status, struct buf *resp)
{
	char url[A_PATH], h_dev[128], h_ts[64], h_sig[128], sig[DEVSIG_SIG_B64_SIZE], err[512] = "";
	const char *hdrs[] = { "Content-Type: application/json", h_dev, h_ts, h_sig };
	struct net_post p = { .url = url, .headers = hdrs, .n_headers = 1, .body = body, .body_len = strlen(body),
			      .ca = o->ca, .user_agent = "rampart-agent/" RAMPART_VERSION, .connect_timeout_s = 30,
			      .timeout_s = 300 };
	int64_t ts = rtime_now_ms();
	int r = 0;

	if (snprintf(url, sizeof(url), "%s%s", server, path) >= (int)sizeof(url))
		return -ENAMETOOLONG;
	if (sk) {
		r = devsig_sign(sk, "POST", path, ts, body, strlen(body), sig);
		if (r == 0 && (snprintf(h_dev, sizeof(h_dev), "%s: %s", DEVSIG_HDR_DEVICE, device_id) >= (int)sizeof(h_dev) ||
			       snprintf(h_ts, sizeof(h_ts), "%s: %lld", DEVSIG_HDR_TIMESTAMP, (long long)ts) >= (int)sizeof(h_ts) ||
			       snprintf(h_sig, sizeof(h_sig), "%s: %s", DEVSIG_HDR_SIGNATURE, sig) >= (int)sizeof(h_sig)))
			r = ERR_INVALID;
		if (r < 0)
			return r;
		p.n_headers = 4;
	}
	r = net_post(&p, ret_status, resp, err, sizeof(err));
	if (r == -ENOENT)
		fprintf(stderr, "rampart-agent: %s\n", err);
	else if (r < 0)
		fprintf(stderr, "rampart-agent: %s: %s\n", url, err[0] ? err : err_str(r));
	return r;
}

/*
 * a_exchange, with the answer parsed: 0 with the status and the JSON answer
 * (NULL when none), or a negative error when the server could not be reached.
 */
static int a_post(const struct opts *o, const char *server, const char *path, const char *body,
		  const char *device_id, const unsigned char *sk, long *ret_status, json_t **ret_json)
{
	struct buf resp;
	int r;

	buf_init(&resp, A_MAX_RESPONSE);
	r = a_exchange(o, server, path, body, device_id, sk, ret_status, &resp);
	if (r == 0)
		*ret_json = resp.len ? json_loadb(resp.data, resp.len, 0, NULL) : NULL;
	buf_done(&resp);
	return r;
}

static int a_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * a_post in a child process, for `run`: libcurl and the libraries it loads
 * stay out of the long-running process.  The child has the body and the
 * key by fork() and sends back through a pipe its result and the status
 * (two int64) and the answer's body; the parent parses the answer.  Returns
 * what a_post returns, or -EIO when the child failed.
 */
static int a_post_child(const struct opts *o, const char *server, const char *path, const char *body,
			const char *device_id, const unsigned char *sk, long *ret_status, json_t **ret_json)
{
	int64_t hdr[2] = { 0, 0 };
	char chunk[4096];
	struct buf resp;
	int fds[2], status = 0, r = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		fprintf(stderr, "rampart-agent: cannot start the process that sends to the server: %s\n", err_str(r));
		close(fds[0]);
		close(fds[1]);
		return r;
	}
	if (pid == 0) {
		long st = 0;

		close(fds[0]);
		buf_init(&resp, A_MAX_RESPONSE);
		hdr[0] = a_exchange(o, server, path, body, device_id, sk, &st, &resp);
		hdr[1] = st;
		r = a_write_all(fds[1], hdr, sizeof(hdr));
		if (r == 0 && hdr[0] == 0 && resp.len)
			r = a_write_all(fds[1], resp.data, resp.len);
		_exit(r < 0 ? 1 : 0);
	}
	close(fds[1]);
	buf_init(&resp, A_MAX_RESPONSE + sizeof(hdr));
	while (r == 0 && (n = read(fds[0], chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		r = n < 0 ? -errno : buf_append(&resp, chunk, (size_t)n);
	}
	close(fds[0]);
	/* A child that is still writing (an answer over the bound) gets EPIPE and ends. */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || resp.len < sizeof(hdr)))
		r = -EIO;
	if (r == 0) {
		memcpy(hdr, resp.data, sizeof(hdr));
		r = (int)hdr[0];
	}
	if (r == 0) {
		*ret_status = (long)hdr[1];
		*ret_json = resp.len > sizeof(hdr) ? json_loadb(resp.data + sizeof(hdr), resp.len - sizeof(hdr), 0, NULL)
						   : NULL;
	}
	buf_done(&resp);
	return r;
}

static void a_print_error(long status, const json_t *ans)
{
	const char *msg = json_string_value(json_object_get(json_object_get(ans, "error"), "message"));

	fprintf(stderr, "rampart-agent: server answered %ld: %s\n", status, msg ? msg : "(no message)");
}

/* ---------------------------------------------------------------- policy */

/* The server policy key pinned at enrollment, from device.json.  Returns 0 or ERR_INVALID. */
static int a_pinned_key(const json_t *state, unsigned char pk[DEVSIG_PK_BYTES])
{
	const char *b64 = json_string_value(json_object_get(state, "server_public_key"));

	return b64 ? devsig_b64_decode(b64, pk, DEVSIG_PK_BYTES) : ERR_INVALID;
}

/*
 * Loads the stored policy and verifies it again against @pk.  Returns 0
 * with the document in *ret, -ENOENT when there is none, or an error (a
 * stored policy that does not verify is reported and not used).
 */
static int a_policy_load(const char *state_dir, const unsigned char *pk, json_t **ret)
{
	struct policy_err e = { "" };
	json_t *signed_doc = NULL;
	int r;

	r = a_read_json(state_dir, "policy.json", &signed_doc);
	if (r == -ENOENT)
		return r;
	if (r == 0)
		r = policy_verify(signed_doc, pk, ret, &e);
	json_decref(signed_doc);
	if (r < 0)
		fprintf(stderr, "rampart-agent: the stored policy in %s/policy.json is refused: %s\n", state_dir,
			e.message[0] ? e.message : err_str(r));
	return r;
}

static int64_t a_policy_version(const json_t *doc)
{
	return doc ? (int64_t)json_integer_value(json_object_get(doc, "version")) : 0;
}

/*
 * Applies the signed policy of a check-in answer: verifies it against @pk,
 * refuses one older than @cur (same unit, lower version), and stores it.
 * Returns 0 (applied or unchanged), or an error after reporting it, in
 * which case the last good policy stays.
 */
static int a_policy_apply(const char *state_dir, const unsigned char *pk, const json_t *signed_doc,
			  const json_t *cur)
{
	struct policy_err e = { "" };
	json_t *doc = NULL;
	const char *unit, *cur_unit = json_string_value(json_object_get(cur, "org_unit"));
	int r;

	r = policy_verify(signed_doc, pk, &doc, &e);
	if (r < 0) {
		fprintf(stderr, "rampart-agent: the server's policy is refused, keeping version %lld: %s\n",
			(long long)a_policy_version(cur), e.message[0] ? e.message : err_str(r));
		return r;
	}
	unit = json_string_value(json_object_get(doc, "org_unit"));
	if (cur && cur_unit && unit && strcmp(unit, cur_unit) == 0 && a_policy_version(doc) < a_policy_version(cur)) {
		fprintf(stderr, "rampart-agent: the server's policy version %lld is older than version %lld: refused\n",
			(long long)a_policy_version(doc), (long long)a_policy_version(cur));
		json_decref(doc);
		return ERR_INVALID;
	}
	r = 0;
	if (!cur || !json_equal(doc, cur)) {
		r = a_write_json(state_dir, "policy.json", signed_doc);
		if (r < 0)
			fprintf(stderr, "rampart-agent: cannot save policy.json: %s\n", err_str(r));
		else
			fprintf(stderr, "rampart-agent: applied policy version %lld\n", (long long)a_policy_version(doc));
	}
	json_decref(doc);
	return r;
}

/* ---------------------------------------------------------------- quarantine */

static bool a_quarantined(const json_t *doc)
{
	return json_is_true(json_object_get(doc, "quarantined"));
}

static int64_t a_issued_at(const json_t *doc)
{
	return (int64_t)json_integer_value(json_object_get(doc, "issued_at"));
}

/*
 * Loads the stored quarantine order and verifies it again against @pk for
 * @did.  Returns 0 with the document in *ret, -ENOENT when there is none,
 * or an error (reported; the stored order is not used).
 */
static int a_quarantine_load(const char *state_dir, const unsigned char *pk, const char *did, json_t **ret)
{
	struct policy_err e = { "" };
	json_t *signed_doc = NULL;
	int r;

	r = a_read_json(state_dir, "quarantine.json", &signed_doc);
	if (r == -ENOENT)
		return r;
	if (r == 0)
		r = qorder_verify(signed_doc, pk, did, ret, &e);
	json_decref(signed_doc);
	if (r < 0)
		fprintf(stderr, "rampart-agent: the stored quarantine order in %s/quarantine.json is refused: %s\n",
			state_dir, e.message[0] ? e.message : err_str(r));
	return r;
}

/* Installs the quarantine table for @server (quarantined @doc) or removes it.  Reports failures. */
static int a_quarantine_enforce(const struct opts *o, const char *server, const json_t *doc)
{
	struct firewall_spec spec;
	char err[256] = "";
	int r;

	if (o->no_enforce)
		return 0;
	if (!a_quarantined(doc)) {
		r = firewall_remove(err, sizeof(err));
		if (r < 0)
			fprintf(stderr, "rampart-agent: cannot remove the quarantine table: %s\n", err);
		return r;
	}
	/* A server that does not resolve now still leaves DNS open; the next check-in tries again. */
	r = firewall_spec_for(server, o->root, &spec, err, sizeof(err));
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		fprintf(stderr, "rampart-agent: %s; the quarantine allows only DNS for now\n", err);
	r = firewall_install(&spec, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "rampart-agent: cannot install the quarantine table: %s%s\n", err,
			r == -EPERM ? " (the agent needs root or CAP_NET_ADMIN)" : "");
	return r;
}

/*
 * Applies the signed quarantine order of a check-in answer: verifies it
 * against @pk for @did, refuses one issued before the stored one, then
 * installs or removes the table and stores the order.  A quarantine is
 * stored before the table is installed (so that a restart re-installs it),
 * a release only after the table is gone (so that a failed removal is
 * retried).  Returns 0 or an error after reporting it.
 */
static int a_quarantine_apply(const struct opts *o, const char *server, const unsigned char *pk, const char *did,
			      const json_t *signed_order)
{
	struct policy_err e = { "" };
	json_t *doc = NULL, *cur = NULL;
	bool present = false;
	char err[256];
	int r;

	r = qorder_verify(signed_order, pk, did, &doc, &e);
	if (r < 0) {
		fprintf(stderr, "rampart-agent: the server's quarantine order is refused: %s\n",
			e.message[0] ? e.message : err_str(r));
		return r;
	}
	if (a_quarantine_load(o->state_dir, pk, did, &cur) < 0)
		cur = NULL;
	if (cur && a_issued_at(doc) < a_issued_at(cur)) {
		fprintf(stderr, "rampart-agent: the server's quarantine order of %lld is older than the one applied "
				"(%lld): refused\n", (long long)a_issued_at(doc), (long long)a_issued_at(cur));
		r = ERR_INVALID;
		goto out;
	}
	if (a_quarantined(doc)) {
		int w = 0;

		/* The table goes in even when the order cannot be saved: enforcing comes first. */
		if (!cur || !json_equal(doc, cur))
			w = a_write_json(o->state_dir, "quarantine.json", signed_order);
		if (w < 0)
			fprintf(stderr, "rampart-agent: cannot save quarantine.json: %s\n", err_str(w));
		r = a_quarantine_enforce(o, server, doc);
		if (r == 0)
			r = w;
		if (r == 0 && (!cur || !a_quarantined(cur)))
			fprintf(stderr, "rampart-agent: this PC is quarantined: %s\n",
				json_string_value(json_object_get(doc, "reason")));
	} else {
		/*
		 * Without a trusted stored order the table may still be there from
		 * before.  It is looked for quietly, so that an agent without
		 * CAP_NET_ADMIN that was never quarantined is not disturbed.
		 */
		if (cur)
			present = a_quarantined(cur);
		else if (o->no_enforce || firewall_present(&present, err, sizeof(err)) < 0)
			present = false;
		if (present)
			r = a_quarantine_enforce(o, server, doc);
		if (r == 0 && (!cur || !json_equal(doc, cur)))
			r = a_write_json(o->state_dir, "quarantine.json", signed_order);
		if (r == 0 && cur && a_quarantined(cur))
			fprintf(stderr, "rampart-agent: the quarantine is lifted\n");
	}
	if (r < 0 && r != -EPERM && r != -EIO)
		fprintf(stderr, "rampart-agent: cannot apply the quarantine order: %s\n", err_str(r));
out:
	json_decref(doc);
	json_decref(cur);
	return r;
}

/*
 * Re-installs the table of a stored quarantine (at the start of `run`,
 * before each check-in).  A stored order that is refused while the table is
 * there keeps the PC quarantined (fail closed), with the table refreshed so
 * that the server stays reachable to send a good order.
 */
static int a_quarantine_restore(const struct opts *o, const json_t *state, const unsigned char *pk)
{
	const char *did = json_string_value(json_object_get(state, "device_id"));
	const char *server = o->server ? o->server : json_string_value(json_object_get(state, "server"));
	json_t *doc = NULL;
	bool present = false;
	char err[256];
	int r;

	if (!did || !server)
		return 0;
	r = a_quarantine_load(o->state_dir, pk, did, &doc);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		if (o->no_enforce || firewall_present(&present, err, sizeof(err)) < 0 || !present)
			return 0;
		doc = json_pack("{s:b}", "quarantined", 1);
		if (!doc)
			return -ENOMEM;
	}
	r = a_quarantined(doc) ? a_quarantine_enforce(o, server, doc) : 0;
	json_decref(doc);
	return r;
}

/* ---------------------------------------------------------------- enroll */

static int cmd_enroll(const struct opts *o)
{
	unsigned char pk[DEVSIG_PK_BYTES], *sk = NULL;
	char pk_b64[DEVSIG_PK_B64_SIZE], path[A_PATH], *machine_id = NULL, host[256];
	json_t *req = NULL, *ans = NULL, *state = NULL;
	const char *did, *spk;
	unsigned char spk_raw[DEVSIG_PK_BYTES];
	struct stat st;
	long status = 0;
	char *body = NULL;
	size_t len;
	int r;

	if (!o->server || !o->token) {
		fputs("rampart-agent: enroll needs --server and --token\n", stderr);
		return 2;
	}
	if (mkdir(o->state_dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "rampart-agent: cannot create %s: %s\n", o->state_dir, strerror(errno));
		return 1;
	}
	if (a_path(path, sizeof(path), o->state_dir, "device.json") < 0 || stat(path, &st) == 0) {
		fprintf(stderr, "rampart-agent: %s exists: this PC is already enrolled\n", path);
		return 1;
	}
	r = posture_read_file(o->root, "/etc/machine-id", POSTURE_MAX_SMALL_FILE, &machine_id, &len);
	if (r < 0) {
		fprintf(stderr, "rampart-agent: cannot read /etc/machine-id: %s\n", err_str(r));
		return 1;
	}
	while (len && (machine_id[len - 1] == '\n' || machine_id[len - 1] == ' '))
		machine_id[--len] = '\0';
	/* The same name the posture report gives: /etc/hostname under the root, else the kernel's. */
	r = posture_read_file(o->root, "/etc/hostname", POSTURE_MAX_SMALL_FILE, &body, &len);
	if (r == 0) {
		body[strcspn(body, " \t\r\n")] = '\0';
		r = body[0] ? str_copy(host, sizeof(host), body) : ERR_INVALID;
		free(body);
		body = NULL;
	}
	if (r < 0 && gethostname(host, sizeof(host) - 1) < 0)
		str_copy(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';

	sk = sodium_malloc(DEVSIG_SK_BYTES);
	if (!sk) {
		free(machine_id);
		return 1;
	}
	crypto_sign_keypair(pk, sk);
	devsig_b64_encode(pk, sizeof(pk), pk_b64, sizeof(pk_b64));
	req = json_pack("{s:s, s:s, s:s, s:s}", "token", o->token, "hostname", host, "machine_id", machine_id,
			"public_key", pk_b64);
	free(machine_id);
	if (req && o->org)
		json_object_set_new(req, "org_unit", json_string(o->org));
	if (req && o->owner)
		json_object_set_new(req, "owner", json_string(o->owner));
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	if (req && body) {
		/* A token is sensitive: wipe our copy once it has been sent. */
		r = a_post(o, o->server, "/api/v1/endpoint/enroll", body, NULL, NULL, &status, &ans);
		sodium_memzero(body, strlen(body));
	} else {
		r = -ENOMEM;
	}
	free(body);
	json_decref(req);
	if (r < 0)
		goto out;
	if (status != 201) {
		a_print_error(status, ans);
		r = -EACCES;
		goto out;
	}
	did = json_string_value(json_object_get(ans, "device_id"));
	spk = json_string_value(json_object_get(ans, "server_public_key"));
	if (!did || !spk || devsig_b64_decode(spk, spk_raw, sizeof(spk_raw)) < 0) {
		fputs("rampart-agent: the server's answer lacks the device id or its key\n", stderr);
		r = ERR_INVALID;
		goto out;
	}
	r = a_path(path, sizeof(path), o->state_dir, "device.key");
	if (r == 0)
		r = a_write_file(path, sk, DEVSIG_SK_BYTES, 0600);
	state = json_pack("{s:s, s:s, s:s, s:O?}", "device_id", did, "server", o->server,
			  "server_public_key", spk, "org_unit", json_object_get(ans, "org_unit"));
	if (r == 0)
		r = state ? a_write_json(o->state_dir, "device.json", state) : -ENOMEM;
	if (r < 0) {
		fprintf(stderr, "rampart-agent: cannot save the device state in %s: %s\n", o->state_dir, err_str(r));
		goto out;
	}
	if (o->json) {
		char *t = json_dumps(state, JSON_INDENT(2) | JSON_SORT_KEYS);

		if (t)
			puts(t);
		free(t);
	} else {
		printf("enrolled as device %s\n", did);
	}
out:
	sodium_free(sk);
	json_decref(ans);
	json_decref(state);
	return r < 0 ? 1 : 0;
}

/* ---------------------------------------------------------------- posture, checkin */

static int a_print_json(const json_t *v)
{
	char *t = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (!t)
		return -ENOMEM;
	puts(t);
	free(t);
	return 0;
}

static int cmd_posture(const struct opts *o)
{
	json_t *rep = NULL;
	int r;

	r = posture_collect(o->root, &rep);
	if (r < 0) {
		fprintf(stderr, "rampart-agent: cannot collect the posture: %s\n", err_str(r));
		return 1;
	}
	if (o->json) {
		r = a_print_json(rep);
	} else {
		json_t *os = json_object_get(rep, "os"), *pk = json_object_get(rep, "packages");

		printf("os: %s\nkernel: %s\npackages: %zu\n",
		       json_string_value(json_object_get(os, "pretty_name")) ?: "unknown",
		       json_string_value(json_object_get(json_object_get(rep, "kernel"), "release")) ?: "unknown",
		       json_array_size(json_object_get(pk, "items")));
	}
	json_decref(rep);
	return r < 0 ? 1 : 0;
}

/* name -> [version, source] of a package list. */
static json_t *a_pkg_map(const json_t *items)
{
	json_t *m = json_object(), *it;
	size_t i;

	json_array_foreach(items, i, it) {
		const char *n = json_string_value(json_object_get(it, "name"));

		if (m && n)
			json_object_set_new(m, n, json_pack("[O, O]", json_object_get(it, "version"),
							    json_object_get(it, "source")));
	}
	return m;
}

/*
 * Replaces the report's full package list by the changes against the list
 * last acknowledged (@prev, a name map), when there is one.
 */
static int a_pkg_delta(json_t *rep, const json_t *prev)
{
	json_t *pk = json_object_get(rep, "packages"), *items = json_object_get(pk, "items");
	json_t *cur = a_pkg_map(items), *changed = json_array(), *removed = json_array(), *v, *it;
	const char *name;
	size_t i;

	if (!cur || !changed || !removed) {
		json_decref(cur);
		json_decref(changed);
		json_decref(removed);
		return -ENOMEM;
	}
	json_array_foreach(items, i, it) {
		name = json_string_value(json_object_get(it, "name"));
		if (!json_equal(json_object_get(prev, name), json_object_get(cur, name)))
			json_array_append(changed, it);
	}
	json_object_foreach((json_t *)prev, name, v)
		if (!json_object_get(cur, name))
			json_array_append_new(removed, json_string(name));
	json_decref(cur);
	json_object_set_new(rep, "packages", json_pack("{s:s, s:o, s:o}", "mode", "delta", "items", changed,
						       "removed", removed));
	return 0;
}

static int cmd_checkin(const struct opts *o)
{
	json_t *state = NULL, *rep = NULL, *ans = NULL, *prev = NULL, *full = NULL, *pol = NULL;
	unsigned char spk[DEVSIG_PK_BYTES];
	unsigned char *sk = NULL;
	char path[A_PATH], *body = NULL, *key = NULL;
	const char *did, *server;
	long status = 0;
	size_t len = 0;
	int r;

	r = a_read_json(o->state_dir, "device.json", &state);
	if (r < 0) {
		fprintf(stderr, "rampart-agent: not enrolled (no device.json in %s)\n", o->state_dir);
		return 1;
	}
	did = json_string_value(json_object_get(state, "device_id"));
	server = o->server ? o->server : json_string_value(json_object_get(state, "server"));
	sk = sodium_malloc(DEVSIG_SK_BYTES);
	r = sk && did && server ? a_path(path, sizeof(path), o->state_dir, "device.key") : ERR_INVALID;
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
	if (r < 0) {
		fprintf(stderr, "rampart-agent: cannot load the device key in %s: %s\n", o->state_dir, err_str(r));
		goto out;
	}
	r = a_pinned_key(state, spk);
	if (r < 0) {
		fprintf(stderr, "rampart-agent: device.json in %s lacks the pinned server key\n", o->state_dir);
		goto out;
	}
	/* A missing or refused stored policy leaves version 0 until the server sends a good one. */
	if (a_policy_load(o->state_dir, spk, &pol) < 0)
		pol = NULL;
	/* While quarantined the table is refreshed first: the server's addresses may have changed. */
	a_quarantine_restore(o, state, spk);
	r = posture_collect(o->root, &rep);
	if (r < 0)
		goto out;
	json_object_set_new(rep, "policy_version", json_integer(a_policy_version(pol)));
	full = json_deep_copy(json_object_get(json_object_get(rep, "packages"), "items"));
	if (json_is_array(full) && a_read_json(o->state_dir, "packages.json", &prev) == 0 && json_is_object(prev))
		r = a_pkg_delta(rep, prev);
	body = r == 0 ? json_dumps(rep, JSON_COMPACT) : NULL;
	if (!body) {
		r = -ENOMEM;
		goto out;
	}
	r = a_post(o, server, "/api/v1/endpoint/checkin", body, did, sk, &status, &ans);
	if (r < 0)
		goto out;
	if (status != 200) {
		a_print_error(status, ans);
		r = -EACCES;
		goto out;
	}
	if (json_is_array(full)) {
		json_t *m = a_pkg_map(full);

		/* Only an acknowledged list becomes the base of the next delta. */
		r = m ? a_write_json(o->state_dir, "packages.json", m) : -ENOMEM;
		json_decref(m);
		if (r < 0)
			fprintf(stderr, "rampart-agent: cannot save packages.json: %s\n", err_str(r));
	}
	/* A refused policy is reported by a_policy_apply; the check-in itself succeeded. */
	if (json_is_object(json_object_get(ans, "policy")))
		a_policy_apply(o->state_dir, spk, json_object_get(ans, "policy"), pol);
	/*
	 * A refused order is reported and changes nothing; one that cannot be
	 * enforced fails the check-in, for the PC is not in the state the
	 * server believes.
	 */
	if (json_object_get(ans, "quarantine")) {
		int qr = a_quarantine_apply(o, server, spk, did, json_object_get(ans, "quarantine"));

		if (qr < 0 && qr != ERR_INVALID && qr != ERR_UNAUTHENTICATED)
			r = qr;
	}
	if (o->json)
		a_print_json(ans);
	else
		printf("checked in: %s\n", json_string_value(json_object_get(ans, "state")) ?: "unknown");
out:
	json_decref(pol);
	sodium_free(sk);
	free(body);
	json_decref(state);
	json_decref(rep);
	json_decref(ans);
	json_decref(prev);
	json_decref(full);
	return r < 0 ? 1 : 0;
}

/* The check-in interval of the stored good policy, or the default. */
static int64_t a_run_interval(const struct opts *o)
{
	unsigned char spk[DEVSIG_PK_BYTES];
	json_t *state = NULL, *doc = NULL;
	int64_t ms = o->interval_ms;

	if (a_read_json(o->state_dir, "device.json", &state) == 0 && a_pinned_key(state, spk) == 0 &&
	    a_policy_load(o->state_dir, spk, &doc) == 0 &&
	    policy_interval_ms(json_object_get(doc, "policy"), &ms) < 0)
		ms = o->interval_ms;
	json_decref(state);
	json_decref(doc);
	return ms;
}

/* A quarantine survives restarts: the stored order's table goes back in before anything else. */
static void a_run_restore(const struct opts *o)
{
	unsigned char spk[DEVSIG_PK_BYTES];
	json_t *state = NULL;

	if (a_read_json(o->state_dir, "device.json", &state) == 0 && a_pinned_key(state, spk) == 0)
		a_quarantine_restore(o, state, spk);
	json_decref(state);
}

/* ---------------------------------------------------------------- status */

static int cmd_status(const struct opts *o)
{
	unsigned char spk[DEVSIG_PK_BYTES];
	json_t *state = NULL, *pol = NULL, *q = NULL, *out;
	const char *did, *table = "unknown";
	char err[256] = "", when[64];
	bool present = false;
	int r;

	if (a_read_json(o->state_dir, "device.json", &state) < 0 ||
	    !(did = json_string_value(json_object_get(state, "device_id"))) || a_pinned_key(state, spk) < 0) {
		fprintf(stderr, "rampart-agent: not enrolled (no valid device.json in %s)\n", o->state_dir);
		json_decref(state);
		return 1;
	}
	if (a_policy_load(o->state_dir, spk, &pol) < 0)
		pol = NULL;
	if (a_quarantine_load(o->state_dir, spk, did, &q) < 0)
		q = NULL;
	r = firewall_present(&present, err, sizeof(err));
	if (r == 0)
		table = present ? "installed" : "absent";
	out = json_pack("{s:s, s:O?, s:O?, s:I, s:{s:b, s:s?}, s:s}", "device_id", did, "server",
			json_object_get(state, "server"), "org_unit", json_object_get(state, "org_unit"),
			"policy_version", (json_int_t)a_policy_version(pol), "quarantine", "quarantined",
			a_quarantined(q), "reason", q ? json_string_value(json_object_get(q, "reason")) : NULL,
			"quarantine_table", table);
	if (out && q)
		json_object_set_new(json_object_get(out, "quarantine"), "issued_at", json_integer(a_issued_at(q)));
	if (out && r < 0)
		json_object_set_new(out, "quarantine_table_error", json_string(err));
	if (!out) {
		r = -ENOMEM;
	} else if (o->json) {
		r = a_print_json(out);
	} else {
		printf("device: %s\nserver: %s\npolicy version: %lld\n", did,
		       json_string_value(json_object_get(state, "server")) ?: "unknown",
		       (long long)a_policy_version(pol));
		if (a_quarantined(q))
			printf("quarantined: yes, ordered %s, reason: %s\n",
			       rtime_format(when, sizeof(when), a_issued_at(q)),
			       json_string_value(json_object_get(q, "reason")));
		else
			printf("quarantined: no\n");
		printf("quarantine table: %s%s%s\n", table, r < 0 ? " — " : "", r < 0 ? err : "");
		r = 0;
	}
	json_decref(out);
	json_decref(q);
	json_decref(pol);
	json_decref(state);
	return r < 0 ? 1 : 0;
}

static volatile sig_atomic_t a_stop;

static void a_on_signal(int sig)
{
	(void)sig;
	a_stop = 1;
}

/* ---------------------------------------------------------------- operation logs */

/*
 * Loads device.json and the device key for a signed request.  Returns 0
 * with *ret_state (owned) and @sk filled, or an error (not enrolled).
 */
static int a_device_load(const struct opts *o, json_t **ret_state, unsigned char *sk)
{
	char path[A_PATH], *key = NULL;
	json_t *state = NULL;
	size_t len = 0;
	int r;

	r = a_read_json(o->state_dir, "device.json", &state);
	if (r == 0 && !json_string_value(json_object_get(state, "device_id")))
		r = ERR_INVALID;
	if (r == 0)
		r = a_path(path, sizeof(path), o->state_dir, "device.key");
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
	if (r < 0) {
		json_decref(state);
		return r;
	}
	*ret_state = state;
	return 0;
}

struct a_run {
	struct oplog *ol;
	struct collect_exec *exec;
	struct collect_wtmp *wtmp;
	struct collect_usb *usb;
	struct collect_files *files;
	size_t batch_max;     /* events per POST; halved while the server refuses a batch */
	int64_t policy_version;
	json_t *pending;      /* events read from sockets, not yet in the buffer */
	int64_t flush_at;     /* when they go there at the latest */
};

/* Puts the collected @events into the buffer, then lets the collectors save their positions. */
static int a_run_store(struct a_run *run, json_t *events)
{
	size_t n = json_array_size(events);
	json_t **evs;
	int r = 0;

	if (n) {
		evs = calloc(n, sizeof(*evs));
		if (!evs)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++)
			evs[i] = json_array_get(events, i);
		r = oplog_append(run->ol, evs, n, NULL);
		free(evs);
		json_array_clear(events);
		if (r < 0) {
			/* Kept in memory they would only grow (a full disk): they are lost, and said so. */
			fprintf(stderr, "rampart-agent: cannot buffer %zu events, they are lost: %s\n", n, err_str(r));
			return r;
		}
	}
	/* Positions move only once what was read is on disk: a crash repeats events, never loses them. */
	if (run->wtmp)
		collect_wtmp_commit(run->wtmp);
	if (run->usb)
		collect_usb_commit(run->usb);
	return 0;
}

/* Runs the collectors without a socket; their events go to the buffer with those waiting. */
static void a_run_collect(struct a_run *run, int64_t now)
{
	json_t *events = run->pending;

	if (run->exec)
		collect_exec_tick(run->exec, now, events);
	if (run->wtmp)
		collect_wtmp_tick(run->wtmp, events);
	if (run->usb)
		collect_usb_tick(run->usb, now, events);
	if (run->files)
		collect_files_tick(run->files, events);
	a_run_store(run, events);
	run->flush_at = INT64_MAX;
}

/*
 * The policy's removable media become USBGuard rules (when USBGuard is
 * installed) and the USB collector's idea of what is allowed.
 */
static void a_run_policy(const struct opts *o, struct a_run *run, bool force)
{
	unsigned char spk[DEVSIG_PK_BYTES];
	json_t *state = NULL, *doc = NULL;
	const json_t *media = NULL;
	enum collect_usb_mode mode = COLLECT_USB_REPORT;
	struct buf rules;
	size_t skipped = 0;
	int64_t version = 0;
	int r;

	if (a_read_json(o->state_dir, "device.json", &state) == 0 && a_pinned_key(state, spk) == 0 &&
	    a_policy_load(o->state_dir, spk, &doc) == 0) {
		media = json_object_get(json_object_get(doc, "policy"), "removable_media");
		version = a_policy_version(doc);
	}
	if (!force && version == run->policy_version) {
		json_decref(state);
		json_decref(doc);
		return;
	}
	run->policy_version = version;
	buf_init(&rules, 1 << 20);
	r = usbguard_rules(media, &rules, &skipped);
	if (r == 0 && skipped)
		fprintf(stderr, "rampart-agent: %zu designated media are not named by USB ids (4 hex digits) and stay "
				"blocked\n", skipped);
	if (r == 0 && o->usbguard_rules) {
		r = usbguard_apply(o->usbguard_rules, rules.data, 0);
		if (r == 1)
			mode = COLLECT_USB_BLOCK;
		else if (r == -ENOENT)
			fprintf(stderr, "rampart-agent: USBGuard is not installed: USB storage is reported, not blocked\n");
		else if (r == 0)
			fprintf(stderr, "rampart-agent: USBGuard is installed but not running: USB storage is reported, "
					"not blocked\n");
		else
			fprintf(stderr, "rampart-agent: cannot apply the USBGuard rules: %s\n", err_str(r));
	}
	buf_done(&rules);
	if (run->usb)
		collect_usb_set_policy(run->usb, media, mode);
	json_decref(state);
	json_decref(doc);
}

/*
 * Sends the buffered events in batches (at most A_EVENTS_BATCH events and
 * A_EVENTS_BYTES of JSON) until none is left, dropping from the buffer
 * what the server's accepted_through covers.  Returns 0 when everything
 * pending was accepted, or an error (unreachable server, refusal) after
 * which the caller backs off; the events stay buffered.
 */
static int a_run_send(const struct opts *o, struct a_run *run)
{
	unsigned char *sk = sodium_malloc(DEVSIG_SK_BYTES);
	json_t *state = NULL;
	const char *did, *server;
	int r;

	if (!sk)
		return -ENOMEM;
	r = a_device_load(o, &state, sk);
	if (r < 0) {
		sodium_free(sk);
		return 0;   /* not enrolled yet: the events wait */
	}
	did = json_string_value(json_object_get(state, "device_id"));
	server = o->server ? o->server : json_string_value(json_object_get(state, "server"));
	for (int rounds = 0; r == 0 && rounds < 100 && !a_stop; rounds++) {
		json_t *batch = NULL, *body = NULL, *ans = NULL;
		int64_t last = 0, through;
		long status = 0;
		char *text;

		r = oplog_read(run->ol, run->batch_max, A_EVENTS_BYTES, &batch, &last);
		if (r < 0 || json_array_size(batch) == 0) {
			json_decref(batch);
			break;
		}
		body = json_pack("{s:o}", "events", batch);
		text = body ? json_dumps(body, JSON_COMPACT) : NULL;
		json_decref(body);
		if (!text) {
			r = -ENOMEM;
			break;
		}
		r = server ? a_post_child(o, server, "/api/v1/endpoint/events", text, did, sk, &status, &ans) : ERR_INVALID;
		free(text);
		if (r == 0 && status == 200 && json_is_integer(json_object_get(ans, "accepted_through"))) {
			through = (int64_t)json_integer_value(json_object_get(ans, "accepted_through"));
			r = oplog_drop_through(run->ol, through);
			if (r == 0 && through < last)
				r = -EAGAIN;   /* the server holds less than it was sent: try again later */
			if (run->batch_max < A_EVENTS_BATCH)
				run->batch_max *= 2;
		} else if (r == 0 && (status == 400 || status == 413) && run->batch_max > 1) {
			/* One bad event (or a server with a smaller body limit) must not stop the others. */
			run->batch_max /= 2;
		} else if (r == 0 && (status == 400 || status == 413)) {
			a_print_error(status, ans);
			fprintf(stderr, "rampart-agent: the server refused event %lld; it is dropped\n", (long long)last);
			r = oplog_drop_through(run->ol, last);
		} else if (r == 0) {
			a_print_error(status, ans);
			r = -EACCES;
		}
		json_decref(ans);
	}
	sodium_free(sk);
	json_decref(state);
	return r;
}

static void a_run_open(const struct opts *o, struct a_run *run)
{
	int r;

	run->batch_max = A_EVENTS_BATCH;
	run->policy_version = -1;
	run->flush_at = INT64_MAX;
	/* Executions and files are the real system's (their pids and mounts are), even with --root. */
	if (collect_exec_open("/", true, &run->exec) < 0)
		run->exec = NULL;
	if (collect_wtmp_open(o->root, o->state_dir, &run->wtmp) < 0)
		run->wtmp = NULL;
	if (collect_usb_open(o->root, o->state_dir, &run->usb) < 0)
		run->usb = NULL;
	r = collect_files_open("/", &run->files);
	if (r < 0) {
		fprintf(stderr, "rampart-agent: files written to removable media are not recorded: fanotify: %s\n",
			err_str(r));
		run->files = NULL;
	}
}

static void a_run_close(struct a_run *run)
{
	if (run->pending && run->ol)
		a_run_store(run, run->pending);
	json_decref(run->pending);
	collect_exec_close(run->exec);
	collect_wtmp_close(run->wtmp);
	collect_usb_close(run->usb);
	collect_files_close(run->files);
	oplog_close(run->ol);
}

static int a_events_dir(const struct opts *o, char *out, size_t size)
{
	return a_path(out, size, o->state_dir, "events");
}

static json_t *a_stats_json(const struct oplog_stats *st)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "next_seq", (json_int_t)st->next_seq,
			 "acked_through", (json_int_t)st->acked_through, "pending", (json_int_t)st->pending,
			 "dropped", (json_int_t)st->dropped, "bytes", (json_int_t)st->bytes, "max_bytes",
			 (json_int_t)st->max_bytes, "segments", (json_int_t)st->segments, "torn_bytes",
			 (json_int_t)st->torn_bytes);
}

/* rampart-agent events: what is buffered and would be sent. */
static int cmd_events(const struct opts *o)
{
	struct oplog_opts oo = { .max_bytes = o->buffer_max, .read_only = true };
	struct oplog_stats st;
	struct oplog *ol = NULL;
	json_t *events = NULL, *ev;
	char dir[A_PATH];
	int64_t last;
	size_t i;
	int r;

	r = a_events_dir(o, dir, sizeof(dir));
	if (r == 0)
		r = oplog_open(dir, &oo, &ol);
	if (r == -ENOENT) {
		if (o->json)
			puts("{\"buffer\": null, \"events\": []}");
		else
			puts("no events buffered");
		return 0;
	}
	if (r == 0)
		r = oplog_read(ol, SIZE_MAX, SIZE_MAX, &events, &last);
	if (r < 0) {
		fprintf(stderr, "rampart-agent: cannot read the event buffer in %s: %s\n", dir, err_str(r));
		oplog_close(ol);
		return 1;
	}
	oplog_stats(ol, &st);
	if (o->json) {
		json_t *out = json_pack("{s:o, s:O}", "buffer", a_stats_json(&st), "events", events);

		r = out ? a_print_json(out) : -ENOMEM;
		json_decref(out);
	} else {
		printf("%lld events buffered (%llu of %llu bytes), %lld dropped when the buffer was full, next seq %lld\n",
		       (long long)st.pending, (unsigned long long)st.bytes, (unsigned long long)st.max_bytes,
		       (long long)st.dropped, (long long)st.next_seq);
		json_array_foreach(events, i, ev) {
			char when[64], *rest;
			json_t *copy = json_copy(ev);

			json_object_del(copy, "seq");
			json_object_del(copy, "ts");
			json_object_del(copy, "kind");
			rest = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
			printf("%lld %s %s %s\n", (long long)json_integer_value(json_object_get(ev, "seq")),
			       rtime_format(when, sizeof(when), json_integer_value(json_object_get(ev, "ts"))),
			       json_string_value(json_object_get(ev, "kind")), rest ? rest : "");
			free(rest);
			json_decref(copy);
		}
	}
	json_decref(events);
	oplog_close(ol);
	return r < 0 ? 1 : 0;
}

static int a_run_restore_cmd(const struct opts *o)
{
	a_run_restore(o);
	return 0;
}

/*
 * Runs @fn in a child process and returns its exit code (1 when it could
 * not start or was killed).  `run` does its check-ins (posture, HTTP,
 * policy and quarantine, all of whose results are files and the nftables
 * table) this way, so that libcurl and the libraries it loads, and the
 * memory of the package list, never stay in the long-running process.
 */
static int a_run_child(const struct opts *o, int (*fn)(const struct opts *o), const char *what)
{
	int status = 0, rc;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "rampart-agent: cannot start the %s: %s\n", what, strerror(errno));
		return 1;
	}
	if (pid == 0) {
		rc = fn(o);
		fflush(NULL);
		_exit(rc);
	}
	/* A signal does not cut the child short, as it did not cut an in-process check-in short. */
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return 1;
	}
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "rampart-agent: the %s was ended by signal %d\n", what, WTERMSIG(status));
		return 1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/*
 * Checks in every interval, shifted by up to a tenth of it either way so that
 * a fleet started together spreads out, until SIGTERM or SIGINT (or @o->count
 * check-ins).  A failed check-in is reported and retried at the next one.
 * Between check-ins one poll loop runs the collectors (their sockets as they
 * become readable, the rest every A_TICK_MS), puts their events in the disk
 * buffer (socket events grouped for up to A_FLUSH_MS, so that a busy PC does
 * not fsync per process) and sends it every --events-interval, backing off
 * while the server cannot be reached.
 */
static int cmd_run(const struct opts *o)
{
	struct oplog_opts oo = { .max_bytes = o->buffer_max };
	struct a_run run = { 0 };
	struct sigaction sa;
	int64_t done = 0, next_checkin = 0, next_tick = 0, next_send = 0, backoff = 0;
	char dir[A_PATH];
	int failures = 0, r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = a_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	a_run_child(o, a_run_restore_cmd, "quarantine restore");
	if (mkdir(o->state_dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "rampart-agent: cannot create %s: %s\n", o->state_dir, strerror(errno));
		return 1;
	}
	r = a_events_dir(o, dir, sizeof(dir));
	if (r == 0)
		r = oplog_open(dir, &oo, &run.ol);
	if (r < 0) {
		fprintf(stderr, "rampart-agent: cannot open the event buffer in %s: %s\n", dir,
			r == -EBUSY ? "another rampart-agent run holds it" : err_str(r));
		return 1;
	}
	run.pending = json_array();
	if (!run.pending) {
		oplog_close(run.ol);
		return 1;
	}
	a_run_open(o, &run);
	while (!a_stop) {
		int64_t now = rtime_now_ms(), until;
		struct pollfd pfd[2];
		nfds_t nfd = 0;
		bool last_round = false;

		if (now >= next_checkin) {
			int64_t wait = o->interval_ms, jitter;

			failures += a_run_child(o, cmd_checkin, "check-in") != 0;
			done++;
			a_run_policy(o, &run, done == 1);
			/* A check-in builds the whole package list; give that memory back between them. */
			malloc_trim(0);
			last_round = o->count && done >= o->count;
			if (!o->interval_set)
				wait = a_run_interval(o);
			jitter = wait / 10;
			if (jitter > 0)
				wait += (int64_t)randombytes_uniform((uint32_t)(2 * jitter + 1)) - jitter;
			next_checkin = now + wait;
		}
		if (now >= next_tick || last_round) {
			a_run_collect(&run, now);
			next_tick = now + A_TICK_MS;
		} else if (now >= run.flush_at || json_array_size(run.pending) >= A_FLUSH_EVENTS) {
			a_run_store(&run, run.pending);
			run.flush_at = INT64_MAX;
		}
		if (now >= next_send || last_round) {
			if (a_run_send(o, &run) < 0) {
				backoff = backoff ? backoff * 2 : A_MIN_BACKOFF_MS;
				if (backoff > A_MAX_BACKOFF_MS)
					backoff = A_MAX_BACKOFF_MS;
				next_send = now + backoff;
			} else {
				backoff = 0;
				next_send = now + o->events_interval_ms;
			}
		}
		if (last_round)
			break;
		if (run.exec && collect_exec_fd(run.exec) >= 0)
			pfd[nfd++] = (struct pollfd){ .fd = collect_exec_fd(run.exec), .events = POLLIN };
		if (run.files)
			pfd[nfd++] = (struct pollfd){ .fd = collect_files_fd(run.files), .events = POLLIN };
		until = next_checkin < next_tick ? next_checkin : next_tick;
		until = until < next_send ? until : next_send;
		until = until < run.flush_at ? until : run.flush_at;
		now = rtime_now_ms();
		/* A signal interrupts the poll and ends the loop. */
		if (poll(pfd, nfd, until > now ? (int)(until - now) : 0) > 0) {
			size_t before = json_array_size(run.pending);

			for (nfds_t i = 0; i < nfd; i++) {
				if (!(pfd[i].revents & POLLIN))
					continue;
				if (run.exec && pfd[i].fd == collect_exec_fd(run.exec))
					collect_exec_read(run.exec, run.pending);
				else if (run.files)
					collect_files_read(run.files, run.pending);
			}
			if (before == 0 && json_array_size(run.pending) > 0)
				run.flush_at = rtime_now_ms() + A_FLUSH_MS;
		}
	}
	a_run_close(&run);
	return o->count && failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "server", required_argument, NULL, 's' }, { "token", required_argument, NULL, 't' },
		{ "org", required_argument, NULL, 'o' }, { "owner", required_argument, NULL, 'w' },
		{ "state-dir", required_argument, NULL, 'd' }, { "root", required_argument, NULL, 'r' },
		{ "ca", required_argument, NULL, 'c' }, { "json", no_argument, NULL, 'j' },
		{ "interval", required_argument, NULL, 'i' }, { "count", required_argument, NULL, 'n' },
		{ "no-enforce", no_argument, NULL, 'N' },
		{ "buffer-max", required_argument, NULL, 'B' }, { "events-interval", required_argument, NULL, 'E' },
		{ "usbguard-rules", required_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct opts o = { .state_dir = A_DEFAULT_STATE, .root = "/", .interval_ms = A_DEFAULT_INTERVAL_MS,
			  .events_interval_ms = A_DEFAULT_EVENTS_INTERVAL_MS, .usbguard_rules = USBGUARD_DEFAULT_RULES };
	bool usbguard_set = false;
	const char *cmd;
	int ch, rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 's': o.server = optarg; break;
		case 't': o.token = optarg; break;
		case 'o': o.org = optarg; break;
		case 'w': o.owner = optarg; break;
		case 'd': o.state_dir = optarg; break;
		case 'r': o.root = optarg; break;
		case 'c': o.ca = optarg; break;
		case 'j': o.json = true; break;
		case 'i':
			if (str_parse_duration_ms(optarg, &o.interval_ms) < 0 || o.interval_ms < A_MIN_INTERVAL_MS ||
			    o.interval_ms > (int64_t)24 * 3600 * 1000) {
				fputs("rampart-agent: --interval must be a duration from 1s to 24h, such as 5m\n", stderr);
				return 2;
			}
			o.interval_set = true;
			break;
		case 'n':
			if (str_parse_i64(optarg, 1, 1000000, &o.count) < 0) {
				fputs("rampart-agent: --count must be a number from 1 to 1000000\n", stderr);
				return 2;
			}
			break;
		case 'N': o.no_enforce = true; break;
		case 'B': {
			int64_t mib;

			if (str_parse_i64(optarg, 1, (int64_t)(OPLOG_MAX_MAX_BYTES >> 20), &mib) < 0) {
				fputs("rampart-agent: --buffer-max must be a size in MiB from 1 to 4096\n", stderr);
				return 2;
			}
			o.buffer_max = (uint64_t)mib << 20;
			break;
		}
		case 'E':
			if (str_parse_duration_ms(optarg, &o.events_interval_ms) < 0 ||
			    o.events_interval_ms < A_MIN_INTERVAL_MS || o.events_interval_ms > (int64_t)3600 * 1000) {
				fputs("rampart-agent: --events-interval must be a duration from 1s to 1h, such as 10s\n", stderr);
				return 2;
			}
			break;
		case 'U':
			o.usbguard_rules = optarg[0] ? optarg : NULL;
			usbguard_set = true;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	/* A fixture root is a test: the real system's USBGuard rules are not touched unless asked. */
	if (!usbguard_set && strcmp(o.root, "/") != 0)
		o.usbguard_rules = NULL;
	/* libcurl is loaded where a command first needs the network (net.h). */
	if (sodium_init() < 0) {
		fputs("rampart-agent: cannot initialize libsodium\n", stderr);
		return 1;
	}
	if (strcmp(cmd, "enroll") == 0)
		rc = cmd_enroll(&o);
	else if (strcmp(cmd, "posture") == 0)
		rc = cmd_posture(&o);
	else if (strcmp(cmd, "checkin") == 0)
		rc = cmd_checkin(&o);
	else if (strcmp(cmd, "run") == 0)
		rc = cmd_run(&o);
	else if (strcmp(cmd, "status") == 0)
		rc = cmd_status(&o);
	else if (strcmp(cmd, "events") == 0)
		rc = cmd_events(&o);
	else {
		usage(stderr);
		rc = 2;
	}
	net_done();
	return rc;
}
