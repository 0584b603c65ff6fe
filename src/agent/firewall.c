/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * firewall: building, installing and removing the quarantine table (see
 * firewall.h).  Invariant: the table is only ever changed by one nftables
 * transaction that leaves either the complete new table or none.
 */
#include "agent/firewall.h"

#include <errno.h>
#include <netdb.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/net.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/str.h"

#define FW_RESOLV_MAX ((size_t)64 << 10)
/* Deletes the table, absent or not: declaring it first makes the delete succeed when there was none. */
#define FW_DELETE "table inet " FIREWALL_TABLE "\ndelete table inet " FIREWALL_TABLE "\n"

int firewall_addr_add(struct firewall_addr *arr, size_t *n, size_t max, const char *s)
{
	unsigned char bin[sizeof(struct in6_addr)];
	char text[INET6_ADDRSTRLEN];
	int family;
	size_t i;

	if (inet_pton(AF_INET, s, bin) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, s, bin) == 1)
		family = AF_INET6;
	else
		return ERR_INVALID;
	/* The canonical text, so that duplicates compare equal and the rules hold nothing but an address. */
	if (!inet_ntop(family, bin, text, sizeof(text)))
		return ERR_INVALID;
	for (i = 0; i < *n; i++)
		if (strcmp(arr[i].text, text) == 0)
			return 0;
	if (*n >= max)
		return ERR_TOO_LARGE;
	arr[*n].family = family;
	memcpy(arr[*n].text, text, sizeof(text));
	(*n)++;
	return 0;
}

size_t firewall_parse_resolv(const char *data, size_t len, struct firewall_spec *s)
{
	const char *p = data, *end = data + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char line[256], *tok, *save = NULL;

		if (n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = '\0';
			tok = strtok_r(line, " \t\r", &save);
			if (tok && strcmp(tok, "nameserver") == 0 && (tok = strtok_r(NULL, " \t\r", &save))) {
				tok[strcspn(tok, "%")] = '\0';
				firewall_addr_add(s->resolvers, &s->n_resolvers, FIREWALL_MAX_RESOLVERS, tok);
			}
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return s->n_resolvers;
}

static bool fw_all_loopback(const struct firewall_spec *s)
{
	size_t i;

	for (i = 0; i < s->n_resolvers; i++)
		if (strncmp(s->resolvers[i].text, "127.", 4) != 0 && strcmp(s->resolvers[i].text, "::1") != 0)
			return false;
	return true;
}

static void fw_read_resolv(const char *root, const char *path, struct firewall_spec *s)
{
	char *data = NULL;
	size_t len = 0;

	if (posture_read_file(root, path, FW_RESOLV_MAX, &data, &len) == 0)
		firewall_parse_resolv(data, len, s);
	free(data);
}

int firewall_spec_for(const char *server_url, const char *root, struct firewall_spec *s, struct rerr *e)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG }, *res = NULL, *ai;
	char *host = NULL, *port = NULL, text[INET6_ADDRSTRLEN];
	int64_t portnum = 0;
	int r = 0, gr;

	memset(s, 0, sizeof(*s));
	/* The resolvers even when the server is unknown: a quarantine allows DNS in any case. */
	fw_read_resolv(root, "/etc/resolv.conf", s);
	if (fw_all_loopback(s))
		fw_read_resolv(root, "/run/systemd/resolve/resolv.conf", s);
	r = net_url_host_port(server_url, &host, &port, e);
	if (r == -ENOMEM || r == -ENOENT || r == -EIO)
		return r;
	if (r < 0 || str_parse_i64(port, 1, 65535, &portnum) < 0) {
		r = rerr_set(e, ERR_INVALID, NULL, "the server URL %s has no host and port", server_url);
		goto out;
	}
	s->server_port = (uint16_t)portnum;
	gr = getaddrinfo(host, NULL, &hints, &res);
	if (gr != 0)
		r = rerr_set(e, -EHOSTUNREACH, NULL, "cannot resolve the server %s: %s", host, gai_strerror(gr));
	for (ai = res; ai; ai = ai->ai_next) {
		const void *a = ai->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
			      : ai->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
							  : NULL;

		if (a && inet_ntop(ai->ai_family, a, text, sizeof(text)))
			firewall_addr_add(s->server, &s->n_server, FIREWALL_MAX_SERVER_ADDRS, text);
	}
	if (res)
		freeaddrinfo(res);
out:
	free(host);
	free(port);
	return r;
}

/* "{ a, b }" of the addresses of @family in @arr into @out; returns how many. */
static size_t fw_set(char *out, size_t size, const struct firewall_addr *arr, size_t n, int family)
{
	size_t i, k = 0, len = 0;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		if (arr[i].family != family)
			continue;
		len += (size_t)snprintf(out + len, size - len, "%s%s", k ? ", " : "{ ", arr[i].text);
		k++;
	}
	if (k)
		snprintf(out + len, size - len, " }");
	return k;
}

