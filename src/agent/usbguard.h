/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * usbguard: USB device control through USBGuard.
 *
 * The policy's removable_media list becomes USBGuard rules, in order:
 *   allow id VVVV:PPPP serial "S"            one per designated medium
 *   block with-interface one-of { 08:*:* }   any other device with a mass-storage interface
 *   allow                                    everything else (keyboards, mice, hubs, ...)
 * USBGuard applies the first rule that matches.  A designated medium whose
 * vendor or product is not a 4-digit hexadecimal USB id cannot be named in
 * a rule; it is left out and counted, so it stays blocked.
 *
 * The rules go to a file of their own (default USBGUARD_DEFAULT_RULES, in
 * the daemon's RuleFolder), replaced atomically, and the daemon is
 * restarted to load them when it runs under systemd.  Without USBGuard the
 * agent only reports (collect.h, COLLECT_USB_REPORT).
 */
#ifndef RAMPART_AGENT_USBGUARD_H
#define RAMPART_AGENT_USBGUARD_H

#include <jansson.h>
#include <stddef.h>

#include "common/buf.h"

#define USBGUARD_DEFAULT_RULES "/etc/usbguard/rules.d/70-rampart.conf"

/*
 * Appends the rules for @media (the policy's removable_media array, or NULL
 * for none) to @out; *ret_skipped (may be NULL) gets the number of media
 * left out.  Returns 0, -ENOMEM or -EMSGSIZE.
 */
int usbguard_rules(const json_t *media, struct buf *out, size_t *ret_skipped);

/*
 * Writes @text to @path when it differs from what is there (0600,
 * temporary file, fsync, rename) and, when it changed or @force, restarts
 * a running usbguard daemon.  Returns 1 when the daemon enforces the rules,
 * 0 when the file was written but no daemon runs (report only), -ENOENT
 * when USBGuard is not installed (nothing written), or -errno.
 */
int usbguard_apply(const char *path, const char *text, int force);

#endif
