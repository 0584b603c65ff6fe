/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* config: defaults, INI (inih), environment; one table describes every setting. */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/email.h"
#include "common/str.h"

enum cfg_type { CFG_STR, CFG_INT, CFG_DURATION };

struct cfg_item {
	const char *section;
	const char *key;
	enum cfg_type type;
	size_t offset;
	size_t size;       /* CFG_STR: buffer size */
	int64_t min, max;  /* CFG_INT, CFG_DURATION (seconds) */
};

#define S(sec, k, f) { sec, k, CFG_STR, offsetof(struct config, f), sizeof(((struct config *)0)->f), 0, 0 }
#define I(sec, k, f, lo, hi) { sec, k, CFG_INT, offsetof(struct config, f), 0, lo, hi }
#define D(sec, k, f, lo, hi) { sec, k, CFG_DURATION, offsetof(struct config, f), 0, lo, hi }

static const struct cfg_item cfg_items[] = {
	S("server", "listen", listen),
	S("server", "data", data_dir),
	S("server", "tls_cert", tls_cert),
	S("server", "tls_key", tls_key),
	I("server", "threads", threads, 0, 256),
	S("server", "log_level", log_level),
	S("server", "public_url", public_url),
	S("server", "web_dir", web_dir),
	S("store", "url", store_url),
	I("store", "pool_size", store_pool_size, 0, 1000),
	I("limits", "max_body", max_body, 1024, 64 << 20),
	I("limits", "max_import", max_import, 1024, 1LL << 30),
	I("limits", "max_connections", max_connections, 4, 100000),
	I("limits", "max_connections_per_client", max_connections_per_client, 0, 100000),
	D("limits", "header_timeout", header_timeout_s, 1, 3600),
	I("limits", "rate_per_minute", rate_per_minute, 0, 10000000),
	I("limits", "max_list", max_list, 10, 10000),
	S("http", "trusted_proxies", trusted_proxies),
	D("auth", "session_idle", session_idle_s, 60, 86400 * 30),
	D("auth", "session_absolute", session_absolute_s, 300, 86400 * 365),
	I("auth", "lockout_threshold", lockout_threshold, 1, 1000),
	D("auth", "lockout_window", lockout_window_s, 10, 86400),
	D("auth", "lockout", lockout_s, 10, 86400 * 7),
	I("auth", "source_lockout_threshold", source_lockout_threshold, 1, 100000),
	I("auth", "min_password_len", min_password_len, 8, 256),
	I("hr", "retire_threshold_percent", retire_threshold_pct, 0, 100),
	S("scim", "default_company", scim_default_company),
	I("exchange", "max_file", exchange_max_file, 1, 1LL << 40),
	D("exchange", "default_expiry", exchange_default_expiry_s, 60, 86400 * 365),
	D("exchange", "max_expiry", exchange_max_expiry_s, 60, 86400 * 365),
	I("exchange", "max_downloads", exchange_max_downloads, 1, 1000),
	I("exchange", "password_attempts", exchange_password_attempts, 1, 100),
	I("exchange", "quota", exchange_quota, 1, 1LL << 50),
	S("exchange", "smtp_url", smtp_url),
	S("exchange", "smtp_from", smtp_from),
	I("endpoint", "alert_max_severity", endpoint_alert_max_severity, 1, 255),
	S("audit", "checkpoint_key", audit_checkpoint_key),
	I("audit", "checkpoint_every_entries", audit_checkpoint_every_entries, 1, 100000000),
	D("audit", "checkpoint_every", audit_checkpoint_every_s, 1, 86400 * 7),
	S("audit", "siem_syslog", audit_siem_syslog),
	S("audit", "siem_http", audit_siem_http),
	S("audit", "siem_http_header", audit_siem_http_header),
	I("audit", "siem_backlog_warn", audit_siem_backlog_warn, 1, 1000000000),
};

#undef S
#undef I
#undef D

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	str_copy(c->listen, sizeof(c->listen), "127.0.0.1:8080");
	str_copy(c->data_dir, sizeof(c->data_dir), "./var");
	str_copy(c->log_level, sizeof(c->log_level), "info");
	c->max_body = 1 << 20;
	c->max_import = 64 << 20;
	c->max_connections = 1024;
	c->max_connections_per_client = 256;
	c->header_timeout_s = 15;
	c->rate_per_minute = 6000;
	c->max_list = 500;
	c->session_idle_s = 30 * 60;
	c->session_absolute_s = 12 * 3600;
	c->lockout_threshold = 5;
	c->lockout_window_s = 15 * 60;
	c->lockout_s = 15 * 60;
	c->source_lockout_threshold = 50;
	c->min_password_len = 12;
	c->retire_threshold_pct = 10;
	c->exchange_max_file = 2LL << 30;
	c->exchange_default_expiry_s = 7 * 86400;
	c->exchange_max_expiry_s = 30 * 86400;
	c->exchange_max_downloads = 20;
	c->exchange_password_attempts = 5;
	c->exchange_quota = 20LL << 30;
	str_copy(c->smtp_from, sizeof(c->smtp_from), "rampart@localhost");
	c->endpoint_alert_max_severity = 2;
	c->audit_checkpoint_every_entries = 1000;
	c->audit_checkpoint_every_s = 5 * 60;
	c->audit_siem_backlog_warn = 10000;
}

