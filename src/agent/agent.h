/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * agent: what the files of the rampart-agent program share (internal; no
 * other program includes it).
 *
 *   main.c        the entry: options, --help, dispatch to a command
 *   state.c       the state directory: atomic writes, JSON files, the device key,
 *                 signed documents verified again when read
 *   request.c     signed requests to rampartd, in-process or in a child
 *   policy.c      the signed policy: stored, verified again, applied
 *   quarantine.c  the signed quarantine order and the nftables table
 *   cmd_enroll.c  enroll
 *   checkin.c     posture and checkin: the report, printed or sent
 *   cmd_status.c  status
 *   events.c      events, and sending the event buffer in signed batches
 *   run.c         run: the long-running loop
 *
 * The libraries below it (posture, file, net, firewall, oplog, collect,
 * usbguard) have their own headers and know nothing of these files.
 *
 * Conventions: functions return 0 or a negative error; those that say so
 * report on stderr (as "rampart-agent: ...") and the caller does not report
 * again.  The cmd_ functions return the process's exit code.
 */
#ifndef RAMPART_AGENT_AGENT_H
#define RAMPART_AGENT_AGENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/devsig.h"

#define AGENT_PATH 4096
#define AGENT_EVENTS_BATCH 1000   /* the server takes at most 1000 events per POST */

struct oplog;
struct rerr;

