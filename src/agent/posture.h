/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * posture: what rampart-agent reports about its PC, read from files under a
 * root directory ("/" on a real system, a fixture tree in tests):
 *   /etc/os-release, /etc/machine-id, /proc/sys/kernel/osrelease,
 *   /proc/uptime, /proc/mounts with /sys/block/dm-N/dm/{name,uuid} and
 *   slaves/ (dm-crypt/LUKS of / and /home), /var/lib/dpkg/status,
 *   /var/lib/clamav (age of the newest .cvd or .cld file), /sys/bus/usb/devices
 *   (mass-storage interfaces and their devices), and the output of
 *   `nft list ruleset` (the nft program on PATH).
 *
 * Every file is read with a size limit; the parsers take untrusted bytes
 * with a length and fail with a message in a struct rerr (common/err.h),
 * whose position is the line at fault when there is one.
 */
#ifndef RAMPART_POSTURE_H
#define RAMPART_POSTURE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define POSTURE_MAX_FILE ((size_t)64 << 20)   /* dpkg status of a large system stays far below */
#define POSTURE_MAX_SMALL_FILE ((size_t)64 << 10)
#define POSTURE_MAX_PACKAGES 50000
#define POSTURE_MAX_FIELD 256
#define POSTURE_MAX_USB 256
#define POSTURE_MAX_ADDRESSES 64

/*
 * Parses os-release text (KEY=VALUE lines, values optionally quoted) into a
 * new object of the keys ID, VERSION_ID, PRETTY_NAME, VERSION_CODENAME as
 * id, version_id, pretty_name, codename.  Returns 0 and *ret, -ENOMEM, or
 * ERR_INVALID with @e filled.
 */
int posture_os_release_parse(const char *data, size_t len, json_t **ret, struct rerr *e);

/*
 * Parses a dpkg status file into a new array of {"name","version","source"}
 * for packages whose Status is "install ok installed", sorted as in the
 * file.  source is the Source field without its version, or the package
 * name.  Refuses more than POSTURE_MAX_PACKAGES packages and fields longer
 * than POSTURE_MAX_FIELD.  Returns 0 and *ret, -ENOMEM or ERR_INVALID with @e.
 */
int posture_dpkg_parse(const char *data, size_t len, json_t **ret, struct rerr *e);

/*
 * Reads @path under @root (at most @max bytes) into a new NUL-terminated
 * buffer.  Returns 0 with *ret and *ret_len, -errno, or ERR_TOO_LARGE.
 */
int posture_read_file(const char *root, const char *path, size_t max, char **ret, size_t *ret_len);

/*
 * Reads the first line of @path under @root (a file of at most
 * POSTURE_MAX_SMALL_FILE bytes, such as a sysfs attribute) into @out of
 * @size bytes, without its newline, cut at a NUL byte and to @size - 1
 * bytes.  Returns 0, or the error of posture_read_file with @out untouched.
 */
int posture_read_line(const char *root, const char *path, char *out, size_t size);

/* Disk encryption of "/" and "/home": array of {"mount","device","encrypted"}. */
int posture_disk_encryption(const char *root, json_t **ret);

/* USB mass-storage devices: array of {"vendor_id","product_id","vendor","product","serial"}. */
int posture_usb_storage(const char *root, json_t **ret);

/* ClamAV: {"product":"clamav","present",bool,"signature_age_s":int|null,"databases":n} at @now_s. */
int posture_clamav(const char *root, int64_t now_s, json_t **ret);

/* The nftables table rampart-agent installs to quarantine its PC (firewall.h). */
#define POSTURE_QUARANTINE_TABLE "rampart_quarantine"

/*
 * Summary of `nft list ruleset` output fed in pieces: tables and lines
 * outside Rampart's own quarantine table, which never counts as the PC's
 * firewall.
 */
struct posture_nft_sum {
	char line[256];
	size_t len;
	bool in_own;
	int tables, lines;
};

void posture_nft_feed(struct posture_nft_sum *s, const char *data, size_t len);

/*
 * Firewall: runs `nft list ruleset` and answers {"nftables_active","rules","error"?};
 * active means at least one table other than POSTURE_QUARANTINE_TABLE.
 */
int posture_firewall(json_t **ret);

/*
 * The interface addresses (getifaddrs) as text, without duplicates: IPv4
 * and IPv6, except loopback interfaces, 127/8, unspecified and IPv6
 * link-local (fe80::/10, ambiguous between links); IPv4 link-local
 * 169.254/16 is kept.  At most POSTURE_MAX_ADDRESSES.  Returns 0 and a new
 * array in *ret, or -errno.
 */
int posture_addresses(json_t **ret);

/*
 * The whole report: os, kernel, uptime_s, machine_id, hostname,
 * packages {"mode":"full","items"}, disk_encryption, firewall, antivirus,
 * usb_storage, addresses, agent_version, policy_version.  Parts that cannot be read
 * are reported as null with an "errors" entry rather than failing the
 * report.  Returns 0 and *ret, or -ENOMEM.
 */
int posture_collect(const char *root, json_t **ret);

#endif
