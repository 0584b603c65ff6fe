/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * rampartd: the Rampart server.  Opens the data directory (database, keys),
 * creates the first administrator, optionally loads the sample organization,
 * and answers the JSON API until SIGTERM or SIGINT, then drains in-flight
 * requests and closes the store cleanly.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/str.h"
#include "console/console.h"
#include "crypto/rcrypto.h"
#include "crypto/tls.h"
#include "endpoint/endpoint.h"
#include "exchange/exchange.h"
#include "http/http.h"
#include "identity/auth.h"
#include "identity/identity.h"
#include "protect/protect.h"
#include "server/migrate_store.h"
#include "store/store.h"

static void usage(FILE *f)
{
	fputs("Usage: rampartd [OPTIONS]\n"
	      "       rampartd migrate-store --from sqlite:PATH --to postgresql://... (see its --help)\n"
	      "\n"
	      "The Rampart server: JSON API under /api/v1, SCIM under /scim/v2, web console at /.\n"
	      "\n"
	      "Options:\n"
	      "  --data DIR            data directory (default ./var; RAMPART_DATA)\n"
	      "  --listen ADDR:PORT    address to listen on (default 127.0.0.1:8080;\n"
	      "                        RAMPART_LISTEN); port 0 picks a free port\n"
	      "  --config FILE         INI configuration file (see docs/operations.md)\n"
	      "  --database URL        the database: postgresql://USER@HOST/DB (PostgreSQL,\n"
	      "                        collation C) or sqlite:PATH (default DIR/rampart.db;\n"
	      "                        RAMPART_DATABASE_URL, or [store] url)\n"
	      "  --tls-self-signed     create a self-signed certificate in DIR/tls and\n"
	      "                        serve HTTPS with it\n"
	      "  --seed-hr FILE        on first start, import this HR CSV (sample organization)\n"
	      "  --port-file FILE      write the listening port to FILE once ready\n"
	      "  --web DIR             the built web console (default " RAMPART_WEB_DIR ";\n"
	      "                        RAMPART_WEB, or [server] web_dir)\n"
	      "  --routes              print every API route and exit\n"
	      "  --version             print the version and exit\n"
	      "  -h, --help            show this help\n"
	      "\n"
	      "Environment: RAMPART_ADMIN_PASSWORD sets the first administrator's password\n"
	      "(otherwise a random one is printed once); RAMPART_<SECTION>_<KEY> overrides\n"
	      "any configuration setting.\n"
	      "\n"
	      "Exit status: 0 after a clean shutdown, 1 on a start-up error, 2 on bad usage.\n",
	      f);
}

static int h_healthz(struct http_req *req, struct http_resp *resp)
{
	return http_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

static int h_readyz(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	int64_t one;

	if (!c || store_query_i64(c, "SELECT 1", STORE_NOARGS, &one) < 0)
		return http_fail(resp, ERR_UNAVAILABLE, NULL, "the database does not answer");
	return http_resp_json(resp, 200, json_pack("{s:s}", "status", "ready"));
}

static struct http_server *metrics_server;

static int h_metrics(struct http_req *req, struct http_resp *resp)
{
	struct app *app = http_req_app(req);
	struct store_conn *c = store_conn(app->store);
	int64_t sessions = -1;
	struct buf out;
	int r;

	buf_init(&out, 4 << 20);
	http_server_metrics(metrics_server, &out);
	buf_printf(&out, "# HELP rampart_store_errors_total Statements the database refused.\n"
			 "# TYPE rampart_store_errors_total counter\nrampart_store_errors_total %llu\n",
		   (unsigned long long)store_error_count());
	if (c)
		auth_sessions_active(c, rtime_now_ms(), &sessions);
	buf_printf(&out, "# HELP rampart_sessions_active Sessions neither expired nor revoked.\n"
			 "# TYPE rampart_sessions_active gauge\nrampart_sessions_active %lld\n",
		   (long long)sessions);
	audit_metrics(&out);
	r = http_resp_data(resp, 200, "text/plain; version=0.0.4", out.data ? out.data : "", out.len);
	buf_done(&out);
	return r;
}

static void print_route(const char *method, const char *pattern, void *ud)
{
	printf("%s %s\n", method, pattern);
}

/* @web_dir: the console's assets, or NULL not to serve the console (--routes). */
static int register_routes(struct http_server *s, const char *web_dir)
{
	int r = 0;

	r = r ? r : http_route(s, HTTP_GET, "/healthz", h_healthz, HTTP_AUTH_NONE);
	r = r ? r : http_route(s, HTTP_GET, "/readyz", h_readyz, HTTP_AUTH_NONE);
	r = r ? r : http_route(s, HTTP_GET, "/metrics", h_metrics, HTTP_AUTH_NONE);
	r = r ? r : identity_routes(s);
	r = r ? r : audit_routes(s);
	r = r ? r : exchange_routes(s);
	r = r ? r : protect_routes(s);
	r = r ? r : endpoint_routes(s);
	/* Last: routes match in registration order, and the API keeps priority. */
	if (web_dir)
		r = r ? r : console_routes(s, web_dir);
	return r;
}

/* The data directory: mode 0700, created if missing; refuses one others can read. */
static int data_dir_prepare(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_mode & 077) {
		if (chmod(dir, st.st_mode & 0700) < 0)
			return -errno;
	}
	return 0;
}