static void cfg_err(struct rerr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cfg_err(struct rerr *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rerr_setv(e, -EINVAL, NULL, fmt, ap);
	va_end(ap);
}

int config_check(const struct config *c, struct rerr *e)
{
	if (c->smtp_url[0] && !email_is_valid(c->smtp_from)) {
		cfg_err(e, "[exchange] smtp_from: '%.64s' is not a full address (a domain of two labels "
			"or more); set it whenever smtp_url is set", c->smtp_from);
		return -EINVAL;
	}
	return 0;
}

int config_set(struct config *c, const char *section, const char *key, const char *value,
	       struct rerr *e)
{
	for (size_t i = 0; i < sizeof(cfg_items) / sizeof(cfg_items[0]); i++) {
		const struct cfg_item *it = &cfg_items[i];
		char *field = (char *)c + it->offset;
		int64_t v;
		int r;

		if (strcmp(it->section, section) != 0 || strcmp(it->key, key) != 0)
			continue;
		switch (it->type) {
		case CFG_STR:
			if (str_copy(field, it->size, value) < 0) {
				cfg_err(e, "[%s] %s: value longer than %zu bytes", section, key, it->size - 1);
				return -EINVAL;
			}
			return 0;
		case CFG_INT:
			r = str_parse_i64(value, it->min, it->max, &v);
			if (r < 0) {
				cfg_err(e, "[%s] %s: '%.64s' is not a whole number from %lld to %lld",
					section, key, value, (long long)it->min, (long long)it->max);
				return -EINVAL;
			}
			*(int64_t *)field = v;
			return 0;
		case CFG_DURATION:
			/* A bare number is seconds; "15m", "12h", "7d" also work. */
			if (str_parse_i64(value, it->min, it->max, &v) == 0) {
				*(int64_t *)field = v;
				return 0;
			}
			r = str_parse_duration_ms(value, &v);
			if (r < 0 || v / 1000 < it->min || v / 1000 > it->max) {
				cfg_err(e, "[%s] %s: '%.64s' is not a duration from %llds to %llds",
					section, key, value, (long long)it->min, (long long)it->max);
				return -EINVAL;
			}
			*(int64_t *)field = v / 1000;
			return 0;
		}
	}
	cfg_err(e, "unknown setting [%.32s] %.64s", section, key);
	return -EINVAL;
}

struct cfg_ctx {
	struct config *c;
	struct rerr *e;
	int failed;
};

static int cfg_ini_handler(void *user, const char *section, const char *name, const char *value)
{
	struct cfg_ctx *ctx = user;

	if (ctx->failed)
		return 0;
	if (config_set(ctx->c, section, name, value, ctx->e) < 0) {
		ctx->failed = 1;
		return 0;
	}
	return 1;
}

int config_parse_string(struct config *c, const char *text, size_t len, struct rerr *e)
{
	struct cfg_ctx ctx = { c, e, 0 };
	char *copy;
	int r;

	if (memchr(text, '\0', len)) {
		cfg_err(e, "configuration contains a NUL byte");
		return -EINVAL;
	}
	copy = strndup(text, len);
	if (!copy)
		return -ENOMEM;
	r = ini_parse_string(copy, cfg_ini_handler, &ctx);
	free(copy);
	if (ctx.failed)
		return -EINVAL;
	if (r != 0) {
		cfg_err(e, "line %d: not a 'key = value' line or [section]", r);
		return -EINVAL;
	}
	return 0;
}

int config_load_file(struct config *c, const char *path, struct rerr *e)
{
	char buf[65536];
	size_t n;
	FILE *f = fopen(path, "re");
	int r;

	if (!f) {
		r = -errno;
		cfg_err(e, "cannot open '%s': %s", path, strerror(-r));
		return r;
	}
	n = fread(buf, 1, sizeof(buf), f);
	if (n == sizeof(buf)) {
		fclose(f);
		cfg_err(e, "'%s' is larger than %zu bytes", path, sizeof(buf) - 1);
		return -EINVAL;
	}
	fclose(f);
	return config_parse_string(c, buf, n, e);
}

int config_load_env(struct config *c, struct rerr *e)
{
	const char *v;
	int r;

	for (size_t i = 0; i < sizeof(cfg_items) / sizeof(cfg_items[0]); i++) {
		const struct cfg_item *it = &cfg_items[i];
		char name[96];
		size_t k;

		snprintf(name, sizeof(name), "RAMPART_%s_%s", it->section, it->key);
		for (k = 0; name[k]; k++)
			name[k] = (char)toupper((unsigned char)name[k]);
		v = secure_getenv(name);
		if (v) {
			r = config_set(c, it->section, it->key, v, e);
			if (r < 0)
				return r;
		}
	}
	v = secure_getenv("RAMPART_LISTEN");
	if (v && (r = config_set(c, "server", "listen", v, e)) < 0)
		return r;
	v = secure_getenv("RAMPART_DATA");
	if (v && (r = config_set(c, "server", "data", v, e)) < 0)
		return r;
	v = secure_getenv("RAMPART_WEB");
	if (v && (r = config_set(c, "server", "web_dir", v, e)) < 0)
		return r;
	v = secure_getenv("RAMPART_DATABASE_URL");
	if (v && (r = config_set(c, "store", "url", v, e)) < 0)
		return r;
	return 0;
}
