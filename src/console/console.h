/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * console: serves the web console's built assets (web/dist) at "/".
 *
 * The asset directory is read once, when the routes are registered: every
 * regular file below it (no symbolic links, no hidden names, bounded count,
 * depth and size) is loaded into memory, and requests are answered from that
 * table only.  A request path can therefore never reach a file that was not
 * there at start-up, whatever it contains.  Rebuilding the console needs a
 * restart of rampartd.
 *
 * Every answer, including errors, carries the console's security headers and
 * caching (http_resp_console): "no-cache" for index.html and other top-level
 * files, "public, max-age=31536000, immutable" for the content-hashed files
 * under /assets/.
 *
 * The console uses hash routing (#/people/ID), so there is no fallback to
 * index.html for unknown paths: they answer 404 with the API's JSON error.
 */
#ifndef RAMPART_CONSOLE_H
#define RAMPART_CONSOLE_H

#include <stddef.h>

struct http_server;

/* Limits on what is loaded from the asset directory. */
#define CONSOLE_MAX_FILES 512
#define CONSOLE_MAX_FILE_BYTES (16u << 20)
#define CONSOLE_MAX_TOTAL_BYTES (64u << 20)
#define CONSOLE_MAX_DEPTH 4

/*
 * Loads the assets under @asset_dir and registers GET "/", "/{file}" and
 * "/assets/{file}" (public, undocumented).  Call it after every other route:
 * routes match in registration order, and the API keeps priority.
 *
 * A missing or unusable @asset_dir (or NULL) is not an error: the routes are
 * registered and "/" answers 503 with a JSON error saying the console was not
 * built, and the reason is logged once as a warning.  A file over the limits
 * is skipped with a warning.
 *
 * Only one set of assets exists per process (module state).  Returns 0 or
 * -ENOMEM.
 */
int console_routes(struct http_server *s, const char *asset_dir);

/* Number of files loaded (0 when the console is not built). */
size_t console_asset_count(void);

/* Frees the loaded assets after the server has stopped.  Safe to call twice. */
void console_done(void);

#endif
