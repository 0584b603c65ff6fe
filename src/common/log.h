/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * log: logfmt lines on stderr.
 *
 * Each line is "ts=<RFC3339> level=<lvl> [req=<id>] msg=\"...\" key=value...".
 * The request id of the calling thread (log_set_request_id) is added
 * automatically.  Never pass a password, token, key, Authorization header,
 * one-time link, file content or mail body to these functions.
 */
#ifndef RAMPART_LOG_H
#define RAMPART_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

/* Sets the minimum level written (default info). */
void log_set_level(enum log_level lvl);

/* Parses "debug", "info", "warn" or "error"; -EINVAL otherwise. */
int log_parse_level(const char *s, enum log_level *ret_lvl);

/* Sets the request id attached to this thread's lines; NULL clears it. */
void log_set_request_id(const char *id);

/*
 * Writes one line.  @msg is a constant description; @fmt (may be NULL) is a
 * printf format producing extra " key=value" pairs.  Values that may hold
 * spaces must be quoted by the caller with log_quote().
 */
void log_write(enum log_level lvl, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Copies @s into @buf as a logfmt-safe quoted value (control characters and
 * quotes escaped, truncated with "..." at @size).  Returns @buf.
 */
const char *log_quote(char *buf, unsigned size, const char *s);

#define log_debug(msg, ...) log_write(LOG_LVL_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...) log_write(LOG_LVL_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_write(LOG_LVL_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_write(LOG_LVL_ERROR, msg, __VA_ARGS__)

#endif
