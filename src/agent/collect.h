/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * collect: rampart-agent's collectors of operation-log events
 * (docs/formats/agent-events.md), each reading under a root directory
 * ("/" on a real system, a fixture tree in tests):
 *
 *   exec        process executions: the kernel's netlink process connector
 *               (PROC_EVENT_EXEC; needs CAP_NET_ADMIN and the initial
 *               network namespace), else a scan of /proc each tick, which
 *               misses processes that live shorter than a tick and
 *               execve() of a running process (collect_exec.c);
 *   login/logout  utmpx records appended to /var/log/wtmp, followed from
 *               the offset last read (kept in STATE_DIR/wtmp.json), rotation
 *               detected by inode or a shrunk file, the old file's unread
 *               tail taken from wtmp.1 (collect_wtmp.c);
 *   usb_insert/usb_remove/usb_block  snapshots of /sys/bus/usb/devices
 *               compared each tick, the last one kept in STATE_DIR/usb.json
 *               so that changes while the agent was stopped are reported
 *               too (collect_usb.c);
 *   file_write  files closed after writing on mounts of removable USB
 *               storage: fanotify FAN_CLOSE_WRITE marks on the mounts found
 *               in /proc/self/mountinfo whose block device sits on USB
 *               (collect_files.c).
 *
 * Every event is a new JSON object {"ts": ms, "kind": K, ...} with the
 * fields of docs/formats/agent-events.md; strings read from the system or from a device's
 * descriptors are made printable and cut to COLLECT_MAX_STR (paths
 * COLLECT_MAX_PATH) bytes.  Collectors append their events to an array
 * given by the caller; state files are written only by *_commit, which the
 * caller calls after the events are safely in the on-disk buffer (so a
 * crash repeats events rather than losing them).
 */
#ifndef RAMPART_AGENT_COLLECT_H
#define RAMPART_AGENT_COLLECT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COLLECT_MAX_STR 256
#define COLLECT_MAX_PATH 4096
#define COLLECT_MAX_ARGV 64          /* argv items kept per exec */
#define COLLECT_MAX_ARGV_BYTES 4096  /* argv text kept per exec */
#define COLLECT_MAX_USB 256

/* ---------------------------------------------------------------- helpers (collect.c) */

/*
 * A new JSON string of @s (@len bytes) made safe for an event: control
 * characters and invalid UTF-8 become '?', cut to @max bytes on a
 * character boundary; an empty result becomes @empty (may be NULL: "").
 */
json_t *collect_str(const char *s, size_t len, size_t max, const char *empty);

/*
 * Masks what looks like a secret in a command line, in place, so that an
 * operation log does not carry passwords or tokens typed on it:
 *   - the value of an option or assignment whose name contains password,
 *     passwd, passphrase, secret, token, apikey/api-key/api_key, auth or
 *     credential (--password=X, PASSWORD=X, --token X: the next item);
 *   - what follows "Bearer " or "Basic " (an Authorization header);
 *   - the password of a URL's user information (scheme://user:X@host).
 * A masked value reads COLLECT_REDACTED.  Returns how many were masked.
 */
#define COLLECT_REDACTED "[redacted]"
size_t collect_argv_redact(json_t *argv);

/* A new event {"ts": @ts_ms, "kind": @kind}, or NULL when out of memory. */
json_t *collect_event(const char *kind, int64_t ts_ms);

/*
 * The login name of @uid, else its number: through NSS (getpwuid_r) for the
 * root "/" (or NULL), from @root/etc/passwd for a fixture tree.
 */
void collect_user(const char *root, uint32_t uid, char *out, size_t size);

/* ---------------------------------------------------------------- exec (collect_exec.c) */

struct collect_exec;

/*
 * Starts the process-execution collector.  With @use_netlink it tries the
 * process connector first and falls back, saying so once in the log, to
 * scanning @root/proc.  Returns 0 and *ret, or -ENOMEM.
 */
int collect_exec_open(const char *root, bool use_netlink, struct collect_exec **ret);
void collect_exec_close(struct collect_exec *c);

/* The netlink socket to poll for input, or -1 in scan mode. */
int collect_exec_fd(const struct collect_exec *c);

/* True when the process connector is in use. */
bool collect_exec_is_netlink(const struct collect_exec *c);

/* Reads the pending connector messages (fd readable), appending exec events to @out. */
int collect_exec_read(struct collect_exec *c, json_t *out);

