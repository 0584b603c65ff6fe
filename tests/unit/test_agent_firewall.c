/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for rampart-agent's quarantine table (src/agent/firewall.c)
 * and the posture parts it touches: the ruleset text for given server
 * addresses, port and resolvers; resolv.conf parsing; the server URL's
 * host and port; the table installed, replaced and removed for real inside
 * a private network namespace (unshare), where the posture's firewall check
 * must not count it; and the posture's interface addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/firewall.h"
#include "agent/posture.h"
#include "common/err.h"

static const char expected_v4_v6[] =
	"table inet rampart_quarantine\n"
	"delete table inet rampart_quarantine\n"
	"table inet rampart_quarantine {\n"
	"\tchain input {\n"
	"\t\ttype filter hook input priority -150; policy drop;\n"
	"\t\tiif \"lo\" accept\n"
	"\t\tip saddr { 192.0.2.10, 192.0.2.11 } tcp sport 8443 ct state established accept\n"
	"\t\tip saddr { 198.51.100.53 } meta l4proto { tcp, udp } th sport 53 ct state established accept\n"
	"\t\tip6 saddr { 2001:db8::10 } tcp sport 8443 ct state established accept\n"
	"\t\tip6 saddr { 2001:db8::53 } meta l4proto { tcp, udp } th sport 53 ct state established accept\n"
	"\t\tct state related accept\n"
	"\t\ticmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept\n"
	"\t\tudp sport 67 udp dport 68 accept\n"
	"\t\tudp sport 547 udp dport 546 accept\n"
	"\t}\n"
	"\tchain output {\n"
	"\t\ttype filter hook output priority -150; policy drop;\n"
	"\t\toif \"lo\" accept\n"
	"\t\tip daddr { 192.0.2.10, 192.0.2.11 } tcp dport 8443 accept\n"
	"\t\tip daddr { 198.51.100.53 } meta l4proto { tcp, udp } th dport 53 accept\n"
	"\t\tip6 daddr { 2001:db8::10 } tcp dport 8443 accept\n"
	"\t\tip6 daddr { 2001:db8::53 } meta l4proto { tcp, udp } th dport 53 accept\n"
	"\t\ticmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept\n"
	"\t\tudp sport 68 udp dport 67 accept\n"
	"\t\tudp sport 546 udp dport 547 accept\n"
	"\t}\n"
	"\tchain forward {\n"
	"\t\ttype filter hook forward priority -150; policy drop;\n"
	"\t}\n"
	"}\n";

static void spec_v4_v6(struct firewall_spec *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(firewall_addr_add(s->server, &s->n_server, FIREWALL_MAX_SERVER_ADDRS, "192.0.2.10"), 0);
	assert_int_equal(firewall_addr_add(s->server, &s->n_server, FIREWALL_MAX_SERVER_ADDRS, "2001:DB8:0::10"), 0);
	assert_int_equal(firewall_addr_add(s->server, &s->n_server, FIREWALL_MAX_SERVER_ADDRS, "192.0.2.11"), 0);
	s->server_port = 8443;
	assert_int_equal(firewall_addr_add(s->resolvers, &s->n_resolvers, FIREWALL_MAX_RESOLVERS, "198.51.100.53"), 0);
	assert_int_equal(firewall_addr_add(s->resolvers, &s->n_resolvers, FIREWALL_MAX_RESOLVERS, "2001:db8::53"), 0);
}

static void test_ruleset_text(void **state)
{
	struct firewall_spec s;
	char *text = NULL;

	(void)state;
	spec_v4_v6(&s);
	assert_int_equal(firewall_ruleset(&s, &text), 0);
	assert_string_equal(text, expected_v4_v6);
	free(text);

	/* No resolvers and only IPv4: no resolver rules and no empty sets. */
	s.n_resolvers = 0;
	s.n_server = 1;
	assert_int_equal(firewall_ruleset(&s, &text), 0);
	assert_non_null(strstr(text, "\t\tip daddr { 192.0.2.10 } tcp dport 8443 accept\n"));
	assert_null(strstr(text, "th dport 53"));
	assert_null(strstr(text, "ip6 daddr"));
	assert_null(strstr(text, "{  }"));
	free(text);

	/* A server address without a port is refused; so are counts out of bounds. */
	s.server_port = 0;
	assert_int_equal(firewall_ruleset(&s, &text), ERR_INVALID);
	s.server_port = 1;
	s.n_server = FIREWALL_MAX_SERVER_ADDRS + 1;
	assert_int_equal(firewall_ruleset(&s, &text), ERR_INVALID);
}

