/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* err: the single table from error codes to names, sentences and HTTP statuses. */
#include "common/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct err_info {
	int code;
	const char *name;
	const char *text;
	int status;
};

static const struct err_info err_table[] = {
	{ ERR_INVALID, "invalid", "invalid input", 400 },
	{ ERR_NOT_FOUND, "not_found", "not found", 404 },
	{ ERR_CONFLICT, "conflict", "conflict with the current state", 409 },
	{ ERR_UNAUTHENTICATED, "unauthenticated", "authentication required", 401 },
	{ ERR_FORBIDDEN, "forbidden", "not allowed", 403 },
	{ ERR_TOO_LARGE, "too_large", "size limit exceeded", 413 },
	{ ERR_RATE_LIMITED, "rate_limited", "too many requests", 429 },
	{ ERR_LOCKED, "locked", "temporarily locked after repeated failures", 429 },
	{ ERR_STORE, "store_error", "database error", 503 },
	{ ERR_SCHEMA, "schema_too_new", "database schema is newer than this program", 500 },
	{ ERR_UNSUPPORTED, "unsupported_media_type", "unsupported media type", 415 },
	{ ERR_TOTP_REQUIRED, "totp_required", "a one-time code is required", 401 },
	{ ERR_PASSWORD_CHANGE, "password_change_required", "the password must be changed first", 403 },
	{ ERR_CSRF, "csrf", "missing or wrong CSRF token", 403 },
	{ ERR_INTERNAL, "internal", "internal error", 500 },
	{ ERR_THRESHOLD, "threshold_exceeded", "refused by a safety threshold", 409 },
	{ ERR_METHOD, "method_not_allowed", "method not allowed", 405 },
	{ ERR_UNAVAILABLE, "unavailable", "service unavailable", 503 },
	{ -ENOMEM, "internal", "out of memory", 500 },
	{ -EINVAL, "invalid", "invalid argument", 400 },
	{ -ENOENT, "not_found", "no such file or object", 404 },
	{ -EEXIST, "conflict", "already exists", 409 },
	{ -E2BIG, "too_large", "too large", 413 },
	{ -EMSGSIZE, "too_large", "too large", 413 },
	{ -ENAMETOOLONG, "too_large", "name too long", 413 },
	{ -ERANGE, "invalid", "out of range", 400 },
	{ -EACCES, "forbidden", "permission denied", 403 },
	{ -EPERM, "forbidden", "operation not permitted", 403 },
};

static const struct err_info *err_find(int err)
{
	for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].code == err)
			return &err_table[i];
	return NULL;
}

const char *err_str(int err)
{
	const struct err_info *e = err_find(err);

	if (e)
		return e->text;
	if (err < 0 && err > -ERR_BASE)
		return strerror(-err);
	return "unknown error";
}

const char *err_name(int err)
{
	const struct err_info *e = err_find(err);

	return e ? e->name : "internal";
}

int err_http_status(int err)
{
	const struct err_info *e = err_find(err);

	return e ? e->status : 500;
}

static int rerr_vset(struct rerr *e, int err, long long at, const char *field, const char *fmt,
		     va_list ap) __attribute__((format(printf, 5, 0)));
static int rerr_vset(struct rerr *e, int err, long long at, const char *field, const char *fmt,
		     va_list ap)
{
	if (!e)
		return err;
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
	e->at = at;
	return err;
}

int rerr_set(struct rerr *e, int err, const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err = rerr_vset(e, err, 0, field, fmt, ap);
	va_end(ap);
	return err;
}

int rerr_setv(struct rerr *e, int err, const char *field, const char *fmt, va_list ap)
{
	return rerr_vset(e, err, 0, field, fmt, ap);
}

int rerr_set_at(struct rerr *e, int err, long long at, const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err = rerr_vset(e, err, at, field, fmt, ap);
	va_end(ap);
	return err;
}

const char *rerr_text(const struct rerr *e, int err)
{
	return e && e->message[0] ? e->message : err_str(err);
}