/*
 * Scan mode: compares @root/proc with the last scan and appends an exec
 * event per new process (the first scan only records what runs).
 * Does nothing in netlink mode.  Returns 0 or -ENOMEM.
 */
int collect_exec_tick(struct collect_exec *c, int64_t now_ms, json_t *out);

/*
 * Describes process @pid from @root/proc/PID/{exe,cmdline,status,cwd} as a
 * new exec event at @ts_ms.  Returns 0 and *ret, -ENOENT (gone: a process
 * that ended before it was read) or -ENOMEM.
 */
int collect_exec_describe(const char *root, int pid, int64_t ts_ms, json_t **ret);

/* ---------------------------------------------------------------- wtmp (collect_wtmp.c) */

struct collect_wtmp;

/*
 * Follows @root/var/log/wtmp from the position kept in @state_dir/wtmp.json;
 * without one it starts at the end of the file (history before the agent
 * was installed is not sent).  Returns 0 and *ret, or -ENOMEM.
 */
int collect_wtmp_open(const char *root, const char *state_dir, struct collect_wtmp **ret);
void collect_wtmp_close(struct collect_wtmp *c);

/* Reads the records appended since the last call, appending login and logout events to @out. */
int collect_wtmp_tick(struct collect_wtmp *c, json_t *out);

/* Saves the position read so far.  Returns 0 or -errno. */
int collect_wtmp_commit(struct collect_wtmp *c);

/*
 * Parses @len bytes of utmpx records (a whole number of them; a partial
 * one at the end is left for later and its size returned in *ret_rest),
 * appending events to @out; @ttys maps tty -> user for logouts (whose
 * records carry no user).  Returns 0 or -ENOMEM.
 */
int collect_wtmp_parse(const void *data, size_t len, json_t *ttys, json_t *out, size_t *ret_rest);

/* ---------------------------------------------------------------- USB (collect_usb.c) */

struct collect_usb;

/* How a non-designated storage device is treated: USBGuard blocks it, or it is only reported. */
enum collect_usb_mode { COLLECT_USB_REPORT, COLLECT_USB_BLOCK };

/*
 * Takes snapshots of @root/sys/bus/usb/devices, compared with the last one
 * kept in @state_dir/usb.json.  Returns 0 and *ret, or -ENOMEM.
 */
int collect_usb_open(const char *root, const char *state_dir, struct collect_usb **ret);
void collect_usb_close(struct collect_usb *c);

/*
 * Sets the designated media (the policy's removable_media, not stolen; NULL
 * none) and whether USBGuard enforces them.
 */
void collect_usb_set_policy(struct collect_usb *c, const json_t *media, enum collect_usb_mode mode);

/*
 * Compares a new snapshot with the last: usb_insert (with action
 * "allowed", "blocked" or "reported"), usb_remove, and usb_block for a
 * device the kernel shows as not authorized (USBGuard blocked it).
 */
int collect_usb_tick(struct collect_usb *c, int64_t now_ms, json_t *out);

/* Saves the last snapshot.  Returns 0 or -errno. */
int collect_usb_commit(struct collect_usb *c);

/*
 * The snapshot itself: a new object keyed by sysfs device name of
 * {"vendor","product","serial"?,"name"?,"storage","authorized"}.
 */
int collect_usb_snapshot(const char *root, json_t **ret);

/* True when @dev ({"vendor","product","serial"}) is in the designated @media list. */
bool collect_usb_is_designated(const json_t *media, const json_t *dev);

/* ---------------------------------------------------------------- files (collect_files.c) */

struct collect_files;

/*
 * Starts the removable-media file collector (fanotify; needs
 * CAP_SYS_ADMIN).  Returns 0 and *ret, -ENOMEM, or the error of
 * fanotify_init (the caller reports it once and runs without).
 */
int collect_files_open(const char *root, struct collect_files **ret);
void collect_files_close(struct collect_files *c);
int collect_files_fd(const struct collect_files *c);

/* Re-reads the mount table, marking new removable mounts.  Returns 0 or -errno. */
int collect_files_tick(struct collect_files *c, json_t *out);

/* Reads pending fanotify events, appending file_write events to @out. */
int collect_files_read(struct collect_files *c, json_t *out);

/*
 * The mounts of @root/proc/self/mountinfo whose block device is USB
 * storage (its sysfs path under @root/sys/dev/block/MAJ:MIN runs through a
 * USB device): a new array of {"mount","source","device"} where device is
 * "vendor:product:serial".  Returns 0 and *ret, or -errno.
 */
int collect_files_removable_mounts(const char *root, json_t **ret);

#endif
