/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* rtime: clocks and RFC 3339. */
#include "common/rtime.h"

#include <errno.h>
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
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;
	char tmp[32];

	gmtime_r(&sec, &tm);
	strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03dZ", tmp, (int)(ms % 1000));
	return buf;
}

int rtime_parse(const char *s, int64_t *ret_ms)
{
	struct tm tm;
	const char *p;
	int64_t frac = 0;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%d", &tm);
	if (!p)
		return -EINVAL;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p = strptime(p + 1, "%H:%M:%S", &tm);
		if (!p)
			return -EINVAL;
		if (*p == '.') {
			int digits = 0;

			p++;
			while (*p >= '0' && *p <= '9') {
				if (digits < 3) {
					frac = frac * 10 + (*p - '0');
					digits++;
				}
				p++;
			}
			if (digits == 0)
				return -EINVAL;
			while (digits++ < 3)
				frac *= 10;
		}
		if (*p == 'Z' || *p == 'z')
			p++;
		else if (strcmp(p, "+00:00") == 0)
			p += 6;
		else
			return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	*ret_ms = (int64_t)timegm(&tm) * 1000 + frac;
	return 0;
}
