/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* identity: wiring of the domain for rampartd; the first administrator; the sample organization. */
#include "identity/identity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "audit/audit.h"
#include "common/app.h"
#include "common/err.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/rtime.h"
#include "http/http.h"
#include "identity/auth.h"
#include "identity/directory.h"
#include "identity/hr.h"
#include "identity/people.h"
#include "identity/scim.h"
#include "store/store.h"

int identity_routes(struct http_server *s)
{
	int r;

	http_server_set_authenticator(s, auth_authenticate);
	r = auth_routes(s);
	r = r ? r : directory_routes(s);
	r = r ? r : hr_routes(s);
	r = r ? r : scim_routes(s);
	return r;
}

int identity_bootstrap_admin(struct app *app, const char *password, char *ret_generated,
			     size_t size, bool *ret_created)
{
	static const struct people_rec admin = {
		.login = "admin", .family_name = "Administrator", .given_name = "Rampart",
		.title = "Administrator", .status = "active", .kind = "employee",
	};
	struct store_conn *c = store_conn(app->store);
	struct people_writer *w = NULL;
	struct person found;
	char id[ULID_SIZE], pw[48];
	int64_t n, now = rtime_now_ms();
	int r;

	*ret_created = false;
	if (!c)
		return ERR_STORE;
	r = people_role_count(c, ROLE_ADMIN, &n);
	if (r < 0)
		return r;
	if (n > 0)
		return 0;
	if (!password) {
		unsigned char raw[18];

		if (size < 32)
			return -EINVAL;
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2base64(pw, sizeof(pw), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		sodium_memzero(raw, sizeof(raw));
		password = pw;
	}
	ids_ulid(id, now);
	r = people_writer_new(c, "bootstrap", NULL, now, &w);
	if (r < 0)
		goto out;
	r = store_begin(c);
	if (r < 0)
		goto out;
	/* An earlier "admin" login that lost its role gets it back rather than a duplicate. */
	r = people_find(c, "admin", &found);
	if (r == ERR_NOT_FOUND)
		r = people_create(w, id, &admin, NULL);
	else if (r == 0 && strcmp(found.login, "admin") == 0) {
		memcpy(id, found.id, sizeof(id));
		if (strcmp(found.status, "active") != 0)
			r = people_activate(w, id, NULL);
	} else if (r == 0)
		r = ERR_CONFLICT;
	if (r < 0)
		goto fail;
	r = people_role_grant(w, id, ROLE_ADMIN, NULL, "bootstrap");
	if (r < 0)
		goto fail;
	r = auth_set_password(app, c, id, password, false);
	if (r < 0)
		goto fail;
	{
		struct audit_entry e = {
			.source = "system", .action = "identity.bootstrap_admin", .object_type = "person",
			.object_id = id, .outcome = AUDIT_SUCCESS,
		};

		r = audit_append(c, &e);
		if (r < 0)
			goto fail;
	}
	r = store_commit(c);
	if (r < 0)
		goto out;
	if (password == pw)
		snprintf(ret_generated, size, "%s", pw);
	*ret_created = true;
	log_info("identity: first administrator created", "login=admin person=%s", id);
	goto out;
fail:
	store_rollback(c);
out:
	people_writer_free(w);
	sodium_memzero(pw, sizeof(pw));
	return r;
}

int identity_seed_hr(struct app *app, const char *path)
{
	struct store_conn *c = store_conn(app->store);
	struct hr_options opt = {
		.retire_threshold_pct = app->cfg.retire_threshold_pct,
		.source = "seed",
	};
	json_t *report = NULL;
	char *data = NULL;
	size_t len = 0;
	int64_t n;
	FILE *f;
	int r;

	if (!c)
		return ERR_STORE;
	r = store_query_i64(c, "SELECT count(*) FROM server_meta WHERE key = 'hr_seeded'", STORE_NOARGS, &n);
	if (r < 0)
		return r;
	if (n > 0)
		return 0;
	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		log_error("identity: cannot open the sample HR file", "path=\"%s\"", path);
		return r;
	}
	data = malloc((size_t)app->cfg.max_import + 1);
	if (!data) {
		fclose(f);
		return -ENOMEM;
	}
	len = fread(data, 1, (size_t)app->cfg.max_import + 1, f);
	fclose(f);
	if (len > (size_t)app->cfg.max_import) {
		free(data);
		return ERR_TOO_LARGE;
	}
	r = hr_import(app, c, data, len, &opt, &report);
	free(data);
	if (r < 0) {
		log_error("identity: sample organization refused", "path=\"%s\" error=\"%s\"", path, err_str(r));
		json_decref(report);
		return r;
	}
	json_decref(report);
	r = store_exec(c, "INSERT INTO server_meta (key, value) VALUES ('hr_seeded', $1) "
			  "ON CONFLICT (key) DO NOTHING", STORE_ARGS(SA_TEXT(path)));
	if (r >= 0)
		log_info("identity: sample organization loaded", "path=\"%s\"", path);
	return r < 0 ? r : 0;
}