/* The rules for the server and the resolvers in the input (!@output) or output chain. */
static int fw_rules_to(struct buf *b, const struct firewall_spec *s, bool output)
{
	static const int families[] = { AF_INET, AF_INET6 };
	char set[FIREWALL_MAX_RESOLVERS * (INET6_ADDRSTRLEN + 2) + FIREWALL_MAX_SERVER_ADDRS * (INET6_ADDRSTRLEN + 2) + 8];
	const char *dir = output ? "daddr" : "saddr";
	size_t f;
	int r = 0;

	for (f = 0; f < 2; f++) {
		const char *fam = families[f] == AF_INET ? "ip" : "ip6";

		if (fw_set(set, sizeof(set), s->server, s->n_server, families[f]))
			r |= buf_printf(b, output ? "\t\t%s %s %s tcp dport %u accept\n"
						  : "\t\t%s %s %s tcp sport %u ct state established accept\n",
					fam, dir, set, (unsigned)s->server_port);
		if (fw_set(set, sizeof(set), s->resolvers, s->n_resolvers, families[f]))
			r |= buf_printf(b, output ? "\t\t%s %s %s meta l4proto { tcp, udp } th dport 53 accept\n"
						  : "\t\t%s %s %s meta l4proto { tcp, udp } th sport 53 ct state established accept\n",
					fam, dir, set);
	}
	return r;
}

/* Which server and resolver rules a base chain holds. */
enum fw_peers { FW_PEERS_NONE, FW_PEERS_IN, FW_PEERS_OUT };

/* The base chains in the order they are written, each with policy drop. */
static const struct fw_chain {
	const char *hook;
	const char *first;   /* rules before those of the server and the resolvers */
	const char *last;    /* rules after them */
	enum fw_peers peers;
} fw_chains[] = {
	{ "input", "\t\tiif \"lo\" accept\n",
	  "\t\tct state related accept\n"
	  "\t\ticmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept\n"
	  "\t\tudp sport 67 udp dport 68 accept\n"
	  "\t\tudp sport 547 udp dport 546 accept\n", FW_PEERS_IN },
	{ "output", "\t\toif \"lo\" accept\n",
	  "\t\ticmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept\n"
	  "\t\tudp sport 68 udp dport 67 accept\n"
	  "\t\tudp sport 546 udp dport 547 accept\n", FW_PEERS_OUT },
	{ "forward", "", "", FW_PEERS_NONE },
};

int firewall_ruleset(const struct firewall_spec *s, char **ret)
{
	struct buf b;
	size_t i;
	int r;

	if (s->n_server > FIREWALL_MAX_SERVER_ADDRS || s->n_resolvers > FIREWALL_MAX_RESOLVERS ||
	    (s->n_server && !s->server_port))
		return ERR_INVALID;
	buf_init(&b, (size_t)64 << 10);
	/* One transaction replaces the table. */
	r = buf_puts(&b, FW_DELETE "table inet " FIREWALL_TABLE " {\n");
	for (i = 0; i < sizeof(fw_chains) / sizeof(fw_chains[0]); i++) {
		const struct fw_chain *c = &fw_chains[i];

		r |= buf_printf(&b, "\tchain %s {\n\t\ttype filter hook %s priority %d; policy drop;\n%s", c->hook,
				c->hook, FIREWALL_PRIORITY, c->first);
		if (c->peers != FW_PEERS_NONE)
			r |= fw_rules_to(&b, s, c->peers == FW_PEERS_OUT);
		r |= buf_printf(&b, "%s\t}\n", c->last);
	}
	r |= buf_puts(&b, "}\n");
	if (r != 0) {
		buf_done(&b);
		return -ENOMEM;
	}
	*ret = buf_steal(&b);
	return *ret ? 0 : -ENOMEM;
}

/*
 * Runs @cmds in one transaction, its output (a listing) discarded.  Returns
 * 0, or -EPERM/-ENOENT/-EIO with the first line of nft's message in @e,
 * or -ENOMEM.
 */
static int fw_run(const char *cmds, struct rerr *e)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	const char *msg;
	int r = 0;

	if (!nft)
		return -ENOMEM;
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	if (nft_run_cmd_from_buffer(nft, cmds) != 0) {
		msg = nft_ctx_get_error_buffer(nft);
		msg = msg ? msg : "";
		r = strstr(msg, "Operation not permitted") ? -EPERM
		    : strstr(msg, "No such file or directory") ? -ENOENT : -EIO;
		rerr_set(e, r, NULL, "nftables: %.*s", (int)strcspn(msg, "\n"), msg[0] ? msg : "failed");
	}
	nft_ctx_free(nft);
	return r;
}

int firewall_install(const struct firewall_spec *s, struct rerr *e)
{
	char *cmds = NULL;
	int r;

	r = firewall_ruleset(s, &cmds);
	if (r < 0)
		return rerr_set(e, r, NULL, "cannot build the quarantine table: %s", err_str(r));
	r = fw_run(cmds, e);
	free(cmds);
	return r;
}

int firewall_remove(struct rerr *e)
{
	return fw_run(FW_DELETE, e);
}

int firewall_present(bool *ret, struct rerr *e)
{
	struct rerr fe = { "" };
	int r;

	/* An absent table is an answer, not an error: its message is not handed on. */
	r = fw_run("list table inet " FIREWALL_TABLE, &fe);
	if (r == -ENOENT) {
		*ret = false;
		return 0;
	}
	if (r < 0) {
		if (e)
			*e = fe;
		return r;
	}
	*ret = true;
	return 0;
}
