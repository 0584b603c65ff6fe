/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* ticker: periodic calls on a thread of their own; the wait uses CLOCK_MONOTONIC. */
#include "common/ticker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct ticker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	unsigned interval_s;
	ticker_fn fn;
	void *arg;
};

static void *ticker_main(void *p)
{
	struct ticker *t = p;

	pthread_mutex_lock(&t->lock);
	while (!t->stopping) {
		struct timespec ts;

		pthread_mutex_unlock(&t->lock);
		t->fn(t->arg);
		pthread_mutex_lock(&t->lock);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += t->interval_s;
		/* A spurious wake-up returns 0 and waits again; the deadline or an error ends the wait. */
		while (!t->stopping && pthread_cond_timedwait(&t->cond, &t->lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int ticker_start(unsigned interval_s, ticker_fn fn, void *arg, struct ticker **ret)
{
	struct ticker *t = calloc(1, sizeof(*t));
	pthread_condattr_t ca;
	int r;

	if (!t)
		return -ENOMEM;
	t->interval_s = interval_s ? interval_s : 1;
	t->fn = fn;
	t->arg = arg;
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&t->thread, NULL, ticker_main, t);
	if (r != 0) {
		pthread_cond_destroy(&t->cond);
		pthread_mutex_destroy(&t->lock);
		free(t);
		return -r;
	}
	*ret = t;
	return 0;
}

void ticker_stop(struct ticker *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stopping = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
}
