/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * run: `rampart-agent run [--interval D] [--count N] [--root DIR]
 * [--events-interval D] [--buffer-max MIB] [--usbguard-rules FILE]`, the
 * long-running loop of a PC's agent.
 *
 * It checks in every interval (the stored policy's checkin_interval unless
 * --interval is given), shifted by up to a tenth of it either way so that
 * a fleet started together spreads out, until SIGTERM or SIGINT (or
 * --count check-ins).  A failed check-in is reported and retried at the
 * next one.  Between check-ins one poll loop runs the collectors
 * (collect.h: their sockets as they become readable, the rest every
 * A_TICK_MS), puts their events in the disk buffer (oplog.h; socket events
 * grouped for up to A_FLUSH_MS, so that a busy PC does not fsync per
 * process) and sends it every --events-interval (events.c), backing off
 * while the server cannot be reached.  After each check-in the policy's
 * removable_media become USBGuard rules (usbguard.h) and the USB
 * collector's idea of what is allowed.
 *
 * Memory: each check-in (checkin.c), the quarantine restore at the start
 * and each POST of events (request.c) run in a forked child that loads
 * libcurl, does the work and exits, so that the long-running process never
 * maps libcurl and its ~35 libraries, nor keeps the check-in's package
 * list.  The children change only files and the nftables table; the parent
 * alone drops from the buffer what the server's accepted_through covers.
 *
 * Invariants: collector positions (wtmp, USB) move only once what they
 * read is on disk, so a crash repeats events and never loses them; one
 * `run` per state directory (the buffer's lock).  Exit code: 1 when the
 * start failed, or with --count when any check-in failed; else 0.
 */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/collect.h"
#include "agent/oplog.h"
#include "agent/usbguard.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/rtime.h"
#include "formats/policy.h"

#define A_TICK_MS 2000                        /* collectors without a socket: USB, wtmp, mounts, /proc scan */
#define A_FLUSH_MS 1000                       /* events from sockets reach the disk buffer within this */
#define A_FLUSH_EVENTS 256                    /* ... or once this many are waiting: one fsync per group */
#define A_MIN_BACKOFF_MS 1000
#define A_MAX_BACKOFF_MS (5 * 60 * 1000)

static volatile sig_atomic_t a_stop;

static void a_on_signal(int sig)
{
	(void)sig;
	a_stop = 1;
}

bool agent_stopping(void)
{
	return a_stop != 0;
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
	/* the schedule of the loop */
	int64_t done, next_checkin, next_tick, next_send, backoff;
	int failures;
};

/* The check-in interval of the stored good policy, or the default. */
static int64_t a_run_interval(const struct agent_opts *o)
{
	unsigned char spk[DEVSIG_PK_BYTES];
	json_t *state = NULL, *doc = NULL;
	int64_t ms = o->interval_ms;

	if (agent_read_json(o->state_dir, "device.json", &state) == 0 && agent_pinned_key(state, spk) == 0 &&
	    agent_policy_load(o->state_dir, spk, &doc) == 0 &&
	    policy_interval_ms(json_object_get(doc, "policy"), &ms) < 0)
		ms = o->interval_ms;
	json_decref(state);
	json_decref(doc);
	return ms;
}

/* A quarantine survives restarts: the stored order's table goes back in before anything else. */
static int a_run_restore(const struct agent_opts *o)
{
	unsigned char spk[DEVSIG_PK_BYTES];
	json_t *state = NULL;

	if (agent_read_json(o->state_dir, "device.json", &state) == 0 && agent_pinned_key(state, spk) == 0)
		agent_quarantine_restore(o, state, spk);
	json_decref(state);
	return 0;
}

/*
 * Runs @fn in a child process and returns its exit code (1 when it could
 * not start or was killed).  `run` does its check-ins (posture, HTTP,
 * policy and quarantine, all of whose results are files and the nftables
 * table) this way, so that libcurl and the libraries it loads, and the
 * memory of the package list, never stay in the long-running process.
 */
static int a_run_child(const struct agent_opts *o, int (*fn)(const struct agent_opts *o), const char *what)
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

/* Writes the USBGuard rules of @media; returns how the USB collector treats storage that is not allowed. */
static enum collect_usb_mode a_run_usbguard(const struct agent_opts *o, const json_t *media)
{
	enum collect_usb_mode mode = COLLECT_USB_REPORT;
	struct buf rules;
	size_t skipped = 0;
	int r;

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
	return mode;
}

/*
 * The policy's removable media become USBGuard rules (when USBGuard is
 * installed) and the USB collector's idea of what is allowed; only when
 * the policy's version changed, unless @force.
 */
static void a_run_policy(const struct agent_opts *o, struct a_run *run, bool force)
{
	unsigned char spk[DEVSIG_PK_BYTES];
	json_t *state = NULL, *doc = NULL;
	const json_t *media = NULL;
	enum collect_usb_mode mode;
	int64_t version = 0;

	if (agent_read_json(o->state_dir, "device.json", &state) == 0 && agent_pinned_key(state, spk) == 0 &&
	    agent_policy_load(o->state_dir, spk, &doc) == 0) {
		media = json_object_get(json_object_get(doc, "policy"), "removable_media");
		version = agent_policy_version(doc);
	}
	if (!force && version == run->policy_version) {
		json_decref(state);
		json_decref(doc);
		return;
	}
	run->policy_version = version;
	mode = a_run_usbguard(o, media);
	if (run->usb)
		collect_usb_set_policy(run->usb, media, mode);
	json_decref(state);
	json_decref(doc);
}

static void a_run_open(const struct agent_opts *o, struct a_run *run)
{
	int r;

	run->batch_max = AGENT_EVENTS_BATCH;
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

/*
 * The start of `run`: signal handlers, the quarantine restore, the state
 * directory, the event buffer and the collectors.  Returns 0, or 1 (the
 * exit code) after reporting why it cannot run.
 */
static int a_run_start(const struct agent_opts *o, struct a_run *run)
{
	struct oplog_opts oo = { .max_bytes = o->buffer_max };
	struct sigaction sa;
	char dir[AGENT_PATH];
	int r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = a_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	a_run_child(o, a_run_restore, "quarantine restore");
	if (mkdir(o->state_dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "rampart-agent: cannot create %s: %s\n", o->state_dir, strerror(errno));
		return 1;
	}
	r = agent_events_dir(o, dir, sizeof(dir));
	if (r == 0)
		r = oplog_open(dir, &oo, &run->ol);
	if (r < 0) {
		fprintf(stderr, "rampart-agent: cannot open the event buffer in %s: %s\n", dir,
			r == -EBUSY ? "another rampart-agent run holds it" : err_str(r));
		return 1;
	}
	run->pending = json_array();
	if (!run->pending) {
		oplog_close(run->ol);
		return 1;
	}
	a_run_open(o, run);
	return 0;
}

/* A check-in in a child, then the policy's USB rules and the time of the next one.  Returns whether it was the last. */
static bool a_run_checkin(const struct agent_opts *o, struct a_run *run, int64_t now)
{
	int64_t wait = o->interval_ms, jitter;
	bool last_round;

	run->failures += a_run_child(o, agent_cmd_checkin, "check-in") != 0;
	run->done++;
	a_run_policy(o, run, run->done == 1);
	/* A check-in builds the whole package list; give that memory back between them. */
	malloc_trim(0);
	last_round = o->count && run->done >= o->count;
	if (!o->interval_set)
		wait = a_run_interval(o);
	jitter = wait / 10;
	if (jitter > 0)
		wait += (int64_t)randombytes_uniform((uint32_t)(2 * jitter + 1)) - jitter;
	run->next_checkin = now + wait;
	return last_round;
}

/* Sends the buffer, and schedules the next sending: the interval, or a growing back-off after a failure. */
static void a_run_send(const struct agent_opts *o, struct a_run *run, int64_t now)
{
	if (agent_events_send(o, run->ol, &run->batch_max) < 0) {
		run->backoff = run->backoff ? run->backoff * 2 : A_MIN_BACKOFF_MS;
		if (run->backoff > A_MAX_BACKOFF_MS)
			run->backoff = A_MAX_BACKOFF_MS;
		run->next_send = now + run->backoff;
	} else {
		run->backoff = 0;
		run->next_send = now + o->events_interval_ms;
	}
}

/* Waits for the collectors' sockets until the next thing due; a signal interrupts the wait. */
static void a_run_wait(struct a_run *run)
{
	struct pollfd pfd[2];
	nfds_t nfd = 0;
	int64_t now, until;

	if (run->exec && collect_exec_fd(run->exec) >= 0)
		pfd[nfd++] = (struct pollfd){ .fd = collect_exec_fd(run->exec), .events = POLLIN };
	if (run->files)
		pfd[nfd++] = (struct pollfd){ .fd = collect_files_fd(run->files), .events = POLLIN };
	until = run->next_checkin < run->next_tick ? run->next_checkin : run->next_tick;
	until = until < run->next_send ? until : run->next_send;
	until = until < run->flush_at ? until : run->flush_at;
	now = rtime_now_ms();
	if (poll(pfd, nfd, until > now ? (int)(until - now) : 0) > 0) {
		size_t before = json_array_size(run->pending);

		for (nfds_t i = 0; i < nfd; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			if (run->exec && pfd[i].fd == collect_exec_fd(run->exec))
				collect_exec_read(run->exec, run->pending);
			else if (run->files)
				collect_files_read(run->files, run->pending);
		}
		if (before == 0 && json_array_size(run->pending) > 0)
			run->flush_at = rtime_now_ms() + A_FLUSH_MS;
	}
}

int agent_cmd_run(const struct agent_opts *o)
{
	struct a_run run = { 0 };

	if (a_run_start(o, &run) != 0)
		return 1;
	while (!a_stop) {
		int64_t now = rtime_now_ms();
		bool last_round = false;

		if (now >= run.next_checkin)
			last_round = a_run_checkin(o, &run, now);
		if (now >= run.next_tick || last_round) {
			a_run_collect(&run, now);
			run.next_tick = now + A_TICK_MS;
		} else if (now >= run.flush_at || json_array_size(run.pending) >= A_FLUSH_EVENTS) {
			a_run_store(&run, run.pending);
			run.flush_at = INT64_MAX;
		}
		if (now >= run.next_send || last_round)
			a_run_send(o, &run, now);
		if (last_round)
			break;
		a_run_wait(&run);
	}
	a_run_close(&run);
	return o->count && run.failures ? 1 : 0;
}
