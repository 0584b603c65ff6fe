/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * err: Rampart's error codes.
 *
 * Functions return int: 0 on success, a negative errno value, or one of the
 * negative project codes below.  err_str() gives a sentence, err_name() the
 * stable machine code used in API error bodies, and err_http_status() the one
 * mapping from errors to HTTP statuses.
 */
#ifndef RAMPART_ERR_H
#define RAMPART_ERR_H

#include <stdarg.h>

enum {
	ERR_BASE = 10000,
	ERR_INVALID = -(ERR_BASE + 1),        /* input is malformed */
	ERR_NOT_FOUND = -(ERR_BASE + 2),      /* object does not exist (or is not visible) */
	ERR_CONFLICT = -(ERR_BASE + 3),       /* object exists or state forbids it */
	ERR_UNAUTHENTICATED = -(ERR_BASE + 4),/* no valid credentials */
	ERR_FORBIDDEN = -(ERR_BASE + 5),      /* credentials valid, action not allowed */
	ERR_TOO_LARGE = -(ERR_BASE + 6),      /* a size limit was exceeded */
	ERR_RATE_LIMITED = -(ERR_BASE + 7),   /* too many requests */
	ERR_LOCKED = -(ERR_BASE + 8),         /* account or source temporarily locked */
	ERR_STORE = -(ERR_BASE + 9),          /* the database failed */
	ERR_SCHEMA = -(ERR_BASE + 10),        /* database schema newer than this program */
	ERR_UNSUPPORTED = -(ERR_BASE + 11),   /* method or media type not supported */
	ERR_TOTP_REQUIRED = -(ERR_BASE + 12), /* password ok, second factor needed */
	ERR_PASSWORD_CHANGE = -(ERR_BASE + 13),/* password must be changed first */
	ERR_CSRF = -(ERR_BASE + 14),          /* missing or wrong CSRF token */
	ERR_INTERNAL = -(ERR_BASE + 15),      /* a bug or unexpected failure */
	ERR_THRESHOLD = -(ERR_BASE + 16),     /* safety threshold refused the change */
	ERR_METHOD = -(ERR_BASE + 17),        /* method not allowed on this path */
	ERR_UNAVAILABLE = -(ERR_BASE + 18),   /* shutting down or not ready */
};

/*
 * Why an operation failed, for the caller to show: the one error type of
 * every parser and domain function that explains its refusals.  Written
 * only on error; every function taking one accepts NULL.
 */
struct rerr {
	char message[256];        /* a sentence for the user, or "" */
	char field[64];           /* the input field at fault, or "" */
	long long at;             /* the line, record or chunk it speaks of; 0 when none */
};

/*
 * Fills @e (may be NULL) with @field (may be NULL) and the formatted
 * message, clears its position, and returns @err, so that callers can write
 * "return rerr_set(e, ERR_INVALID, "name", "...")".
 */
int rerr_set(struct rerr *e, int err, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* rerr_set with a va_list, for functions that wrap it. */
int rerr_setv(struct rerr *e, int err, const char *field, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

/* As rerr_set, also recording the position @at (a line, record or chunk). */
int rerr_set_at(struct rerr *e, int err, long long at, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* The message of @e when it has one, else err_str(@err); never NULL. */
const char *rerr_text(const struct rerr *e, int err);

/* Human-readable description of @err (never NULL). */
const char *err_str(int err);

/* Stable snake_case code for API bodies, e.g. "not_found" (never NULL). */
const char *err_name(int err);

/* HTTP status that represents @err. */
int err_http_status(int err);

#endif
