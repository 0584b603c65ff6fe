/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * ticker: a background thread that calls a function now and then every
 * interval until stopped.  Used by rampartd's sweepers; whatever they do
 * must be safe with several servers (the database decides), since every
 * server runs its own ticker.
 */
#ifndef RAMPART_TICKER_H
#define RAMPART_TICKER_H

struct ticker;

typedef void (*ticker_fn)(void *arg);

/*
 * Starts a thread that calls @fn(@arg) at once and then every @interval_s
 * seconds (monotonic clock).  Returns 0 and *ret, -ENOMEM, or -errno from
 * pthread_create.
 */
int ticker_start(unsigned interval_s, ticker_fn fn, void *arg, struct ticker **ret);

/* Wakes the thread, waits for a call in progress to finish, joins, frees.  Accepts NULL. */
void ticker_stop(struct ticker *t);

#endif
