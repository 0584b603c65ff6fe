/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * firewall: the nftables table with which rampart-agent quarantines its PC.
 *
 * `table inet rampart_quarantine` has base chains on the input, output and
 * forward hooks at priority FIREWALL_PRIORITY (after conntrack at -200, so
 * that "ct state" is known, and before the filter chains of other tables
 * at 0) with policy drop.  It accepts only
 *   - the loopback interface,
 *   - packets of connections already established (and related ICMP errors),
 *   - new TCP connections to the rampartd server's resolved addresses on
 *     its port,
 *   - DNS (UDP and TCP port 53) to the resolvers of /etc/resolv.conf,
 *   - DHCP/DHCPv6 and IPv6 neighbour discovery, without which the PC would
 *     lose the address through which it reaches rampartd.
 * Everything else, including forwarded traffic, is dropped.  Because a drop
 * in any base chain is final, no other table can let traffic around it.
 *
 * The table is installed and removed in one nftables transaction each
 * (through libnftables): installing replaces any previous table of that
 * name, so installing twice leaves one table; removing an absent table
 * succeeds.  Both need CAP_NET_ADMIN.
 */
#ifndef RAMPART_FIREWALL_H
#define RAMPART_FIREWALL_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/posture.h"
#include "common/err.h"

#define FIREWALL_TABLE POSTURE_QUARANTINE_TABLE
#define FIREWALL_PRIORITY (-150)
#define FIREWALL_MAX_SERVER_ADDRS 16
#define FIREWALL_MAX_RESOLVERS 8

struct firewall_addr {
	int family;   /* AF_INET or AF_INET6 */
	char text[INET6_ADDRSTRLEN];
};

/* What the quarantine lets through besides loopback, established traffic, DHCP and NDP. */
struct firewall_spec {
	struct firewall_addr server[FIREWALL_MAX_SERVER_ADDRS];
	size_t n_server;
	uint16_t server_port;
	struct firewall_addr resolvers[FIREWALL_MAX_RESOLVERS];
	size_t n_resolvers;
};

/*
 * Adds address text @s (IPv4 or IPv6, without a zone) to @arr (@n of at
 * most @max) unless it is there already.  Returns 0, ERR_INVALID (not an
 * address) or ERR_TOO_LARGE (full).
 */
int firewall_addr_add(struct firewall_addr *arr, size_t *n, size_t max, const char *s);

/*
 * Parses resolv.conf text: every "nameserver ADDR" line adds ADDR (an IPv6
 * zone "%eth0" is dropped) to the spec's resolvers.  Malformed lines are
 * skipped; more than FIREWALL_MAX_RESOLVERS are ignored.  Returns the
 * number of resolvers.
 */
size_t firewall_parse_resolv(const char *data, size_t len, struct firewall_spec *s);

/*
 * Fills @s for @server_url (http or https, port from the URL or the
 * scheme's default): the server host resolved with getaddrinfo, and the
 * resolvers of /etc/resolv.conf under @root (when they are all loopback,
 * as with systemd-resolved, also those of /run/systemd/resolve/resolv.conf).
 * The URL is parsed by libcurl (net.h).  Returns 0, ERR_INVALID (bad URL),
 * -EHOSTUNREACH (host did not resolve), -ENOENT or -EIO (libcurl missing
 * or failing) with @e (may be NULL) describing the failure, or -ENOMEM; the
 * resolvers are filled in every case, so that a quarantine still allows DNS.
 */
int firewall_spec_for(const char *server_url, const char *root, struct firewall_spec *s, struct rerr *e);

/*
 * The nftables script that atomically replaces the quarantine table with
 * the one @s describes.  Returns 0 and a new string in *ret, or -ENOMEM /
 * ERR_INVALID (server addresses without a port, or counts over the maxima).
 */
int firewall_ruleset(const struct firewall_spec *s, char **ret);

/*
 * Installs (or replaces) the quarantine table.  Returns 0, or -EPERM/-EIO
 * (nftables refused it: the first line of its message), ERR_INVALID (a
 * spec firewall_ruleset refuses) or -ENOMEM, with @e (may be NULL) filled
 * when there is more to say.
 */
int firewall_install(const struct firewall_spec *s, struct rerr *e);

/* Removes the quarantine table; absent is fine.  Returns 0, or -EPERM/-EIO with @e filled, or -ENOMEM. */
int firewall_remove(struct rerr *e);

/* Whether the quarantine table is present.  Returns 0 with *ret, or -EPERM/-EIO with @e filled, or -ENOMEM. */
int firewall_present(bool *ret, struct rerr *e);

#endif
