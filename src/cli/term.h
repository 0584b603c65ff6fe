/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * term: reading secrets, from the terminal without echo or from a file.
 *
 * Prompts go to and answers come from /dev/tty, so that a password is never
 * read from a pipe by accident and stdout stays clean for scripts.  When a
 * signal (Ctrl-C) arrives while echo is off, the terminal is restored before
 * the signal takes effect.  Callers wipe the buffers with explicit_bzero.
 */
#ifndef RAMPART_CLI_TERM_H
#define RAMPART_CLI_TERM_H

#include <stdbool.h>
#include <stddef.h>

/* Longest secret accepted (bytes, without the NUL). */
#define TERM_SECRET_MAX 1024

/*
 * Writes @prompt to the terminal and reads one line into @buf (@size
 * bytes), echoing it only when @echo.  The newline is not stored.
 * Returns 0; -ENOTTY when there is no terminal; -EINTR when interrupted
 * (Ctrl-C, Ctrl-D on an empty line); -EMSGSIZE when the line does not fit
 * (the rest is discarded); -EIO.
 */
int term_prompt(const char *prompt, bool echo, char *buf, size_t size);

/*
 * Reads a secret from the first line of the file @path ("-": standard
 * input) into @buf; a final "\n" or "\r\n" is dropped.  Returns 0; -errno
 * when the file cannot be read; -ENODATA when the line is empty; -EMSGSIZE
 * when it does not fit in @size bytes.
 */
int term_read_secret_file(const char *path, char *buf, size_t size);

#endif