static int server_id_load(struct app *app)
{
	struct store_conn *c = store_conn(app->store);
	struct store_stmt *q;
	char id[ULID_SIZE];
	int r;

	if (!c)
		return ERR_STORE;
	ids_ulid(id, rtime_now_ms());
	r = store_exec(c, "INSERT INTO server_meta (key, value) VALUES ('server_id', $1) "
			  "ON CONFLICT (key) DO NOTHING", STORE_ARGS(SA_TEXT(id)));
	if (r < 0)
		return r;
	r = store_query(c, "SELECT value FROM server_meta WHERE key = 'server_id'", STORE_NOARGS, &q);
	if (r < 0)
		return r;
	r = store_step(q) == 1 ? str_copy(app->server_id, sizeof(app->server_id), store_col_text(q, 0))
			       : ERR_STORE;
	store_stmt_free(q);
	return r;
}

static int fail(const char *what, const char *detail)
{
	log_error(what, "detail=\"%s\"", detail);
	return 1;
}

struct opts {
	const char *data, *listen, *config, *seed, *port_file, *web, *database;
	bool self_signed, routes;
};

/* Reads the command line into @o.  Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "config", required_argument, NULL, 'c' },
		{ "database", required_argument, NULL, 'D' },
		{ "tls-self-signed", no_argument, NULL, 't' },
		{ "seed-hr", required_argument, NULL, 's' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "web", required_argument, NULL, 'w' },
		{ "routes", no_argument, NULL, 'r' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': o->data = optarg; break;
		case 'l': o->listen = optarg; break;
		case 'c': o->config = optarg; break;
		case 'D': o->database = optarg; break;
		case 't': o->self_signed = true; break;
		case 's': o->seed = optarg; break;
		case 'p': o->port_file = optarg; break;
		case 'w': o->web = optarg; break;
		case 'r': o->routes = true; break;
		case 'V': printf("rampartd %s\n", RAMPART_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/* Defaults, then the file, the environment and the options, in that order.  Returns 0 or 1. */