static void test_addr_add(void **state)
{
	struct firewall_addr a[3];
	char name[32];
	size_t n = 0;
	int i;

	(void)state;
	assert_int_equal(firewall_addr_add(a, &n, 3, "2001:0DB8::0005"), 0);
	assert_string_equal(a[0].text, "2001:db8::5");
	assert_int_equal(a[0].family, AF_INET6);
	assert_int_equal(firewall_addr_add(a, &n, 3, "2001:db8::5"), 0);
	assert_int_equal(n, 1);
	/* Nothing but an address reaches the ruleset text. */
	assert_int_equal(firewall_addr_add(a, &n, 3, "10.0.0.1; flush ruleset"), ERR_INVALID);
	assert_int_equal(firewall_addr_add(a, &n, 3, "example.org"), ERR_INVALID);
	assert_int_equal(firewall_addr_add(a, &n, 3, ""), ERR_INVALID);
	assert_int_equal(n, 1);
	for (i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "10.0.0.%d", i + 1);
		assert_int_equal(firewall_addr_add(a, &n, 3, name), 0);
	}
	assert_int_equal(firewall_addr_add(a, &n, 3, "10.0.0.9"), ERR_TOO_LARGE);
	assert_int_equal(n, 3);
}

static void test_parse_resolv(void **state)
{
	static const char text[] =
		"# generated\n"
		"search example.org\n"
		"nameserver 198.51.100.53\n"
		"  nameserver\t2001:db8::53  # trailing\n"
		"nameserver fe80::1%eth0\n"
		"nameserver not-an-address\n"
		"nameserver\n"
		"options edns0\n"
		"nameserver 198.51.100.53\n"
		"nameserver 10.0.0.1\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n"
		"nameserver 10.0.0.5\nnameserver 10.0.0.6\nnameserver 10.0.0.7";
	struct firewall_spec s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(firewall_parse_resolv(text, strlen(text), &s), FIREWALL_MAX_RESOLVERS);
	assert_string_equal(s.resolvers[0].text, "198.51.100.53");
	assert_string_equal(s.resolvers[1].text, "2001:db8::53");
	assert_string_equal(s.resolvers[2].text, "fe80::1");
	assert_string_equal(s.resolvers[3].text, "10.0.0.1");
	assert_string_equal(s.resolvers[7].text, "10.0.0.5");
	memset(&s, 0, sizeof(s));
	assert_int_equal(firewall_parse_resolv("", 0, &s), 0);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_spec_for(void **state)
{
	char root[] = "/tmp/rampart-fw-XXXXXX", path[256];
	struct rerr e = { "" };
	struct firewall_spec s;

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof(path), "%s/etc", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/etc/resolv.conf", root);
	write_file(path, "nameserver 198.51.100.53\n");
	assert_int_equal(firewall_spec_for("http://127.0.0.1:18443", root, &s, &e), 0);
	assert_int_equal(s.n_server, 1);
	assert_string_equal(s.server[0].text, "127.0.0.1");
	assert_int_equal(s.server_port, 18443);
	assert_int_equal(s.n_resolvers, 1);
	assert_string_equal(s.resolvers[0].text, "198.51.100.53");
	/* Default ports by scheme, IPv6 literals. */
	assert_int_equal(firewall_spec_for("https://[::1]/", root, &s, &e), 0);
	assert_int_equal(s.server_port, 443);
	assert_string_equal(s.server[0].text, "::1");
	assert_int_equal(firewall_spec_for("http://192.0.2.7", root, &s, &e), 0);
	assert_int_equal(s.server_port, 80);
	/* Only loopback resolvers (systemd-resolved): the upstream ones are added. */
	snprintf(path, sizeof(path), "%s/etc/resolv.conf", root);
	write_file(path, "nameserver 127.0.0.53\n");
	snprintf(path, sizeof(path), "%s/run", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/run/systemd", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/run/systemd/resolve", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/run/systemd/resolve/resolv.conf", root);
	write_file(path, "nameserver 203.0.113.1\n");
	assert_int_equal(firewall_spec_for("http://192.0.2.7:8", root, &s, &e), 0);
	assert_int_equal(s.n_resolvers, 2);
	assert_string_equal(s.resolvers[1].text, "203.0.113.1");
	/* Not a URL; a host that does not resolve (.invalid never does, RFC 2606). */
	assert_int_equal(firewall_spec_for("no url here", root, &s, &e), ERR_INVALID);
	assert_string_equal(e.message, "the server URL no url here has no host and port");
	assert_int_equal(firewall_spec_for("http://rampart.invalid:8443", root, &s, &e), -EHOSTUNREACH);
	assert_non_null(strstr(e.message, "rampart.invalid"));
	assert_int_equal(s.server_port, 8443);
	assert_int_equal(s.n_server, 0);
	snprintf(path, sizeof(path), "rm -rf '%s'", root);
	assert_int_equal(system(path), 0);
}

static void test_nft_feed(void **state)
{
	static const char own[] =
		"table inet rampart_quarantine {\n"
		"\tchain input {\n\t\ttype filter hook input priority mangle; policy drop;\n\t}\n"
		"}\n";
	static const char other[] = "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t}\n}\n";
	struct posture_nft_sum s = { 0 };
	char both[1024];
	size_t i;

	(void)state;
	posture_nft_feed(&s, own, strlen(own));
	assert_int_equal(s.tables, 0);
	assert_int_equal(s.lines, 0);
	/* Another table, fed one byte at a time after the own one. */
	snprintf(both, sizeof(both), "%s%s", own, other);
	memset(&s, 0, sizeof(s));
	for (i = 0; both[i]; i++)
		posture_nft_feed(&s, both + i, 1);
	assert_int_equal(s.tables, 1);
	assert_int_equal(s.lines, 5);
	/* A table merely named like it is a table. */
	memset(&s, 0, sizeof(s));
	posture_nft_feed(&s, "table ip rampart_quarantine {\n}\n", 32);
	assert_int_equal(s.tables, 1);
}

static int count_tables(void)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	const char *out, *p;
	int n = 0;

	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	if (nft_run_cmd_from_buffer(nft, "list tables") != 0) {
		nft_ctx_free(nft);
		return -1;
	}
	out = nft_ctx_get_output_buffer(nft);
	for (p = out; (p = strstr(p, "table inet rampart_quarantine")); p++)
		n++;
	nft_ctx_free(nft);
	return n;
}

static int run_nft(const char *cmd)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	int r;

	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	r = nft_run_cmd_from_buffer(nft, cmd);
	nft_ctx_free(nft);
	return r;
}

