/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* log: logfmt writer; one write(2) per line so lines from threads never interleave. */
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level log_min = LOG_LVL_INFO;
static __thread char log_req_id[40];

static const char *const log_names[] = { "debug", "info", "warn", "error" };

void log_set_level(enum log_level lvl)
{
	log_min = lvl;
}

int log_parse_level(const char *s, enum log_level *ret_lvl)
{
	for (unsigned i = 0; i < 4; i++) {
		if (strcmp(s, log_names[i]) == 0) {
			*ret_lvl = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_set_request_id(const char *id)
{
	if (!id) {
		log_req_id[0] = '\0';
		return;
	}
	if (snprintf(log_req_id, sizeof(log_req_id), "%s", id) >= (int)sizeof(log_req_id))
		log_req_id[0] = '\0';
}

const char *log_quote(char *buf, unsigned size, const char *s)
{
	unsigned o = 0;

	if (size < 8) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		int n;

		if (c == '"' || c == '\\')
			n = snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			n = snprintf(esc, sizeof(esc), "\\x%02x", c);
		else
			n = snprintf(esc, sizeof(esc), "%c", c);
		if (o + (unsigned)n + 5 > size) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, esc, (size_t)n);
		o += (unsigned)n;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

void log_write(enum log_level lvl, const char *msg, const char *fmt, ...)
{
	char line[2048], ts[40], qmsg[512];
	struct timeval tv;
	struct tm tm;
	int n, m;

	if (lvl < log_min)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s%s%s msg=%s", ts,
		     (long)(tv.tv_usec / 1000), log_names[lvl],
		     log_req_id[0] ? " req=" : "", log_req_id,
		     log_quote(qmsg, sizeof(qmsg), msg));
	if (n < 0 || n >= (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	if (fmt) {
		va_list ap;

		line[n++] = ' ';
		va_start(ap, fmt);
		m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
		va_end(ap);
		if (m < 0)
			m = 0;
		n += m;
		if (n >= (int)sizeof(line) - 1)
			n = (int)sizeof(line) - 2;
	}
	line[n++] = '\n';
	/* A short write to stderr cannot be reported anywhere better. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