static int load_config(struct app *app, const struct opts *o)
{
	struct rerr cerr = { "" };
	enum log_level lvl;

	config_defaults(&app->cfg);
	if (o->config && config_load_file(&app->cfg, o->config, &cerr) < 0)
		return fail("config: cannot load", cerr.message);
	if (config_load_env(&app->cfg, &cerr) < 0)
		return fail("config: bad environment setting", cerr.message);
	if (o->data && config_set(&app->cfg, "server", "data", o->data, &cerr) < 0)
		return fail("config: bad --data", cerr.message);
	if (o->listen && config_set(&app->cfg, "server", "listen", o->listen, &cerr) < 0)
		return fail("config: bad --listen", cerr.message);
	if (o->web && config_set(&app->cfg, "server", "web_dir", o->web, &cerr) < 0)
		return fail("config: bad --web", cerr.message);
	if (o->database && config_set(&app->cfg, "store", "url", o->database, &cerr) < 0)
		return fail("config: bad --database", cerr.message);
	if (config_check(&app->cfg, &cerr) < 0)
		return fail("config: settings disagree", cerr.message);
	if (audit_siem_check(app, &cerr) < 0)
		return fail("config: bad [audit] setting", cerr.message);
	if (!app->cfg.web_dir[0])
		str_copy(app->cfg.web_dir, sizeof(app->cfg.web_dir), RAMPART_WEB_DIR);
	if (log_parse_level(app->cfg.log_level, &lvl) < 0)
		return fail("config: log_level must be debug, info, warn or error", app->cfg.log_level);
	log_set_level(lvl);
	return 0;
}

/*
 * The database [store] url names, else DATA/rampart.db (SQLite).  A
 * PostgreSQL pool has a connection for every HTTP worker, the main thread,
 * the two sweepers and the audit log's threads unless [store] pool_size
 * says otherwise.
 */
static int open_store(struct app *app)
{
	struct store_options so = { 0 };
	char path[1024];
	long n = app->cfg.threads;

	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 2;
	so.pool_size = (unsigned)(app->cfg.store_pool_size ? app->cfg.store_pool_size
							   : n + 3 + (long)audit_store_threads(app));
	if (app->cfg.store_url[0])
		return store_open_opts(app->cfg.store_url, &so, &app->store);
	snprintf(path, sizeof(path), "%s/rampart.db", app->cfg.data_dir);
	return store_open_opts(path, &so, &app->store);
}

/* The data directory's keys, then its database.  Returns 0 or 1 (the reason logged). */
static int open_data(struct app *app)
{
	char path[1024];
	int r;

	r = data_dir_prepare(app->cfg.data_dir);
	if (r < 0)
		return fail("data: cannot prepare the data directory", strerror(-r));
	app->secret_key = sodium_malloc(APP_SECRET_KEY_BYTES);
	if (!app->secret_key)
		return fail("crypto: cannot allocate key memory", "sodium_malloc failed");
	snprintf(path, sizeof(path), "%s/secret.key", app->cfg.data_dir);
	r = rcrypto_keyfile_load(path, app->secret_key, APP_SECRET_KEY_BYTES);
	if (r < 0)
		return fail("data: cannot load secret.key (must be 32 bytes, mode 0600)", err_str(r));
	sodium_mprotect_readonly(app->secret_key);
	r = protect_keys_load(app->cfg.data_dir);
	if (r < 0)
		return fail("data: cannot load protect_wrap.key (must be 32 bytes, mode 0600)", err_str(r));
	r = endpoint_keys_load(app->cfg.data_dir);
	if (r < 0)
		return fail("data: cannot load policy_sign.key (must be 32 bytes, mode 0600)", err_str(r));
	r = open_store(app);
	if (r < 0)
		return fail("store: cannot open the database", err_str(r));
	r = server_id_load(app);
	if (r < 0)
		return fail("store: cannot read the server id", err_str(r));
	r = audit_keys_load(app);
	if (r < 0)
		return fail("data: cannot load the audit checkpoint key (must be 32 bytes, mode 0600)", err_str(r));
	return 0;
}

/* The first administrator and, on the very first start, the sample organization.  Returns 0 or 1. */
static int first_start(struct app *app, const char *seed)
{
	const char *pw = secure_getenv("RAMPART_ADMIN_PASSWORD");
	char generated[64];
	bool created = false;
	int r;

	r = identity_bootstrap_admin(app, pw && *pw ? pw : NULL, generated, sizeof(generated), &created);
	if (r < 0)
		return fail("identity: cannot create the first administrator", err_str(r));
	if (created && !(pw && *pw)) {
		/* Shown once on the terminal, never in the log. */
		printf("\n  First administrator created.\n  login:    admin\n  password: %s\n"
		       "  (shown only now; change it with 'rampart passwd')\n\n", generated);
		fflush(stdout);
	}
	sodium_memzero(generated, sizeof(generated));
	if (seed && (r = identity_seed_hr(app, seed)) < 0)
		return fail("identity: cannot load the sample organization", err_str(r));
	return 0;
}

