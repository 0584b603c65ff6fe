/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * rtime: clocks and RFC 3339 (see rtime.h).  The parser reads fixed-width
 * fields by hand, checks each against its range before any arithmetic, and
 * counts days with the proleptic Gregorian calendar, so that no input can
 * be normalized into another date (as strptime and timegm would do with
 * February 30) or overflow.
 */
#include "common/rtime.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t rtime_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rtime_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

const char *rtime_format(char *buf, size_t size, int64_t ms)
{
	/* Rounded down, so that a time before 1970 keeps a fraction from 000 to 999. */
	int64_t frac = ms % 1000;
	time_t sec = (time_t)(ms / 1000 - (frac < 0));
	struct tm tm;

	gmtime_r(&sec, &tm);
	/* Four-digit years also before 1000, which strftime's %Y would shorten. */
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(frac < 0 ? frac + 1000 : frac));
	return buf;
}

/* ---------------------------------------------------------------- parsing */

#define RTIME_MAX_FRAC 9

/* Reads exactly @n digits at *p into *ret and advances.  False when they are not there. */
static bool rtime_digits(const char **p, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*ret = v;
	return true;
}

static bool rtime_is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int rtime_month_days(int y, int m)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return mdays[m - 1] + (m == 2 && rtime_is_leap(y));
}

/*
 * Days from 1970-01-01 to @y-@m-@d in the proleptic Gregorian calendar
 * (negative before it), counting in 400-year eras of 146097 days from
 * March 1 so that the leap day ends a year.
 */
static int64_t rtime_days_from_civil(int y, int m, int d)
{
	int64_t yy = y - (m <= 2), era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;                                  /* 0..399 */
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365 */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* 0..146096 */

	return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD" at *p: the date, range-checked.  False when malformed or out of range. */
static bool rtime_read_date(const char **p, unsigned flags, int *y, int *m, int *d)
{
	if (!rtime_digits(p, 4, y) || *(*p)++ != '-' || !rtime_digits(p, 2, m) || *(*p)++ != '-' ||
	    !rtime_digits(p, 2, d))
		return false;
	if ((flags & RTIME_EPOCH) && *y < 1970)
		return false;
	return *m >= 1 && *m <= 12 && *d >= 1 && *d <= rtime_month_days(*y, *m);
}

/* "hh:mm:ss[.frac]" at *p: seconds of the day and the milliseconds of the fraction. */
static bool rtime_read_time(const char **p, int64_t *ret_s, int *ret_frac_ms)
{
	int h, mi, s, frac = 0, n = 0;

	if (!rtime_digits(p, 2, &h) || *(*p)++ != ':' || !rtime_digits(p, 2, &mi) || *(*p)++ != ':' ||
	    !rtime_digits(p, 2, &s) || h > 23 || mi > 59 || s > 60)
		return false;
	if (**p == '.') {
		(*p)++;
		for (; **p >= '0' && **p <= '9'; (*p)++, n++)
			if (n < 3)
				frac = frac * 10 + (**p - '0');
		if (n == 0 || n > RTIME_MAX_FRAC)
			return false;
		for (int i = n; i < 3; i++)
			frac *= 10;
	}
	*ret_s = (int64_t)h * 3600 + mi * 60 + s;
	*ret_frac_ms = frac;
	return true;
}

/* "Z", "+hh:mm" or "-hh:mm" (or "+hhmm" with RTIME_OFFSET_BASIC) at *p: the offset in seconds. */
static bool rtime_read_offset(const char **p, unsigned flags, int64_t *ret_s)
{
	int sign, oh, om;

	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		*ret_s = 0;
		return true;
	}
	if (**p != '+' && **p != '-')
		return false;
	sign = *(*p)++ == '+' ? 1 : -1;
	if (!rtime_digits(p, 2, &oh))
		return false;
	if (**p == ':')
		(*p)++;
	else if (!(flags & RTIME_OFFSET_BASIC))
		return false;
	if (!rtime_digits(p, 2, &om) || oh > 23 || om > 59)
		return false;
	*ret_s = sign * ((int64_t)oh * 3600 + om * 60);
	return true;
}

int rtime_parse_flags(const char *s, unsigned flags, int64_t *ret_ms)
{
	const char *p = s;
	int y, m, d, frac = 0;
	int64_t secs = 0, offset = 0, t;

	if (!s || !rtime_read_date(&p, flags, &y, &m, &d))
		return -EINVAL;
	if (*p == '\0' && (flags & RTIME_DATE)) {
		/* A bare date: its midnight UTC. */
	} else if (*p == 'T' || *p == 't' || (*p == ' ' && (flags & RTIME_SPACE))) {
		p++;
		if (!rtime_read_time(&p, &secs, &frac) || !rtime_read_offset(&p, flags, &offset))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	t = rtime_days_from_civil(y, m, d) * 86400 + secs - offset;
	if ((flags & RTIME_EPOCH) && t < 0)
		return -EINVAL;
	*ret_ms = t * 1000 + frac;
	return 0;
}

int rtime_parse(const char *s, int64_t *ret_ms)
{
	return rtime_parse_flags(s, RTIME_DATE | RTIME_SPACE, ret_ms);
}
