/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * request: rampart-agent's requests to rampartd.  Every request is a JSON
 * POST; all but enrollment are signed with the device key as the device
 * (Ed25519 over method, path, timestamp and body: devsig.h).  libcurl is
 * loaded with dlopen() where a command first needs the network (net.h).
 *
 * Invariants: an answer is read up to A_MAX_RESPONSE bytes, never more;
 * a failure to reach the server is reported here, once; a refusal (a
 * status the caller did not expect) is reported by the caller through
 * agent_print_error.
 *
 * Memory: `run` sends from a child process (agent_post_child) that loads
 * libcurl, does the exchange and exits, so that the long-running process
 * never maps libcurl and its ~35 libraries.  The child changes nothing: it
 * hands back its result, the status and the answer's body through a pipe,
 * and the parent alone acts on the answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"
#include "common/fsio.h"
#include "agent/net.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/rtime.h"

#define A_MAX_RESPONSE ((size_t)1 << 20)

/*
 * POSTs @body to @server + @path, signed with @sk as @device_id when @sk is
 * given, through libcurl (net.h).  Returns 0 with the status and the
 * answer's body in @resp (bounded by its limit), or a negative error after
 * reporting it when the server could not be reached or libcurl is missing.
 */
static int a_exchange(const struct agent_opts *o, const char *server, const char *path, const char *body,
		      const char *device_id, const unsigned char *sk, long *ret_status, struct buf *resp)
{
	char url[AGENT_PATH], h_dev[128], h_ts[64], h_sig[128], sig[DEVSIG_SIG_B64_SIZE];
	const char *hdrs[] = { "Content-Type: application/json", h_dev, h_ts, h_sig };
	struct net_post p = { .url = url, .headers = hdrs, .n_headers = 1, .body = body, .body_len = strlen(body),
			      .ca = o->ca, .user_agent = "rampart-agent/" RAMPART_VERSION, .connect_timeout_s = 30,
			      .timeout_s = 300 };
	struct rerr e = { "" };
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
	r = net_post(&p, ret_status, resp, &e);
	if (r == -ENOENT)
		fprintf(stderr, "rampart-agent: %s\n", rerr_text(&e, r));
	else if (r < 0)
		fprintf(stderr, "rampart-agent: %s: %s\n", url, rerr_text(&e, r));
	return r;
}

int agent_post(const struct agent_opts *o, const char *server, const char *path, const char *body,
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

/*
 * The child's side of agent_post_child: the exchange, then its result and
 * the status (two int64) and the answer's body on @fd.  Never returns.
 */
__attribute__((noreturn))
static void a_post_in_child(int fd, const struct agent_opts *o, const char *server, const char *path,
			    const char *body, const char *device_id, const unsigned char *sk)
{
	int64_t hdr[2] = { 0, 0 };
	struct buf resp;
	long st = 0;
	int r;

	buf_init(&resp, A_MAX_RESPONSE);
	hdr[0] = a_exchange(o, server, path, body, device_id, sk, &st, &resp);
	hdr[1] = st;
	r = fsio_write_all(fd, hdr, sizeof(hdr));
	if (r == 0 && hdr[0] == 0 && resp.len)
		r = fsio_write_all(fd, resp.data, resp.len);
	_exit(r < 0 ? 1 : 0);
}

/*
 * The child has the body and the key by fork() and sends back through a
 * pipe its result and the status (two int64) and the answer's body; the
 * parent parses the answer.
 */
int agent_post_child(const struct agent_opts *o, const char *server, const char *path, const char *body,
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
		close(fds[0]);
		a_post_in_child(fds[1], o, server, path, body, device_id, sk);
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

void agent_print_error(long status, const json_t *ans)
{
	const char *msg = json_string_value(json_object_get(json_object_get(ans, "error"), "message"));

	fprintf(stderr, "rampart-agent: server answered %ld: %s\n", status, msg ? msg : "(no message)");
}