/* The certificate and key to serve HTTPS with, when configured.  Returns 0 or 1. */
static int load_tls(struct app *app, bool self_signed, struct http_tls *tls)
{
	char path[1024], cert_path[1024], key_path[1024];
	int r;

	if (self_signed) {
		snprintf(path, sizeof(path), "%s/tls", app->cfg.data_dir);
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return fail("tls: cannot create the tls directory", strerror(errno));
		snprintf(cert_path, sizeof(cert_path), "%s/tls/cert.pem", app->cfg.data_dir);
		snprintf(key_path, sizeof(key_path), "%s/tls/key.pem", app->cfg.data_dir);
		r = tls_self_signed_ensure(cert_path, key_path);
		if (r < 0)
			return fail("tls: cannot create a self-signed certificate", err_str(r));
		str_copy(app->cfg.tls_cert, sizeof(app->cfg.tls_cert), cert_path);
		str_copy(app->cfg.tls_key, sizeof(app->cfg.tls_key), key_path);
	}
	if (!app->cfg.tls_cert[0] && !app->cfg.tls_key[0])
		return 0;
	if (!app->cfg.tls_cert[0] || !app->cfg.tls_key[0])
		return fail("tls: set both tls_cert and tls_key", "one is missing");
	if ((r = tls_read_pem(app->cfg.tls_cert, &tls->cert_pem)) < 0 ||
	    (r = tls_read_pem(app->cfg.tls_key, &tls->key_pem)) < 0)
		return fail("tls: cannot read the certificate or key", strerror(-r));
	app->tls = true;
	return 0;
}

/* Writes the listening port to @path atomically.  Returns 0 or 1. */
static int write_port_file(const char *path, unsigned port)
{
	char tmp[1100];
	FILE *pf;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	pf = fopen(tmp, "we");
	if (!pf || fprintf(pf, "%u\n", port) < 0 || fclose(pf) != 0 || rename(tmp, path) < 0)
		return fail("rampartd: cannot write the port file", strerror(errno));
	return 0;
}

/*
 * Listens, starts the workers and the sweepers, and waits for SIGTERM or
 * SIGINT in @sigs (blocked by the caller).  Returns 0 after a clean stop or 1.
 */
