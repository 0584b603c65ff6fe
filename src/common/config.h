/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * config: rampartd's settings.  Sources, later winning: built-in defaults,
 * the INI file (--config), RAMPART_<SECTION>_<KEY> environment variables
 * (RAMPART_LISTEN, RAMPART_DATA, RAMPART_WEB and RAMPART_DATABASE_URL as
 * short forms), then command-line flags.
 * Every value is range-checked; an unknown section or key is an error so a
 * typo never silently weakens a setting.
 */
#ifndef RAMPART_CONFIG_H
#define RAMPART_CONFIG_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config {
	/* [server] */
	char listen[128];          /* ADDR:PORT */
	char data_dir[512];
	char tls_cert[512];
	char tls_key[512];
	int64_t threads;           /* 0: number of cores */
	char log_level[16];
	char public_url[256];      /* how clients reach us; for links */
	char web_dir[512];         /* the built web console; "" for the build-time default */
	/* [store] */
	char store_url[1024];      /* postgresql://... or sqlite:PATH; "" for DATA/rampart.db */
	int64_t store_pool_size;   /* PostgreSQL connections; 0: threads + 3 */
	/* [limits] */
	int64_t max_body;          /* bytes of a JSON request */
	int64_t max_import;        /* bytes of an HR CSV */
	int64_t max_connections;
	int64_t max_connections_per_client; /* per socket peer address; trusted proxies exempt */
	int64_t header_timeout_s;  /* to receive a request's head, from connect or the last answer */
	int64_t rate_per_minute;   /* requests per client address */
	int64_t max_list;          /* largest page of a list */
	/* [http] */
	char trusted_proxies[1024]; /* addresses and CIDR ranges whose forwarding headers are read */
	/* [auth] */
	int64_t session_idle_s;
	int64_t session_absolute_s;
	int64_t lockout_threshold; /* failures within the window that lock */
	int64_t lockout_window_s;
	int64_t lockout_s;
	int64_t source_lockout_threshold;
	int64_t min_password_len;
	/* [hr] */
	int64_t retire_threshold_pct;
	/* [scim] */
	char scim_default_company[256]; /* company of a SCIM user sent without organization; "" refuses */
	/* [exchange] */
	int64_t exchange_max_file;         /* bytes of one exchanged file */
	int64_t exchange_default_expiry_s;
	int64_t exchange_max_expiry_s;
	int64_t exchange_max_downloads;
	int64_t exchange_password_attempts; /* wrong passwords that burn a link */
	int64_t exchange_quota;            /* bytes one person may have stored */
	char smtp_url[256];                /* smtp://host:port for notifications; "" sends none */
	char smtp_from[256];
	/* [endpoint] */
	int64_t endpoint_alert_max_severity; /* EVE alerts at or below this severity quarantine (1 most severe) */
	/* [audit] (src/audit: checkpoints and SIEM streaming; docs/security.md section 9) */
	char audit_checkpoint_key[512];        /* "" for DATA/audit_checkpoint.key */
	int64_t audit_checkpoint_every_entries; /* sign the head when its seq is a multiple */
	int64_t audit_checkpoint_every_s;      /* and when it moved and the last is this old */
	char audit_siem_syslog[512];           /* "tcp://HOST:PORT" or "unix:/path"; "" none */
	char audit_siem_http[512];             /* "http(s)://..." receiving POSTed JSON lines; "" none */
	char audit_siem_http_header[512];      /* one "Name: value" header sent with each POST; "" none */
	int64_t audit_siem_backlog_warn;       /* entries not yet shipped before a warning */
};

/* Fills @c with the defaults. */
void config_defaults(struct config *c);

/* Applies INI text (@len bytes).  Returns 0, or -EINVAL with @e naming the line and key. */
int config_parse_string(struct config *c, const char *text, size_t len, struct rerr *e);

/* Applies an INI file.  Returns 0, -errno when unreadable, or -EINVAL with @e filled. */
int config_load_file(struct config *c, const char *path, struct rerr *e);

/* Applies RAMPART_* environment variables.  Returns 0 or -EINVAL with @e filled. */
int config_load_env(struct config *c, struct rerr *e);

/*
 * Checks what no single setting can: settings that must agree.  Today: a
 * server that sends mail (smtp_url set) needs an smtp_from that is a full
 * address (common/email.h).  Returns 0 or -EINVAL with @e filled.
 */
int config_check(const struct config *c, struct rerr *e);

/* Sets one value by section and key (as from INI).  Returns 0 or -EINVAL. */
int config_set(struct config *c, const char *section, const char *key, const char *value,
	       struct rerr *e);

#endif
