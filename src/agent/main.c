/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * rampart-agent: the endpoint agent.  This file is its entry: the options,
 * --help, and the dispatch to a command.
 *
 *   rampart-agent enroll --server URL --token T [--org UNIT] [--owner LOGIN]   cmd_enroll.c
 *   rampart-agent posture [--json] [--root DIR]                                checkin.c
 *   rampart-agent checkin [--root DIR] [--json]                                checkin.c
 *   rampart-agent run [--interval D] [--count N] [--root DIR]                  run.c
 *   rampart-agent status [--json]                                              cmd_status.c
 *   rampart-agent events [--json]                                              events.c
 * common: [--state-dir DIR] (default /var/lib/rampart-agent) [--ca FILE]
 *         [--no-enforce]
 *
 * agent.h lists the files and what they share; state.c describes the state
 * directory, policy.c and quarantine.c the signed documents the server
 * sends, run.c the long-running loop and its memory.
 *
 * Exit codes: 0 success, 1 failure (reported on stderr), 2 a usage error
 * (the usage on stderr).  Every option is accepted by every command and
 * ignored where it means nothing; --help anywhere prints the usage on
 * stdout.  Only this file exits; the commands return their exit code.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/firewall.h"
#include "agent/net.h"
#include "agent/oplog.h"
#include "agent/usbguard.h"
#include "common/err.h"
#include "common/str.h"

#define A_DEFAULT_STATE "/var/lib/rampart-agent"
#define A_DEFAULT_INTERVAL_MS (5 * 60 * 1000)
#define A_MIN_INTERVAL_MS 1000
#define A_DEFAULT_EVENTS_INTERVAL_MS 10000    /* buffered events are sent this often */

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

/* A --interval or --events-interval value: a duration from 1s to @max_ms.  Returns 0 or an error. */
static int a_parse_interval(const char *arg, int64_t max_ms, int64_t *ret_ms)
{
	if (str_parse_duration_ms(arg, ret_ms) < 0 || *ret_ms < A_MIN_INTERVAL_MS || *ret_ms > max_ms)
		return ERR_INVALID;
	return 0;
}

/*
 * Parses the options after the command into @o.  Returns -1 to go on, or
 * the exit code (0 after --help, 2 after a usage error, both reported).
 */
static int a_parse_opts(int argc, char **argv, struct agent_opts *o)
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
	bool usbguard_set = false;
	int64_t mib;
	int ch;

	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 's': o->server = optarg; break;
		case 't': o->token = optarg; break;
		case 'o': o->org = optarg; break;
		case 'w': o->owner = optarg; break;
		case 'd': o->state_dir = optarg; break;
		case 'r': o->root = optarg; break;
		case 'c': o->ca = optarg; break;
		case 'j': o->json = true; break;
		case 'i':
			if (a_parse_interval(optarg, (int64_t)24 * 3600 * 1000, &o->interval_ms) < 0) {
				fputs("rampart-agent: --interval must be a duration from 1s to 24h, such as 5m\n", stderr);
				return 2;
			}
			o->interval_set = true;
			break;
		case 'n':
			if (str_parse_i64(optarg, 1, 1000000, &o->count) < 0) {
				fputs("rampart-agent: --count must be a number from 1 to 1000000\n", stderr);
				return 2;
			}
			break;
		case 'N': o->no_enforce = true; break;
		case 'B':
			if (str_parse_i64(optarg, 1, (int64_t)(OPLOG_MAX_MAX_BYTES >> 20), &mib) < 0) {
				fputs("rampart-agent: --buffer-max must be a size in MiB from 1 to 4096\n", stderr);
				return 2;
			}
			o->buffer_max = (uint64_t)mib << 20;
			break;
		case 'E':
			if (a_parse_interval(optarg, (int64_t)3600 * 1000, &o->events_interval_ms) < 0) {
				fputs("rampart-agent: --events-interval must be a duration from 1s to 1h, such as 10s\n", stderr);
				return 2;
			}
			break;
		case 'U':
			o->usbguard_rules = optarg[0] ? optarg : NULL;
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
	if (!usbguard_set && strcmp(o->root, "/") != 0)
		o->usbguard_rules = NULL;
	return -1;
}

static const struct {
	const char *name;
	int (*fn)(const struct agent_opts *o);
} a_commands[] = {
	{ "enroll", agent_cmd_enroll }, { "posture", agent_cmd_posture }, { "checkin", agent_cmd_checkin },
	{ "run", agent_cmd_run },       { "status", agent_cmd_status },   { "events", agent_cmd_events },
};

int main(int argc, char **argv)
{
	struct agent_opts o = { .state_dir = A_DEFAULT_STATE, .root = "/", .interval_ms = A_DEFAULT_INTERVAL_MS,
				.events_interval_ms = A_DEFAULT_EVENTS_INTERVAL_MS,
				.usbguard_rules = USBGUARD_DEFAULT_RULES };
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	rc = a_parse_opts(argc, argv, &o);
	if (rc >= 0)
		return rc;
	/* libcurl is loaded where a command first needs the network (net.h). */
	if (sodium_init() < 0) {
		fputs("rampart-agent: cannot initialize libsodium\n", stderr);
		return 1;
	}
	rc = -1;
	for (size_t i = 0; i < sizeof(a_commands) / sizeof(a_commands[0]); i++)
		if (strcmp(argv[1], a_commands[i].name) == 0)
			rc = a_commands[i].fn(&o);
	if (rc < 0) {
		usage(stderr);
		rc = 2;
	}
	net_done();
	return rc;
}