static int serve(struct app *app, struct http_server *srv, const struct http_tls *tls,
		 const char *port_file, const sigset_t *sigs)
{
	int r, sig;

	r = http_server_bind(srv, app->cfg.listen);
	if (r < 0)
		return fail("http: cannot listen", r == ERR_INVALID ? "bad address (use ADDR:PORT)" : err_str(r));
	if (!app->cfg.public_url[0]) {
		/* Links in mail and activation answers need the port actually bound. */
		const char *colon = strrchr(app->cfg.listen, ':');
		int n = colon ? (int)(colon - app->cfg.listen) : 0;

		snprintf(app->cfg.public_url, sizeof(app->cfg.public_url), "%s://%.*s:%u",
			 app->tls ? "https" : "http", n, app->cfg.listen, http_server_port(srv));
	}
	r = http_server_start(srv, tls);
	if (r < 0)
		return fail("http: cannot start", err_str(r));
	r = exchange_sweeper_start(app, 60);
	if (r < 0)
		log_warn("exchange: cannot start the sweeper", "error=\"%s\"", strerror(-r));
	r = endpoint_sweeper_start(app, 60);
	if (r < 0)
		log_warn("endpoint: cannot start the sweeper", "error=\"%s\"", strerror(-r));
	r = audit_checkpointer_start(app);
	if (r < 0)
		log_warn("audit: cannot start the checkpoint timer", "error=\"%s\"", strerror(-r));
	r = audit_siem_start(app);
	if (r < 0)
		log_warn("audit: cannot start streaming to the SIEM", "error=\"%s\"", strerror(-r));
	log_info("rampartd: listening", "addr=%s port=%u tls=%s version=%s server_id=%s",
		 app->cfg.listen, http_server_port(srv), app->tls ? "on" : "off", RAMPART_VERSION,
		 app->server_id);
	if (port_file && write_port_file(port_file, http_server_port(srv)) != 0) {
		http_server_stop(srv, 0);
		exchange_sweeper_stop();
		endpoint_sweeper_stop();
		audit_checkpointer_stop();
		audit_siem_stop();
		return 1;
	}
	do {
		r = sigwait(sigs, &sig);
	} while (r != 0);
	log_info("rampartd: shutting down", "signal=%d", sig);
	http_server_stop(srv, 10000);
	exchange_sweeper_stop();
	endpoint_sweeper_stop();
	audit_checkpointer_stop();
	audit_siem_stop();
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct app app = { 0 };
	struct http_server *srv = NULL;
	struct http_tls tls = { 0 };
	struct http_limits lim;
	struct rerr perr = { "" };
	sigset_t sigs;
	int rc;

	if (argc > 1 && strcmp(argv[1], "migrate-store") == 0)
		return migrate_store_main(argc - 1, argv + 1);
	rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (load_config(&app, &o) != 0)
		return 1;
	if (rcrypto_init() < 0)
		return fail("crypto: cannot initialize libsodium", "sodium_init failed");
#ifdef RAMPART_TEST_HOOKS
	/* rampartd-test only (tests/): a release rampartd has no such switch. */
	if (secure_getenv("RAMPART_TEST_FAST_PWHASH") && strcmp(secure_getenv("RAMPART_TEST_FAST_PWHASH"), "1") == 0) {
		rcrypto_pwhash_set_minimal();
		log_warn("rampartd: test build, password hashing at its minimum cost", NULL);
	}
#endif
	lim = (struct http_limits){
		.max_body = (size_t)app.cfg.max_body,
		.max_import = (size_t)app.cfg.max_import,
		.max_connections = (unsigned)app.cfg.max_connections,
		.max_per_client = (unsigned)app.cfg.max_connections_per_client,
		.header_timeout_s = (unsigned)app.cfg.header_timeout_s,
		.rate_per_minute = (unsigned)app.cfg.rate_per_minute,
		.threads = (unsigned)app.cfg.threads,
	};
	srv = http_server_new(&app, &lim);
	if (!srv || register_routes(srv, o.routes ? NULL : app.cfg.web_dir) < 0)
		return fail("http: cannot set up routes", "out of memory");
	if (http_server_set_trusted_proxies(srv, app.cfg.trusted_proxies, &perr) < 0) {
		http_server_free(srv);
		console_done();
		return fail("config: bad [http] trusted_proxies", perr.message);
	}
	if (o.routes) {
		http_routes_foreach(srv, print_route, NULL);
		http_server_free(srv);
		return 0;
	}
	metrics_server = srv;

	rc = open_data(&app);
	if (rc == 0)
		rc = first_start(&app, o.seed);
	if (rc == 0)
		rc = load_tls(&app, o.self_signed, &tls);
	if (rc == 0) {
		/* Signals are taken synchronously by this thread; workers never see them. */
		sigemptyset(&sigs);
		sigaddset(&sigs, SIGTERM);
		sigaddset(&sigs, SIGINT);
		pthread_sigmask(SIG_BLOCK, &sigs, NULL);
		signal(SIGPIPE, SIG_IGN);
		rc = serve(&app, srv, &tls, o.port_file, &sigs);
	}
	http_server_free(srv);
	console_done();
	store_close(app.store);
	sodium_free(app.secret_key);
	endpoint_keys_free();
	audit_keys_free();
	if (tls.key_pem) {
		sodium_memzero(tls.key_pem, strlen(tls.key_pem));
		free(tls.key_pem);
	}
	free(tls.cert_pem);
	if (rc == 0)
		log_info("rampartd: stopped", NULL);
	return rc;
}
