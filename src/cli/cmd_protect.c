/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cmd_protect: "rampart protect" encrypts files locally into FILE.rpf and
 * registers each file's id and access list with rampartd; "rampart open"
 * asks rampartd for a file's content key (sealed to a key pair made for
 * this one open) and decrypts.
 *
 * Invariants: output is written to a temporary file in the target
 * directory and renamed into place only after the last chunk verified (or,
 * for protect, after the server registered the file), so no partial or
 * unverified output is ever left behind; content keys and the ephemeral
 * secret key are wiped after use.  The one exception is asked for by name:
 * "-o -" streams to standard output, where whatever was written stays
 * written, and a failure says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/out.h"
#include "cli/protect_util.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/rtime.h"
#include "common/str.h"
#include "formats/rpf.h"

#define PROTECT_MAX_TO 256

static const char protect_help[] =
"Usage: rampart protect FILE... --to GRANTEE [--to GRANTEE...] [--expires DATE]\n"
"                       [--owner PERSON] [-o OUT] [--json]\n"
"\n"
"Encrypts each FILE into FILE.rpf and registers it with the server, so that\n"
"only the people its access list names can open it, while they still qualify.\n"
"The file never leaves this machine unencrypted; the server only keeps its id,\n"
"name, size and access list, and can revoke it later ('rampart files').\n"
"\n"
"  --to GRANTEE     who may open it (repeat for several):\n"
"                     user:PERSON   a person (id, login, employee number, email;\n"
"                                   only an id for people you cannot look up)\n"
"                     group:NAME    the members of a group at the time of opening\n"
"                     org:PATH      everyone in that org unit or below it\n"
"                     role:ROLE     everyone holding that role\n"
"                   The owner may always open it.\n"
"  --expires DATE   nobody can open it from then on (2027-03-31, RFC 3339 time)\n"
"  --owner PERSON   the file's owner (default: you; another owner needs admin,\n"
"                   security_officer, or that person's security_manager)\n"
"  -o, --output OUT write to OUT instead of FILE.rpf (one FILE only); '-' is\n"
"                   standard output (not a terminal), for a pipe: the file is\n"
"                   registered once all of it was written\n"
"\n"
"The output must not exist yet.  Exit status 0 when every file was protected.\n";

static const char open_help[] =
"Usage: rampart open FILE.rpf [-o OUT] [--json]\n"
"\n"
"Asks the server for the file's key and decrypts it to OUT (default: FILE.rpf\n"
"without .rpf).  The server checks, at this moment, that you are on the access\n"
"list, active, and that the file is neither expired nor revoked; every attempt\n"
"is recorded.  A refusal says why: not on the list, retired, expired, revoked.\n"
"Into a file, nothing is written unless the whole file decrypts and verifies,\n"
"and OUT must not exist yet.\n"
"\n"
"  -o, --output OUT  where to write; '-' streams to standard output, each part\n"
"                    once it verified: a damaged or cut file stops the stream\n"
"                    with exit status 1, and what came out must be discarded\n"
"\n"
"Exit status: 0 opened, 3 refused (or not logged in), 4 unknown file, 1 the\n"
"file is damaged or was tampered with.\n";

int protect_grantee_resolve(struct cli *cli, const char *cmd, const char *in, char *out, size_t size)
{
	json_t *person = NULL;
	int rc;

	if (!str_has_prefix(in, "user:")) {
		if (!str_has_prefix(in, "group:") && !str_has_prefix(in, "org:") &&
		    !str_has_prefix(in, "role:"))
			return cli_usage(cmd, "a grantee must be user:PERSON, group:NAME, org:PATH or role:ROLE");
		if (snprintf(out, size, "%s", in) >= (int)size)
			return cli_usage(cmd, "a grantee is longer than %zu bytes", size - 1);
		return 0;
	}
	/* An id is taken as is: people may grant to someone they cannot look up. */
	if (ids_is_ulid(in + 5)) {
		if (snprintf(out, size, "%s", in) >= (int)size)
			return cli_usage(cmd, "a grantee is longer than %zu bytes", size - 1);
		return 0;
	}
	rc = cli_person_resolve(cli, in + 5, "cannot find the person to grant", &person);
	if (rc != 0)
		return rc;
	if (snprintf(out, size, "user:%s", out_str(person, "id")) >= (int)size) {
		json_decref(person);
		return cli_fail("%s: the person's id is too long", cmd);
	}
	json_decref(person);
	return 0;
}