/* In a child in a new network namespace: exit code 0 on success, 77 to skip, else the failed step. */
static int netns_child(void)
{
	struct firewall_spec s;
	struct rerr e = { "" };
	json_t *fw = NULL;
	bool present = true;

	if (unshare(CLONE_NEWNET) < 0)
		return 77;
	/* An absent table is no error and leaves @e untouched. */
	if (firewall_present(&present, &e) < 0 || present || e.message[0])
		return 2;
	/* Removing an absent table is fine. */
	if (firewall_remove(&e) < 0)
		return 3;
	spec_v4_v6(&s);
	if (firewall_install(&s, &e) < 0) {
		fprintf(stderr, "install: %s\n", e.message);
		return 4;
	}
	if (firewall_present(&present, &e) < 0 || !present || count_tables() != 1)
		return 5;
	/* Installing again replaces it: still one table. */
	s.n_server = 1;
	if (firewall_install(&s, &e) < 0 || count_tables() != 1)
		return 6;
	/* The quarantine alone is no firewall; another table is (when the nft program is there). */
	if (posture_firewall(&fw) == 0 && !json_object_get(fw, "error")) {
		if (json_is_true(json_object_get(fw, "nftables_active")))
			return 7;
		json_decref(fw);
		if (run_nft("add table inet filter") != 0 || posture_firewall(&fw) < 0 ||
		    !json_is_true(json_object_get(fw, "nftables_active")))
			return 8;
	}
	json_decref(fw);
	if (firewall_remove(&e) < 0 || count_tables() != 0)
		return 9;
	if (firewall_present(&present, &e) < 0 || present)
		return 10;
	if (firewall_remove(&e) < 0)
		return 11;
	return 0;
}

static void test_install_in_netns(void **state)
{
	int status = 0;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(netns_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* In a new network namespace: 70 addresses on a veth interface, and some that must be left out. */
static int addresses_child(void)
{
	char cmd[8192];
	json_t *a = NULL, *v;
	size_t i, len;
	int n;

	if (unshare(CLONE_NEWNET) < 0 || system("command -v ip >/dev/null") != 0)
		return 77;
	len = (size_t)snprintf(cmd, sizeof(cmd), "ip link add rqd0 type veth peer name rqd1 && ip link set rqd0 up && "
			       "ip link set lo up && ip addr add 127.0.0.2/8 dev rqd0");
	for (n = 1; n <= 70; n++)
		len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, " && ip addr add 10.252.0.%d/32 dev rqd0", n);
	snprintf(cmd + len, sizeof(cmd) - len, " && ip addr add fe80::99/64 dev rqd0");
	if (system(cmd) != 0)
		return 2;
	if (posture_addresses(&a) < 0 || json_array_size(a) != POSTURE_MAX_ADDRESSES)
		return 3;
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);

		if (!s || strncmp(s, "10.252.0.", 9) != 0)
			return 4;
	}
	json_decref(a);
	return 0;
}

static void test_addresses_limit(void **state)
{
	int status = 0;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(addresses_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_addresses(void **state)
{
	json_t *a = NULL, *v;
	size_t i;

	(void)state;
	assert_int_equal(posture_addresses(&a), 0);
	assert_true(json_is_array(a));
	assert_true(json_array_size(a) <= POSTURE_MAX_ADDRESSES);
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);

		assert_non_null(s);
		assert_true(strncmp(s, "127.", 4) != 0);
		assert_string_not_equal(s, "::1");
		assert_true(strncmp(s, "fe80:", 5) != 0);
	}
	json_decref(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ruleset_text),
		cmocka_unit_test(test_addr_add),
		cmocka_unit_test(test_parse_resolv),
		cmocka_unit_test(test_spec_for),
		cmocka_unit_test(test_nft_feed),
		cmocka_unit_test(test_install_in_netns),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_addresses_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
