/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* progress: the transfer progress bar on stderr and byte counts for people. */
#include "cli/progress.h"

#include <stdio.h>
#include <string.h>

void progress_fmt_bytes(char *out, size_t size, long long n)
{
	if (n < 1024)
		snprintf(out, size, "%lld B", n);
	else if (n < 1024LL * 1024)
		snprintf(out, size, "%.1f KiB", (double)n / 1024);
	else if (n < 1024LL * 1024 * 1024)
		snprintf(out, size, "%.1f MiB", (double)n / (1024.0 * 1024));
	else
		snprintf(out, size, "%.2f GiB", (double)n / (1024.0 * 1024 * 1024));
}

static void progress_draw(const struct progress *p)
{
	char a[32], b[32], bar[31];
	int pct = (int)(p->now_b * 100 / p->total), fill;

	if (pct > 100)
		pct = 100;
	fill = pct * 30 / 100;
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, ' ', (size_t)(30 - fill));
	bar[30] = '\0';
	progress_fmt_bytes(a, sizeof(a), p->now_b);
	progress_fmt_bytes(b, sizeof(b), p->total);
	fprintf(stderr, "\r%s [%s] %3d%%  %s / %s   ", p->label, bar, pct, a, b);
}

int progress_update(void *ud, long long dltotal, long long dlnow, long long ultotal, long long ulnow)
{
	struct progress *p = ud;
	long long total = p->up ? ultotal : dltotal;
	long long now_b = p->up ? ulnow : dlnow;
	struct timespec ts;

	if (total <= 0)
		return 0;
	p->now_b = now_b;
	p->total = total;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (p->shown && (ts.tv_sec - p->last.tv_sec) * 1000 + (ts.tv_nsec - p->last.tv_nsec) / 1000000 < 200)
		return 0;
	p->last = ts;
	p->shown = true;
	progress_draw(p);
	return 0;
}

void progress_end(struct progress *p)
{
	if (p->shown) {
		progress_draw(p);
		fputc('\n', stderr);
	}
	p->shown = false;
}