int protect_file_id(const char *cmd, const char *arg, char out[ULID_SIZE])
{
	unsigned char hdr[RPF_HEADER_LEN];
	struct rpf_header h;
	struct rerr e = { 0 };
	ssize_t n;
	int fd;

	if (ids_is_ulid(arg))
		return str_copy(out, ULID_SIZE, arg) < 0 ? CLI_EXIT_USAGE : 0;
	fd = open(arg, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_usage(cmd, "'%s' is neither a file id nor a readable protected file", arg);
	n = read(fd, hdr, sizeof(hdr));
	close(fd);
	if (rpf_header_parse(hdr, n > 0 ? (size_t)n : 0, &h, &e) < 0)
		return cli_fail("%s: %s", arg, e.message);
	return str_copy(out, ULID_SIZE, h.file_id) < 0 ? CLI_EXIT_FAILED : 0;
}

static int b64(const unsigned char *p, size_t n, char *out, size_t size)
{
	if (sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL) > size)
		return -ENOBUFS;
	sodium_bin2base64(out, size, p, n, sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

/* Creates a temporary file beside @target: "<dir>/.<base>.XXXXXX". */
static int temp_beside(const char *target, char *tmp, size_t size)
{
	char a[4096], b[4096];
	int fd;

	if (str_copy(a, sizeof(a), target) < 0 || str_copy(b, sizeof(b), target) < 0)
		return -ENAMETOOLONG;
	if (snprintf(tmp, size, "%s/.%s.XXXXXX", dirname(a), basename(b)) >= (int)size)
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0) {
		int r = -errno;

		close(fd);
		unlink(tmp);
		return r;
	}
	return fd;
}

/* Puts @tmp at @target only if @target does not exist yet. */
static int publish(const char *tmp, const char *target)
{
	if (link(tmp, target) < 0)
		return -errno;
	unlink(tmp);
	return 0;
}

struct protect_opts {
	const char *grantees[PROTECT_MAX_TO];
	size_t ngrantees;
	const char *expires;
	const char *owner_id;
	const char *server_id;
	unsigned char pk[RPF_PK_BYTES];
};

/* Whether @output names standard output. */
static bool output_is_stdout(const char *output)
{
	return output && strcmp(output, "-") == 0;
}

/*
 * Protects @path into @output (NULL: @path.rpf; "-": standard output,
 * written as it is sealed, and registered once all of it was written).
 */
static int protect_one(struct cli *cli, struct client *c, const struct protect_opts *o,
		       const char *path, const char *output, json_t *results)
{
	char target[4096], tmp[4200] = "", fid[ULID_SIZE], pid[ULID_SIZE], hb64[400], name[4096];
	unsigned char key[RPF_KEY_BYTES], hdr[RPF_HEADER_LEN];
	struct rpf_header h;
	json_t *body = NULL, *res = NULL, *grants;
	struct stat st;
	bool to_stdout = output_is_stdout(output);
	int in = -1, out = -1, r, rc = CLI_EXIT_FAILED;

	if (to_stdout)
		str_copy(target, sizeof(target), "standard output");
	else if ((output ? snprintf(target, sizeof(target), "%s", output)
			 : snprintf(target, sizeof(target), "%s.rpf", path)) >= (int)sizeof(target))
		return cli_fail("protect: the path '%s' is too long", output ? output : path);
	if (!to_stdout && access(target, F_OK) == 0)
		return cli_fail("protect: %s already exists; remove it first", target);
	if ((in = cli_open_file("protect", path, &st, &rc)) < 0)
		return rc;
	ids_ulid(fid, rtime_now_ms());
	ids_ulid(pid, rtime_now_ms());
	r = rpf_header_new(fid, o->server_id, pid, o->pk, &h, key);
	if (r == 0)
		r = rpf_header_serialize(&h, hdr);
	if (r < 0) {
		close(in);
		sodium_memzero(key, sizeof(key));
		return cli_fail("protect: %s", rpf_strerror(r));
	}
	out = to_stdout ? STDOUT_FILENO : temp_beside(target, tmp, sizeof(tmp));
	if (out < 0) {
		close(in);
		sodium_memzero(key, sizeof(key));
		return cli_fail("protect: cannot create a file beside %s: %s", target, strerror(-out));
	}
	r = rpf_encrypt_fd(in, out, &h, key, 0, to_stdout ? 0 : RPF_FD_WRITEBACK);
	sodium_memzero(key, sizeof(key));
	close(in);
	/* Once per file, before it is registered and published: durable and whole. */
	if (!to_stdout) {
		if (r == 0 && fdatasync(out) < 0)
			r = -errno;
		if (close(out) < 0 && r == 0)
			r = -errno;
	}
	if (r < 0) {
		rc = to_stdout ? cli_fail("protect: %s: %s; what was written to standard output is "
					  "incomplete and not registered: discard it", path, rpf_strerror(r))
			       : cli_fail("protect: %s: %s", path, rpf_strerror(r));
		goto fail;
	}

	/* Registered only once the whole file is written. */
	b64(hdr, sizeof(hdr), hb64, sizeof(hb64));
	str_copy(name, sizeof(name), path);
	grants = json_array();
	for (size_t i = 0; grants && i < o->ngrantees; i++)
		json_array_append_new(grants, json_string(o->grantees[i]));
	body = json_pack("{s:s, s:s, s:o, s:I}", "header", hb64, "name", basename(name),
			 "grants", grants ? grants : json_array(), "size", (json_int_t)st.st_size);
	if (body && o->expires)
		json_object_set_new(body, "expires_at", json_string(o->expires));
	if (body && o->owner_id)
		json_object_set_new(body, "owner", json_string(o->owner_id));
	if (!body) {
		rc = cli_fail("protect: out of memory");
		goto fail;
	}
	r = client_call(c, "POST", "/api/v1/files", body, &res);
	json_decref(body);
	if (r < 0) {
		char what[4200];

		if (to_stdout)
			snprintf(what, sizeof(what), "%s was not protected: the server did not register "
				 "what was written to standard output, discard it", path);
		else
			snprintf(what, sizeof(what), "%s was not protected", path);
		rc = client_fail(c, r, what);
		json_decref(res);
		goto fail;
	}
	r = to_stdout ? 0 : publish(tmp, target);
	if (r < 0) {
		rc = cli_fail("protect: cannot create %s: %s (the file is registered as %s)", target,
			      strerror(-r), fid);
		json_decref(res);
		goto fail;
	}
	if (cli->json) {
		json_object_set_new(res, "path", json_string(target));
		json_array_append(results, res);
	} else {
		char clean[512];

		/* With the file on standard output, the report goes to standard error. */
		fprintf(to_stdout ? stderr : stdout, "%s: protected as %s (file id %s)\n",
			out_clean(clean, sizeof(clean), path), out_clean(target, sizeof(target), target), fid);
	}
	json_decref(res);
	return CLI_EXIT_OK;
fail:
	if (tmp[0])
		unlink(tmp);
	return rc;
}

int cmd_protect(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "expires", required_argument, NULL, 'e' },
		{ "owner", required_argument, NULL, 'O' },
		{ "output", required_argument, NULL, 'o' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "protect", protect_help, "o:", opts };
	static char grantee_buf[PROTECT_MAX_TO][PROTECT_GRANTEE_MAX];
	struct protect_opts po = { .ngrantees = 0 };
	const char *owner = NULL, *output = NULL, *to[PROTECT_MAX_TO];
	json_t *key = NULL, *owner_p = NULL, *results = NULL;
	struct client *c;
	struct cli_args a;
	size_t nto = 0, n = 0;
	int64_t ms;
	int o, r, rc = CLI_EXIT_OK;

	if (cli_args_init(&a, &cmd, argc, argv) < 0)
		return CLI_EXIT_USAGE;
	while ((o = cli_opt(cli, &a)) > 0) {
		if (o == 't') {
			if (nto == PROTECT_MAX_TO)
				return cli_usage(cmd.name, "at most %d --to options", PROTECT_MAX_TO);
			to[nto++] = optarg;
		} else if (o == 'e') {
			po.expires = optarg;
		} else if (o == 'O') {
			owner = optarg;
		} else if (o == 'o') {
			output = optarg;
		}
	}
	if (o < 0)
		return a.exit;
	if (a.pos >= argc)
		return cli_usage(cmd.name, "name at least one FILE to protect");
	if (output && argc - a.pos != 1)
		return cli_usage(cmd.name, "-o names the output of one FILE");
	if (output_is_stdout(output) && cli->json)
		return cli_usage(cmd.name, "--json and -o - both want standard output");
	if (output_is_stdout(output) && isatty(STDOUT_FILENO))
		return cli_usage(cmd.name, "standard output is a terminal: redirect it, or name a file with -o");
	if (nto == 0)
		return cli_usage(cmd.name, "say who may open the file with --to (e.g. --to group:Finance)");
	if (po.expires && rtime_parse(po.expires, &ms) < 0)
		return cli_usage(cmd.name, "--expires must be a date (2027-03-31) or an RFC 3339 time");
	if (sodium_init() < 0)
		return cli_fail("protect: cannot initialize libsodium");
	if (!(c = cli_client(cli)))
		return CLI_EXIT_USAGE;
	for (size_t i = 0; i < nto; i++) {
		rc = protect_grantee_resolve(cli, cmd.name, to[i], grantee_buf[i], sizeof(grantee_buf[i]));
		if (rc != 0)
			return rc;
		po.grantees[po.ngrantees++] = grantee_buf[i];
	}
	if (owner) {
		rc = cli_person_resolve(cli, owner, "cannot find the owner", &owner_p);
		if (rc != 0)
			return rc;
		po.owner_id = out_str(owner_p, "id");
	}
	r = client_call(c, "GET", "/api/v1/protect/key", NULL, &key);
	if (r < 0) {
		json_decref(owner_p);
		return client_fail(c, r, "cannot get the server's key");
	}
	po.server_id = out_str(key, "server_id");
	if (sodium_base642bin(po.pk, sizeof(po.pk), out_str(key, "public_key"),
			      strlen(out_str(key, "public_key")), NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || n != sizeof(po.pk) ||
	    !ids_is_ulid(po.server_id)) {
		json_decref(key);
		json_decref(owner_p);
		return cli_fail("protect: the server's key answer is not valid");
	}
	results = json_array();
	for (int i = a.pos; i < argc; i++) {
		int one = protect_one(cli, c, &po, argv[i], output, results);

		if (one != 0 && rc == 0)
			rc = one;
	}
	if (cli->json && results)
		out_json(results);
	json_decref(results);
	json_decref(key);
	json_decref(owner_p);
	return rc;
}

/* The output name: FILE.rpf without ".rpf"; NULL when it has no such suffix. */
static int default_output(const char *in, char *out, size_t size)
{
	size_t n = strlen(in);

	if (n <= 4 || strcmp(in + n - 4, ".rpf") != 0 || n - 4 >= size)
		return -EINVAL;
	memcpy(out, in, n - 4);
	out[n - 4] = '\0';
	return 0;
}

/*
 * Asks the server for the content key of the file with header @hdr (@h),
 * sealed to a key pair made for this one open, and unwraps it into @plain
 * (the file id, then the key).  Returns 0, or an exit code after printing
 * why (@path names the file).
 */
static int open_key(struct client *c, const char *path, const unsigned char hdr[RPF_HEADER_LEN],
		    const struct rpf_header *h, unsigned char plain[RPF_WRAP_PLAIN])
{
	unsigned char cpk[32], csk[32], box[RPF_WRAPPED_LEN];
	char hb64[400], kb64[64], clean[512], msg[1100];
	json_t *body, *res = NULL;
	struct buf api;
	size_t n = 0;
	int r, rc;

	crypto_box_keypair(cpk, csk);
	b64(hdr, RPF_HEADER_LEN, hb64, sizeof(hb64));
	b64(cpk, sizeof(cpk), kb64, sizeof(kb64));
	body = json_pack("{s:s, s:s}", "header", hb64, "client_key", kb64);
	buf_init(&api, 1024);
	r = body ? buf_printf(&api, "/api/v1/files/%s/open", h->file_id) : -ENOMEM;
	r = r < 0 ? r : client_call(c, "POST", api.data, body, &res);
	buf_done(&api);
	json_decref(body);
	if (r < 0) {
		const char *reason = out_str(res, "reason");

		if (*reason) {
			fprintf(stderr, "rampart: open: %s: refused (%s): %s\n", out_clean(clean, sizeof(clean), path),
				reason, out_clean(msg, sizeof(msg), client_error_message(c)));
			rc = CLI_EXIT_AUTH;
		} else {
			rc = client_fail(c, r, "the file was not opened");
		}
		json_decref(res);
		sodium_memzero(csk, sizeof(csk));
		return rc;
	}
	r = sodium_base642bin(box, sizeof(box), out_str(res, "wrapped_key"),
			      strlen(out_str(res, "wrapped_key")), NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) == 0 && n == sizeof(box) &&
	    crypto_box_seal_open(plain, box, sizeof(box), cpk, csk) == 0 &&
	    sodium_memcmp(plain, h->file_id, ULID_LEN) == 0 ? 0 : RPF_E_UNWRAP;
	sodium_memzero(csk, sizeof(csk));
	json_decref(res);
	if (r < 0) {
		sodium_memzero(plain, RPF_WRAP_PLAIN);
		return cli_fail("open: the server's key does not open this file");
	}
	return 0;
}

/*
 * Decrypts the rest of @in (the file @path, whose header is @hdr, @h) with
 * the key in @plain, which is wiped: to standard output as each part
 * verifies, or into a temporary file that becomes @target only when all of
 * it verified.  Returns 0 or an exit code after printing why.
 */
static int open_write(int in, const char *path, const char *target, bool to_stdout,
		      const unsigned char hdr[RPF_HEADER_LEN], const struct rpf_header *h,
		      unsigned char plain[RPF_WRAP_PLAIN])
{
	struct rerr e = { 0 };
	char tmp[4200], clean[512];
	int out, r;

	if (to_stdout) {
		/* Each span goes out once it verified; a failure cannot take back what went out. */
		r = rpf_decrypt_fd(in, STDOUT_FILENO, hdr, h, plain + ULID_LEN, 0, 0, &e);
		sodium_memzero(plain, RPF_WRAP_PLAIN);
		if (r < 0)
			return cli_fail("open: %s: %s; standard output got only part of the file: discard it",
					out_clean(clean, sizeof(clean), path), e.message[0] ? e.message : rpf_strerror(r));
		return 0;
	}
	out = temp_beside(target, tmp, sizeof(tmp));
	if (out < 0) {
		sodium_memzero(plain, RPF_WRAP_PLAIN);
		return cli_fail("open: cannot create a file beside %s: %s",
				out_clean(clean, sizeof(clean), target), strerror(-out));
	}
	r = rpf_decrypt_fd(in, out, hdr, h, plain + ULID_LEN, 0, RPF_FD_WRITEBACK, &e);
	sodium_memzero(plain, RPF_WRAP_PLAIN);
	/* Once per file, before the rename: the published result is durable and whole. */
	if (r == 0 && fdatasync(out) < 0)
		r = -errno;
	if (close(out) < 0 && r == 0)
		r = -errno;
	if (r == 0)
		r = publish(tmp, target);
	if (r < 0) {
		unlink(tmp);
		return cli_fail("open: %s: %s; nothing was written", out_clean(clean, sizeof(clean), path),
				e.message[0] ? e.message : rpf_strerror(r));
	}
	return 0;
}

int cmd_open(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ 0 }
	};
	static const struct cli_cmd cmd = { "open", open_help, "o:", opts };
	unsigned char hdr[RPF_HEADER_LEN], plain[RPF_WRAP_PLAIN];
	char target[4096], clean[512], shown[4200];
	const char *path, *output = NULL;
	const struct cli_bind binds[] = { { 'o', &output }, { 0 } };
	bool to_stdout;
	struct rpf_header h;
	struct rerr e = { 0 };
	struct client *c;
	struct cli_args a;
	struct stat st;
	ssize_t got;
	int in, rc;

	if (!cli_args_parse(cli, &a, &cmd, argc, argv, binds, 1, 1, "FILE.rpf to open", &rc))
		return rc;
	path = argv[a.pos];
	to_stdout = output_is_stdout(output);
	if (to_stdout && cli->json)
		return cli_usage(cmd.name, "--json and -o - both want standard output");
	if (to_stdout) {
		str_copy(target, sizeof(target), "standard output");
	} else if (output) {
		if (str_copy(target, sizeof(target), output) < 0)
			return cli_usage(cmd.name, "-o: the path is too long");
	} else if (default_output(path, target, sizeof(target)) < 0) {
		return cli_usage(cmd.name, "the file's name does not end in .rpf: name the output with -o");
	}
	if (!to_stdout && access(target, F_OK) == 0)
		return cli_fail("open: %s already exists; remove it or choose another with -o",
				out_clean(clean, sizeof(clean), target));
	if (sodium_init() < 0)
		return cli_fail("open: cannot initialize libsodium");
	if ((in = cli_open_file(cmd.name, path, &st, &rc)) < 0)
		return rc;
	got = read(in, hdr, sizeof(hdr));
	if (rpf_header_parse(hdr, got > 0 ? (size_t)got : 0, &h, &e) < 0)
		rc = cli_fail("open: %s: %s", out_clean(clean, sizeof(clean), path), e.message);
	else if (!(c = cli_client(cli)))
		rc = CLI_EXIT_USAGE;
	else if ((rc = open_key(c, path, hdr, &h, plain)) == 0)
		rc = open_write(in, path, target, to_stdout, hdr, &h, plain);
	close(in);
	if (rc != 0 || to_stdout)
		return rc;
	if (cli->json) {
		json_t *j = json_pack("{s:s, s:s}", "file_id", h.file_id, "output", target);

		out_json(j);
		json_decref(j);
	} else {
		printf("%s: opened to %s\n", out_clean(clean, sizeof(clean), path),
		       out_clean(shown, sizeof(shown), target));
	}
	return CLI_EXIT_OK;
}