/* The command line, parsed once by main(); read-only afterwards. */
struct agent_opts {
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

/*
 * ---------------------------------------------------------------- commands
 * Each returns the exit code: 0, 1 after reporting a failure, 2 for a usage
 * error (enroll without --server and --token).  sodium_init() has run.
 */

int agent_cmd_enroll(const struct agent_opts *o);    /* cmd_enroll.c */
int agent_cmd_posture(const struct agent_opts *o);   /* checkin.c */
int agent_cmd_checkin(const struct agent_opts *o);   /* checkin.c; also run's child */
int agent_cmd_status(const struct agent_opts *o);    /* cmd_status.c */
int agent_cmd_events(const struct agent_opts *o);    /* events.c */
int agent_cmd_run(const struct agent_opts *o);       /* run.c; returns on SIGTERM, SIGINT or --count */

/* ---------------------------------------------------------------- state.c */

/* @dir/@name into @out.  Returns 0 or -ENAMETOOLONG. */
int agent_path(char *out, size_t size, const char *dir, const char *name);

/* Writes @v as compact JSON with sorted keys to @dir/@name (mode 0600) with fsio_replace.  Returns 0 or an error. */
int agent_write_json(const char *dir, const char *name, const json_t *v);

/*
 * Reads @dir/@name as JSON (duplicate keys refused).  Returns 0 with a new
 * value in *ret, -ENOENT when the file is missing, another -errno, or
 * ERR_INVALID when it is not JSON.
 */
int agent_read_json(const char *dir, const char *name, json_t **ret);

/*
 * Checks a signed document {document, signature} against what @ud holds
 * (the pinned key, the device id): policy_verify or qorder_verify behind a
 * common signature.  Returns 0 with the document in *ret, or an error with
 * @e filled.
 */
typedef int (*agent_verify_fn)(const json_t *signed_doc, const void *ud, json_t **ret, struct rerr *e);

/*
 * Reads the signed document @dir/@name and verifies it again with @verify,
 * so that a file changed on disk is never obeyed.  Returns 0 with the
 * document in *ret, -ENOENT when there is none (not reported), or an error
 * after reporting "the stored @what in @dir/@name is refused".
 */
int agent_signed_load(const char *dir, const char *name, const char *what, agent_verify_fn verify, const void *ud,
		      json_t **ret);

/* The server policy key pinned at enrollment, from device.json.  Returns 0 or ERR_INVALID. */
int agent_pinned_key(const json_t *state, unsigned char pk[DEVSIG_PK_BYTES]);

/*
 * Reads @state_dir/device.key into @sk (DEVSIG_SK_BYTES, the caller's
 * secure memory); the file's bytes are wiped from the heap.  Returns 0,
 * -errno, or ERR_INVALID when the file has the wrong size.
 */
int agent_device_key_load(const char *state_dir, unsigned char *sk);

/*
 * Loads device.json and the device key for a signed request.  Returns 0
 * with *ret_state (owned) and @sk filled, or an error (not enrolled).
 * Reports nothing.
 */
int agent_device_load(const struct agent_opts *o, json_t **ret_state, unsigned char *sk);

/* Prints @v on stdout, indented with sorted keys.  Returns 0 or -ENOMEM. */
int agent_print_json(const json_t *v);

/* ---------------------------------------------------------------- request.c */

/*
 * POSTs @body to @server + @path, signed with @sk as @device_id when @sk is
 * given (devsig.h), through libcurl (net.h).  Returns 0 with the status and
 * the JSON answer (NULL when none or not JSON), or a negative error after
 * reporting it when the server could not be reached or libcurl is missing.
 */
int agent_post(const struct agent_opts *o, const char *server, const char *path, const char *body,
	       const char *device_id, const unsigned char *sk, long *ret_status, json_t **ret_json);

/*
 * agent_post in a child process, for `run`: libcurl and the libraries it
 * loads stay out of the long-running process.  Returns what agent_post
 * returns, or -EIO when the child failed.
 */
int agent_post_child(const struct agent_opts *o, const char *server, const char *path, const char *body,
		     const char *device_id, const unsigned char *sk, long *ret_status, json_t **ret_json);

/* Reports a refusal: "server answered STATUS: MESSAGE" from the answer's error object. */
void agent_print_error(long status, const json_t *ans);

/* ---------------------------------------------------------------- policy.c */

/*
 * Loads the stored policy and verifies it again against @pk.  Returns 0
 * with the document in *ret, -ENOENT when there is none, or an error (a
 * stored policy that does not verify is reported and not used).
 */
int agent_policy_load(const char *state_dir, const unsigned char *pk, json_t **ret);

/* The version of a policy document; 0 for NULL (no policy). */
int64_t agent_policy_version(const json_t *doc);

/*
 * Applies the signed policy of a check-in answer: verifies it against @pk,
 * refuses one older than @cur (same unit, lower version), and stores it.
 * Returns 0 (applied or unchanged), or an error after reporting it, in
 * which case the last good policy stays.
 */
int agent_policy_apply(const char *state_dir, const unsigned char *pk, const json_t *signed_doc, const json_t *cur);

/* ---------------------------------------------------------------- quarantine.c */

/* Whether an order document quarantines (false for NULL). */
bool agent_quarantined(const json_t *doc);

/* When an order document was issued (Unix ms; 0 for NULL). */
int64_t agent_issued_at(const json_t *doc);

/*
 * Loads the stored quarantine order and verifies it again against @pk for
 * @did.  Returns 0 with the document in *ret, -ENOENT when there is none,
 * or an error (reported; the stored order is not used).
 */
int agent_quarantine_load(const char *state_dir, const unsigned char *pk, const char *did, json_t **ret);

/*
 * Applies the signed quarantine order of a check-in answer (see
 * quarantine.c).  Returns 0, ERR_INVALID or ERR_UNAUTHENTICATED for an
 * order refused (nothing changed), or another error when it could not be
 * enforced or stored; every failure is reported.
 */
int agent_quarantine_apply(const struct agent_opts *o, const char *server, const unsigned char *pk,
			   const char *did, const json_t *signed_order);

/*
 * Re-installs the table of a stored quarantine (device.json in @state,
 * server key @pk).  Returns 0 (nothing to do included) or an error
 * after reporting it.
 */
int agent_quarantine_restore(const struct agent_opts *o, const json_t *state, const unsigned char *pk);

/* ---------------------------------------------------------------- events.c, run.c */

/*
 * Sends the event buffer @ol in batches of at most *@batch_max events
 * (adapted to the server's answers, at most AGENT_EVENTS_BATCH) until none
 * is left, each POST in a child (agent_post_child), dropping from the
 * buffer what the server's accepted_through covers.  Returns 0 when
 * everything pending was accepted or the PC is not enrolled yet, or an
 * error (unreachable server, refusal) after which the caller backs off;
 * the events stay buffered.
 */
int agent_events_send(const struct agent_opts *o, struct oplog *ol, size_t *batch_max);

/* STATE_DIR/events, the event buffer's directory.  Returns 0 or -ENAMETOOLONG. */
int agent_events_dir(const struct agent_opts *o, char *out, size_t size);

/* Whether SIGTERM or SIGINT asked `run` to stop. */
bool agent_stopping(void);

#endif
