/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* term: no-echo prompts on /dev/tty (termios) and secrets read from files. */
#include "cli/term.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/fileio.h"

static volatile sig_atomic_t term_signal;

static void term_on_signal(int sig)
{
	term_signal = sig;
}

static int write_str(int fd, const char *s)
{
	return fsio_write_all(fd, s, strlen(s));
}

int term_prompt(const char *prompt, bool echo, char *buf, size_t size)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGTSTP, SIGTTIN, SIGTTOU };
	struct sigaction sa, old[sizeof(sigs) / sizeof(sigs[0])];
	sigset_t block, old_mask;
	struct termios saved, quiet;
	bool restore = false, overflow = false;
	size_t len = 0;
	int fd, r = 0;

	if (size == 0)
		return -EMSGSIZE;
	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -ENOTTY;

	/*
	 * The signals stay blocked except inside ppoll(), which unblocks them
	 * atomically: a Ctrl-C can then never slip in between a check and a
	 * blocking read().  The handler only records the signal, so that the
	 * terminal is restored before the signal takes effect.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = term_on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&block, sigs[i]);
	sigprocmask(SIG_BLOCK, &block, &old_mask);
	term_signal = 0;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, &old[i]);

	if (!echo) {
		if (tcgetattr(fd, &saved) < 0) {
			r = -ENOTTY;
			goto out;
		}
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0) {
			r = -EIO;
			goto out;
		}
		restore = true;
	}
	r = write_str(fd, prompt);
	if (r < 0)
		goto out;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char ch;
		ssize_t n;

		if (ppoll(&pfd, 1, NULL, &old_mask) < 0) {
			if (errno == EINTR && !term_signal)
				continue;
			r = errno == EINTR ? -EINTR : -EIO;
			break;
		}
		if (term_signal) {
			r = -EINTR;
			break;
		}
		n = read(fd, &ch, 1);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			r = -EIO;
			break;
		}
		if (n == 0) {
			/* Ctrl-D: an empty answer is a cancel, a partial one is taken. */
			if (len == 0)
				r = -EINTR;
			break;
		}
		if (ch == '\n' || ch == '\r')
			break;
		if (len + 1 < size)
			buf[len++] = ch;
		else
			overflow = true;
	}
	buf[len] = '\0';
	if (!echo)
		write_str(fd, "\n");
	if (r == 0 && overflow)
		r = -EMSGSIZE;
out:
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &saved);
	close(fd);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &old[i], NULL);
	if (r < 0)
		explicit_bzero(buf, size);
	/*
	 * The terminal is sane again: unblocking delivers any signal still
	 * pending with its usual effect, and one already caught is raised again.
	 */
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	if (term_signal)
		raise(term_signal);
	return r;
}

int term_read_secret_file(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	bool eol = false;
	int fd, r = 0;

	if (size == 0)
		return -EMSGSIZE;
	fd = fileio_open_input(path);
	if (fd < 0)
		return fd;
	/* Byte by byte so that nothing past the first line is read into memory. */
	while (!eol) {
		char ch;
		ssize_t n = fsio_read(fd, &ch, 1);

		if (n < 0) {
			r = (int)n;
			break;
		}
		if (n == 0)
			break;
		if (ch == '\n') {
			eol = true;
			break;
		}
		if (len + 1 >= size) {
			r = -EMSGSIZE;
			break;
		}
		buf[len++] = ch;
	}
	fileio_close_input(fd);
	if (r == 0 && len > 0 && buf[len - 1] == '\r')
		len--;
	buf[r == 0 ? len : 0] = '\0';
	if (r == 0 && len == 0)
		r = -ENODATA;
	if (r < 0)
		explicit_bzero(buf, size);
	return r;
}
