/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * progress: how the CLI's long transfers (send's upload, fetch's download)
 * show how far they got: "label [#####     ]  42%  1.2 MiB / 2.9 MiB" on
 * stderr, redrawn at most five times a second; and byte counts for people.
 * Callers draw only when stderr is a terminal.
 */
#ifndef RAMPART_CLI_PROGRESS_H
#define RAMPART_CLI_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* One transfer's bar: set label (and up), zero the rest. */
struct progress {
	const char *label;
	bool up;                   /* counts what is sent, not the answer */
	struct timespec last;
	bool shown;
	long long now_b, total;    /* the last figures seen */
};

/* "512 B", "1.5 KiB", "2.0 MiB", "1.25 GiB" into @out. */
void progress_fmt_bytes(char *out, size_t size, long long n);

/*
 * The client_progress function: @ud is a struct progress; the figures are
 * the bytes expected and done each way.  Redraws the bar when due; returns 0.
 */
int progress_update(void *ud, long long dltotal, long long dlnow, long long ultotal, long long ulnow);

/* Draws the last figures (the end of the transfer, however far it got) and ends the line. */
void progress_end(struct progress *p);

#endif
