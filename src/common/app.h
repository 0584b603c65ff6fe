/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * app: what every handler of rampartd can reach through http_req_app():
 * settings, the store, and the server's keys.  Filled once at start-up and
 * read-only afterwards, so threads share it without locks.
 */
#ifndef RAMPART_APP_H
#define RAMPART_APP_H

#include <stdbool.h>

#include "common/config.h"
#include "common/ids.h"

struct store;

#define APP_SECRET_KEY_BYTES 32

struct app {
	struct config cfg;
	struct store *store;
	/* Encrypts secrets the server must read back (TOTP seeds); sodium_malloc'd. */
	unsigned char *secret_key;
	char server_id[ULID_SIZE];
	bool tls;
};

#endif
