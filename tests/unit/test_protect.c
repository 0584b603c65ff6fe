/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Unit tests for file protection: container round trips at every chunk
 * boundary and through files, every committed test vector, the access
 * decision for each kind of grantee and each HR change (against a real
 * store), revocation, expiry, management authorization, and re-sealing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/ids.h"
#include "common/rtime.h"
#include "crypto/rcrypto.h"
#include "protect/protect.h"
#include "formats/rpf.h"
#include "store/store.h"

#define SERVER_ID "01JSERVER00000000000000000"

static unsigned char server_sk[32], server_pk[32];

static void keys_fixed(void)
{
	for (size_t i = 0; i < sizeof(server_sk); i++)
		server_sk[i] = (unsigned char)(i + 1);
	crypto_scalarmult_base(server_pk, server_sk);
}

static unsigned char *random_bytes(size_t n)
{
	unsigned char *p = malloc(n ? n : 1);

	assert_non_null(p);
	randombytes_buf(p, n);
	return p;
}

static void new_header(struct rpf_header *h, unsigned char key[RPF_KEY_BYTES])
{
	char fid[ULID_SIZE], pid[ULID_SIZE];

	ids_ulid(fid, rtime_now_ms());
	ids_ulid(pid, rtime_now_ms());
	assert_int_equal(rpf_header_new(fid, SERVER_ID, pid, server_pk, h, key), 0);
}

static void round_trip(size_t len, unsigned threads)
{
	struct rpf_header h;
	unsigned char key[RPF_KEY_BYTES];
	unsigned char *plain = random_bytes(len), *ct = NULL, *back = NULL;
	size_t ct_len = 0, back_len = 0, chunks = len / RPF_CHUNK + (len % RPF_CHUNK || !len ? 1 : 0);
	struct rerr e = { 0 };

	new_header(&h, key);
	assert_int_equal(rpf_encrypt_buf(plain, len, &h, key, threads, &ct, &ct_len), 0);
	assert_int_equal(ct_len, RPF_HEADER_LEN + len + chunks * RPF_TAG);
	assert_int_equal(rpf_decrypt_buf(ct, ct_len, server_pk, server_sk, threads, &back, &back_len, &e), 0);
	assert_int_equal(back_len, len);
	if (len)
		assert_memory_equal(back, plain, len);
	free(plain);
	free(ct);
	free(back);
}

static void test_round_trips(void **state)
{
	static const size_t sizes[] = { 0, 1, RPF_CHUNK - 1, RPF_CHUNK, RPF_CHUNK + 1,
					2 * RPF_CHUNK, 5 * 1024 * 1024 + 3 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		round_trip(sizes[i], 1);
		round_trip(sizes[i], 2);
		round_trip(sizes[i], 5);
	}
}

/* The fd pipeline: a 3 MB file through real files, and refusal of a flipped byte. */
static void fd_round_trip(unsigned flags)
{
	char dir[] = "/tmp/rpf-test-XXXXXX", p1[64], p2[64], p3[64];
	size_t len = 3 * 1024 * 1024 + 77;
	unsigned char *plain = random_bytes(len), hdr[RPF_HEADER_LEN], key[RPF_KEY_BYTES], got[RPF_KEY_BYTES];
	struct rpf_header h, h2;
	struct rerr e = { 0 };
	int in, out;
	struct stat st;

	assert_non_null(mkdtemp(dir));
	snprintf(p1, sizeof(p1), "%s/plain", dir);
	snprintf(p2, sizeof(p2), "%s/plain.rpf", dir);
	snprintf(p3, sizeof(p3), "%s/back", dir);
	in = open(p1, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(in >= 0);
	assert_int_equal(write(in, plain, len), (ssize_t)len);
	close(in);

	new_header(&h, key);
	in = open(p1, O_RDONLY);
	out = open(p2, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(rpf_encrypt_fd(in, out, &h, key, 0, flags), 0);
	close(in);
	close(out);

	in = open(p2, O_RDONLY);
	assert_int_equal(read(in, hdr, sizeof(hdr)), RPF_HEADER_LEN);
	assert_int_equal(rpf_header_parse(hdr, sizeof(hdr), &h2, NULL), 0);
	assert_string_equal(h2.file_id, h.file_id);
	assert_int_equal(rpf_unwrap(&h2, server_pk, server_sk, got), 0);
	assert_memory_equal(got, key, sizeof(key));
	out = open(p3, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(rpf_decrypt_fd(in, out, hdr, &h2, got, 2, flags, &e), 0);
	close(in);
	close(out);
	assert_int_equal(stat(p3, &st), 0);
	assert_int_equal((size_t)st.st_size, len);
	{
		unsigned char *back = malloc(len);

		in = open(p3, O_RDONLY);
		assert_int_equal(read(in, back, len), (ssize_t)len);
		close(in);
		assert_memory_equal(back, plain, len);
		free(back);
	}
	/* A byte flipped in chunk 20 is named. */
	{
		unsigned char b;
		off_t off = RPF_HEADER_LEN + 20 * (off_t)(RPF_CHUNK + RPF_TAG) + 5;

		in = open(p2, O_RDWR);
		assert_int_equal(pread(in, &b, 1, off), 1);
		b ^= 1;
		assert_int_equal(pwrite(in, &b, 1, off), 1);
		assert_int_equal(lseek(in, RPF_HEADER_LEN, SEEK_SET), RPF_HEADER_LEN);
		out = open(p3, O_WRONLY | O_TRUNC);
		assert_int_equal(rpf_decrypt_fd(in, out, hdr, &h2, got, 2, flags, &e), RPF_E_AUTH);
		assert_int_equal(e.at, 20);
		assert_non_null(strstr(e.message, "chunk 20"));
		close(in);
		close(out);
	}
	unlink(p1);
	unlink(p2);
	unlink(p3);
	rmdir(dir);
	free(plain);
}

static void test_fd_round_trip(void **state)
{
	fd_round_trip(0);
	fd_round_trip(RPF_FD_READ);
	fd_round_trip(RPF_FD_WRITEBACK);
}

static int expected_code(const char *name)
{
	static const struct { const char *name; int code; } codes[] = {
		{ "ok", 0 }, { "magic", RPF_E_MAGIC }, { "version", RPF_E_VERSION },
		{ "header", RPF_E_HEADER }, { "truncated", RPF_E_TRUNCATED }, { "auth", RPF_E_AUTH },
		{ "key_id", RPF_E_KEY_ID }, { "unwrap", RPF_E_UNWRAP },
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(codes[i].name, name) == 0)
			return codes[i].code;
	fail_msg("unknown expectation '%s' in the manifest", name);
	return 1;
}

static unsigned char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*ret_len = (size_t)n;
	return p;
}

/*
 * The pipeline works in batches of 8 chunks: round trips around one and
 * two batch boundaries; with chunks failing in two batches the lowest one is always the
 * one reported, whatever the threads' timing; a body cut after a whole
 * batch is truncation.
 */
static void test_batches(void **state)
{
	static const size_t sizes[] = { 8 * RPF_CHUNK - 1, 8 * RPF_CHUNK, 8 * RPF_CHUNK + 1,
					16 * RPF_CHUNK, 16 * RPF_CHUNK + 1, 33 * RPF_CHUNK + 5 };
	size_t len = 48 * RPF_CHUNK + 100, ct_len = 0, out_len = 0;
	unsigned char key[RPF_KEY_BYTES], *plain, *ct = NULL, *out = NULL;
	struct rpf_header h;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		round_trip(sizes[i], 1);
		round_trip(sizes[i], 2);
		round_trip(sizes[i], 3);
	}
	plain = random_bytes(len);
	new_header(&h, key);
	assert_int_equal(rpf_encrypt_buf(plain, len, &h, key, 2, &ct, &ct_len), 0);
	ct[RPF_HEADER_LEN + 40 * (RPF_CHUNK + RPF_TAG) + 7] ^= 0x80;
	ct[RPF_HEADER_LEN + 3 * (RPF_CHUNK + RPF_TAG) + 9] ^= 0x01;
	for (unsigned threads = 1; threads <= 4; threads++) {
		for (int round = 0; round < 4; round++) {
			struct rerr e = { 0 };

			assert_int_equal(rpf_decrypt_buf(ct, ct_len, server_pk, server_sk, threads, &out,
							 &out_len, &e), RPF_E_AUTH);
			assert_int_equal(e.at, 3);
			assert_non_null(strstr(e.message, "chunk 3"));
		}
	}
	free(ct);
	ct = NULL;
	assert_int_equal(rpf_encrypt_buf(plain, len, &h, key, 2, &ct, &ct_len), 0);
	{
		struct rerr e = { 0 };

		assert_int_equal(rpf_decrypt_buf(ct, RPF_HEADER_LEN + 16 * (RPF_CHUNK + RPF_TAG),
						 server_pk, server_sk, 2, &out, &out_len, &e),
				 RPF_E_TRUNCATED);
		assert_true(e.message[0] != '\0');
	}
	free(ct);
	free(plain);
}

static void write_file(const char *path, const void *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	close(fd);
}

/* Encrypts @in (from offset @skip) to @out with @flags and returns the output's bytes. */
static unsigned char *fd_encrypt(const char *in_path, off_t skip, const char *out_path,
				 const struct rpf_header *h, const unsigned char *key, unsigned threads,
				 unsigned flags, size_t *ret_len)
{
	int in = open(in_path, O_RDONLY), out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(in >= 0 && out >= 0);
	assert_int_equal(lseek(in, skip, SEEK_SET), skip);
	assert_int_equal(rpf_encrypt_fd(in, out, h, key, threads, flags), 0);
	close(in);
	close(out);
	return slurp(out_path, ret_len);
}

/* Decrypts @in_path with @flags to @out_path and returns the plaintext. */
static unsigned char *fd_decrypt(const char *in_path, const char *out_path, const unsigned char *key,
				 unsigned threads, unsigned flags, size_t *ret_len)
{
	unsigned char hdr[RPF_HEADER_LEN];
	struct rpf_header h;
	struct rerr e = { 0 };
	int in = open(in_path, O_RDONLY), out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(in >= 0 && out >= 0);
	assert_int_equal(read(in, hdr, sizeof(hdr)), RPF_HEADER_LEN);
	assert_int_equal(rpf_header_parse(hdr, sizeof(hdr), &h, NULL), 0);
	assert_int_equal(rpf_decrypt_fd(in, out, hdr, &h, key, threads, flags, &e), 0);
	/* The output's offset is left after the plaintext, as sequential writes would. */
	assert_int_equal(lseek(out, 0, SEEK_CUR), lseek(out, 0, SEEK_END));
	close(in);
	close(out);
	return slurp(out_path, ret_len);
}

/*
 * The mapped input (the default) and the read one (RPF_FD_READ) give the
 * same bytes as each other and as the in-memory functions, at every chunk
 * and span boundary, from an input read from a nonzero (unaligned) offset,
 * with one to three threads; both decrypt each other's output.
 */
static void test_fd_paths(void **state)
{
	static const size_t sizes[] = { 0, 1, RPF_CHUNK - 1, RPF_CHUNK, RPF_CHUNK + 1,
					64 * RPF_CHUNK - 1, 64 * RPF_CHUNK, 64 * RPF_CHUNK + 1,
					9 * 1024 * 1024 + 3 };
	char dir[] = "/tmp/rpf-paths-XXXXXX", p_in[64], p_map[64], p_read[64], p_back[64];

	assert_non_null(mkdtemp(dir));
	snprintf(p_in, sizeof(p_in), "%s/plain", dir);
	snprintf(p_map, sizeof(p_map), "%s/map.rpf", dir);
	snprintf(p_read, sizeof(p_read), "%s/read.rpf", dir);
	snprintf(p_back, sizeof(p_back), "%s/back", dir);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i], skip = i % 2 ? 777 : 0, n_map, n_read, n_mem, n_back;
		unsigned char *plain = random_bytes(len + skip), *c_map, *c_read, *c_mem = NULL, *back;
		unsigned char key[RPF_KEY_BYTES];
		struct rpf_header h;
		unsigned threads = 1 + i % 3;

		write_file(p_in, plain, len + skip);
		new_header(&h, key);
		c_map = fd_encrypt(p_in, (off_t)skip, p_map, &h, key, threads, 0, &n_map);
		c_read = fd_encrypt(p_in, (off_t)skip, p_read, &h, key, threads, RPF_FD_READ, &n_read);
		assert_int_equal(rpf_encrypt_buf(plain + skip, len, &h, key, threads, &c_mem, &n_mem), 0);
		assert_int_equal(n_map, n_mem);
		assert_int_equal(n_read, n_mem);
		assert_memory_equal(c_map, c_mem, n_mem);
		assert_memory_equal(c_read, c_mem, n_mem);
		back = fd_decrypt(p_map, p_back, key, threads, RPF_FD_READ, &n_back);
		assert_int_equal(n_back, len);
		if (len)
			assert_memory_equal(back, plain + skip, len);
		free(back);
		back = fd_decrypt(p_read, p_back, key, threads, 0, &n_back);
		assert_int_equal(n_back, len);
		if (len)
			assert_memory_equal(back, plain + skip, len);
		free(back);
		free(c_map);
		free(c_read);
		free(c_mem);
		free(plain);
	}
	unlink(p_in);
	unlink(p_map);
	unlink(p_read);
	unlink(p_back);
	rmdir(dir);
}

/* Cuts the file at @fd to @to bytes once @watch has grown past @after bytes. */
struct cutter {
	int fd, watch;
	off_t after, to;
	volatile bool stop, cut;
	pthread_t tid;
};

static void *cutter_main(void *arg)
{
	struct cutter *c = arg;
	struct stat st;

	while (!c->stop) {
		if (fstat(c->watch, &st) == 0 && st.st_size > c->after) {
			if (ftruncate(c->fd, c->to) == 0)
				c->cut = true;
			break;
		}
		usleep(100);
	}
	return NULL;
}

/* A directory for a large scratch file: memory when there is room, else /tmp. */
static const char *scratch_dir(void)
{
	struct statvfs vfs;

	if (access("/dev/shm", W_OK) == 0 && statvfs("/dev/shm", &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize > 2ull << 30)
		return "/dev/shm";
	return "/tmp";
}

/*
 * An input truncated while it is read fails with RPF_E_CHANGED, mapped
 * (the SIGBUS guard) or read, encrypting and decrypting, with a clear
 * message, and the process goes on.  The cut comes once the output has
 * grown past 1 MiB of 64 MiB, while the pipeline is running.
 */
static void truncated_while_read(bool encrypt, unsigned flags)
{
	size_t len = 64u << 20;
	char path_in[128], path_out[128];
	unsigned char key[RPF_KEY_BYTES], hdr[RPF_HEADER_LEN];
	struct rpf_header h;
	int r = 0;

	snprintf(path_in, sizeof(path_in), "%s/rpf-cut-in-XXXXXX", scratch_dir());
	snprintf(path_out, sizeof(path_out), "%s/rpf-cut-out-XXXXXX", scratch_dir());
	new_header(&h, key);
	assert_int_equal(rpf_header_serialize(&h, hdr), 0);
	/* A cut that came only after the pipeline finished proves nothing: try again. */
	for (int attempt = 0; attempt < 3; attempt++) {
		struct cutter c = { .after = 1 << 20, .to = 1 << 19 };
		struct rerr e = { 0 };
		int in_fd = mkstemp(path_in), out_fd = mkstemp(path_out);
		unsigned char *plain = random_bytes(len), *ct = NULL;
		size_t ct_len = 0;

		assert_true(in_fd >= 0 && out_fd >= 0);
		if (encrypt) {
			assert_int_equal(write(in_fd, plain, len), (ssize_t)len);
		} else {
			assert_int_equal(rpf_encrypt_buf(plain, len, &h, key, 2, &ct, &ct_len), 0);
			assert_int_equal(write(in_fd, ct, ct_len), (ssize_t)ct_len);
			free(ct);
		}
		free(plain);
		assert_int_equal(lseek(in_fd, encrypt ? 0 : RPF_HEADER_LEN, SEEK_SET),
				 encrypt ? 0 : RPF_HEADER_LEN);
		c.fd = in_fd;
		c.watch = out_fd;
		assert_int_equal(pthread_create(&c.tid, NULL, cutter_main, &c), 0);
		if (encrypt)
			r = rpf_encrypt_fd(in_fd, out_fd, &h, key, 2, flags);
		else
			r = rpf_decrypt_fd(in_fd, out_fd, hdr, &h, key, 2, flags, &e);
		c.stop = true;
		pthread_join(c.tid, NULL);
		close(in_fd);
		close(out_fd);
		unlink(path_in);
		unlink(path_out);
		snprintf(path_in, sizeof(path_in), "%s/rpf-cut-in-XXXXXX", scratch_dir());
		snprintf(path_out, sizeof(path_out), "%s/rpf-cut-out-XXXXXX", scratch_dir());
		if (r == 0 && !c.cut)
			continue;
		assert_true(c.cut);
		assert_int_equal(r, RPF_E_CHANGED);
		assert_non_null(strstr(rpf_strerror(r), "changed while it was being read"));
		if (!encrypt)
			assert_non_null(strstr(e.message, "changed while it was being read"));
		return;
	}
	fail_msg("the input was never cut while the pipeline ran");
}

static void test_fd_truncated_while_read(void **state)
{
	truncated_while_read(true, 0);
	truncated_while_read(true, RPF_FD_READ);
	truncated_while_read(false, 0);
	truncated_while_read(false, RPF_FD_READ);
}

/* The child of test_sigbus_outside_guard: encrypts a large file in another thread. */
struct bus_job {
	int in, out;
	int r;
};

static void *bus_encrypt(void *arg)
{
	struct bus_job *b = arg;
	unsigned char key[RPF_KEY_BYTES];
	struct rpf_header h;

	new_header(&h, key);
	b->r = rpf_encrypt_fd(b->in, b->out, &h, key, 1, 0);
	return NULL;
}

/*
 * The SIGBUS guard takes only faults in the pipeline's own mapped spans:
 * while a mapped encryption runs (its guard installed), a fault in another
 * thread still gets the default disposition: the process dies of SIGBUS,
 * as it would without the guard (rather than hanging or jumping).
 */
static void test_sigbus_outside_guard(void **state)
{
	char path[128], src[128], out[128];
	int fd, status = 0;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/rpf-bus-XXXXXX", scratch_dir());
	snprintf(src, sizeof(src), "%s/rpf-bus-src-XXXXXX", scratch_dir());
	snprintf(out, sizeof(out), "%s/rpf-bus-out-XXXXXX", scratch_dir());
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct bus_job b;
		struct stat st;
		volatile unsigned char *p;
		unsigned char *plain = random_bytes(128u << 20);
		pthread_t tid;

		signal(SIGBUS, SIG_DFL); /* the test framework's own handler out of the way */
		alarm(60);
		b.in = mkstemp(src);
		b.out = mkstemp(out);
		if (b.in < 0 || b.out < 0 || write(b.in, plain, 128u << 20) != 128 << 20)
			_exit(3);
		unlink(src);
		unlink(out);
		lseek(b.in, 0, SEEK_SET);
		p = mmap(NULL, 1 << 20, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED || ftruncate(fd, 0) != 0)
			_exit(4);
		if (pthread_create(&tid, NULL, bus_encrypt, &b) != 0)
			_exit(5);
		/* Once the encryption is under way, fault outside it. */
		while (fstat(b.out, &st) == 0 && st.st_size < (2 << 20))
			usleep(100);
		(void)p[4096 * 10];
		_exit(6);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(fd);
	unlink(path);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGBUS);
}

/* The fd functions need regular files (positional I/O): a pipe is refused, nothing read. */
static void test_fd_pipe_refused(void **state)
{
	unsigned char key[RPF_KEY_BYTES], hdr[RPF_HEADER_LEN];
	struct rpf_header h;
	struct rerr e = { 0 };
	char path[] = "/tmp/rpf-pipe-XXXXXX";
	int fds[2], out;

	new_header(&h, key);
	assert_int_equal(rpf_header_serialize(&h, hdr), 0);
	out = mkstemp(path);
	assert_true(out >= 0);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(rpf_encrypt_fd(fds[0], out, &h, key, 2, 0), -ESPIPE);
	assert_int_equal(rpf_encrypt_fd(fds[0], out, &h, key, 2, RPF_FD_READ), -ESPIPE);
	assert_int_equal(rpf_decrypt_fd(fds[0], out, hdr, &h, key, 2, 0, &e), -ESPIPE);
	assert_true(e.message[0] != '\0');
	close(fds[0]);
	close(fds[1]);
	close(out);
	unlink(path);
}

/* Collects everything written to a pipe's read end @fd. */
struct drain {
	int fd;
	unsigned char *data;
	size_t len, cap;
	pthread_t tid;
};

static void *drain_main(void *arg)
{
	struct drain *d = arg;
	ssize_t k;

	for (;;) {
		if (d->cap - d->len < 65536) {
			d->cap = d->cap ? d->cap * 2 : 1 << 20;
			d->data = realloc(d->data, d->cap);
			if (!d->data)
				abort();
		}
		k = read(d->fd, d->data + d->len, d->cap - d->len);
		if (k <= 0)
			break;
		d->len += (size_t)k;
	}
	return NULL;
}

/*
 * Runs rpf_encrypt_fd (@encrypt) or rpf_decrypt_fd from @in_path into a
 * pipe whose read end a thread drains; returns the function's result and
 * what came out of the pipe (*@ret, *@ret_len).
 */
static int to_pipe(bool encrypt, const char *in_path, const struct rpf_header *h,
		   const unsigned char *key, unsigned threads, unsigned flags, unsigned char **ret,
		   size_t *ret_len)
{
	unsigned char hdr[RPF_HEADER_LEN];
	struct rpf_header h2;
	struct rerr e = { 0 };
	struct drain d = { 0 };
	int fds[2], in = open(in_path, O_RDONLY), r;

	assert_true(in >= 0);
	assert_int_equal(pipe(fds), 0);
	d.fd = fds[0];
	assert_int_equal(pthread_create(&d.tid, NULL, drain_main, &d), 0);
	if (encrypt) {
		r = rpf_encrypt_fd(in, fds[1], h, key, threads, flags);
	} else {
		assert_int_equal(read(in, hdr, sizeof(hdr)), RPF_HEADER_LEN);
		assert_int_equal(rpf_header_parse(hdr, sizeof(hdr), &h2, NULL), 0);
		r = rpf_decrypt_fd(in, fds[1], hdr, &h2, key, threads, flags, &e);
		if (r < 0)
			assert_true(e.message[0] != '\0');
	}
	close(fds[1]);
	pthread_join(d.tid, NULL);
	close(fds[0]);
	close(in);
	*ret = d.data;
	*ret_len = d.len;
	return r;
}

/*
 * An output that is not a file is a stream: the same bytes as the
 * in-memory functions, written in order through a pipe, at chunk and span
 * boundaries, mapped and read, with one to four threads, both ways; and
 * to /dev/null.  A damaged chunk stops a stream before the damaged span:
 * what came out is a prefix of the plaintext, and the error names the
 * chunk.
 */
static void test_fd_stream(void **state)
{
	static const size_t sizes[] = { 0, 1, RPF_CHUNK, 64 * RPF_CHUNK - 1, 64 * RPF_CHUNK + 1,
					5 * 64 * RPF_CHUNK + 777 };
	char dir[] = "/tmp/rpf-stream-XXXXXX", p_plain[64], p_ct[64];
	unsigned char key[RPF_KEY_BYTES];
	struct rpf_header h;

	assert_non_null(mkdtemp(dir));
	snprintf(p_plain, sizeof(p_plain), "%s/plain", dir);
	snprintf(p_ct, sizeof(p_ct), "%s/ct", dir);
	new_header(&h, key);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i], ct_len = 0, n = 0;
		unsigned char *plain = random_bytes(len), *ct = NULL, *got = NULL;

		assert_int_equal(rpf_encrypt_buf(plain, len, &h, key, 2, &ct, &ct_len), 0);
		write_file(p_plain, plain, len);
		write_file(p_ct, ct, ct_len);
		for (unsigned threads = 1; threads <= 4; threads++) {
			unsigned flags = threads % 2 ? 0 : RPF_FD_READ;

			assert_int_equal(to_pipe(true, p_plain, &h, key, threads, flags, &got, &n), 0);
			assert_int_equal(n, ct_len);
			assert_memory_equal(got, ct, ct_len);
			free(got);
			assert_int_equal(to_pipe(false, p_ct, &h, key, threads, flags, &got, &n), 0);
			assert_int_equal(n, len);
			if (len)
				assert_memory_equal(got, plain, len);
			free(got);
		}
		free(plain);
		free(ct);
	}
	/* /dev/null is a stream too (a character device). */
	{
		int in = open(p_plain, O_RDONLY), out = open("/dev/null", O_WRONLY);

		assert_true(in >= 0 && out >= 0);
		assert_int_equal(rpf_encrypt_fd(in, out, &h, key, 2, 0), 0);
		close(in);
		close(out);
	}
	/* Chunk 200 (span 3) damaged: spans 0-2 came out, nothing after. */
	{
		size_t len = 5 * 64 * RPF_CHUNK + 777, ct_len = 0, n = 0;
		unsigned char *plain = random_bytes(len), *ct = NULL, *got = NULL;

		assert_int_equal(rpf_encrypt_buf(plain, len, &h, key, 2, &ct, &ct_len), 0);
		ct[RPF_HEADER_LEN + 200 * (RPF_CHUNK + RPF_TAG) + 3] ^= 1;
		write_file(p_ct, ct, ct_len);
		for (unsigned threads = 1; threads <= 4; threads++) {
			assert_int_equal(to_pipe(false, p_ct, &h, key, threads, 0, &got, &n), RPF_E_AUTH);
			assert_true(n <= 3 * 64 * RPF_CHUNK);
			assert_int_equal(n % (64 * RPF_CHUNK), 0);
			if (n)
				assert_memory_equal(got, plain, n);
			free(got);
		}
		free(plain);
		free(ct);
	}
	/*
	 * Chunk 70 (span 1 of 12) damaged, again and again: the workers that ran
	 * ahead hold spans that will never be written, and must still stop.
	 */
	{
		size_t len = 12 * 64 * RPF_CHUNK, ct_len = 0, n = 0;
		unsigned char *plain = random_bytes(len), *ct = NULL, *got = NULL;

		assert_int_equal(rpf_encrypt_buf(plain, len, &h, key, 2, &ct, &ct_len), 0);
		ct[RPF_HEADER_LEN + 70 * (RPF_CHUNK + RPF_TAG) + 3] ^= 1;
		write_file(p_ct, ct, ct_len);
		for (int round = 0; round < 40; round++) {
			unsigned threads = 2 + round % 3;

			assert_int_equal(to_pipe(false, p_ct, &h, key, threads, 0, &got, &n), RPF_E_AUTH);
			assert_true(n <= 64 * RPF_CHUNK);
			free(got);
		}
		free(plain);
		free(ct);
	}
	unlink(p_plain);
	unlink(p_ct);
	rmdir(dir);
}

/*
 * A write that fails part way (the output reaches the file size limit at
 * 5 MiB of 20) fails the whole job with that error, mapped or read, with
 * one to four threads taking turns at the writes, encrypting and
 * decrypting; nothing hangs and the lowest failure is the one reported.
 */
static void test_fd_write_fails(void **state)
{
	size_t len = 20u << 20, ct_len = 0;
	unsigned char key[RPF_KEY_BYTES], hdr[RPF_HEADER_LEN], *plain, *ct = NULL;
	char dir[] = "/tmp/rpf-wfail-XXXXXX", p_plain[64], p_ct[64], p_out[64];
	struct rpf_header h;
	struct rlimit old, lim;
	void (*old_xfsz)(int);

	assert_non_null(mkdtemp(dir));
	snprintf(p_plain, sizeof(p_plain), "%s/plain", dir);
	snprintf(p_ct, sizeof(p_ct), "%s/ct", dir);
	snprintf(p_out, sizeof(p_out), "%s/out", dir);
	plain = random_bytes(len);
	new_header(&h, key);
	assert_int_equal(rpf_header_serialize(&h, hdr), 0);
	assert_int_equal(rpf_encrypt_buf(plain, len, &h, key, 2, &ct, &ct_len), 0);
	write_file(p_plain, plain, len);
	write_file(p_ct, ct, ct_len);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 5u << 20;
	old_xfsz = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (unsigned threads = 1; threads <= 4; threads++) {
		for (unsigned flags = 0; flags <= RPF_FD_READ; flags += RPF_FD_READ) {
			struct rerr e = { 0 };
			int in = open(p_plain, O_RDONLY), out = open(p_out, O_WRONLY | O_CREAT | O_TRUNC, 0600);

			assert_true(in >= 0 && out >= 0);
			assert_int_equal(rpf_encrypt_fd(in, out, &h, key, threads, flags), -EFBIG);
			close(in);
			close(out);
			in = open(p_ct, O_RDONLY);
			out = open(p_out, O_WRONLY | O_TRUNC);
			assert_true(in >= 0 && out >= 0);
			assert_int_equal(lseek(in, RPF_HEADER_LEN, SEEK_SET), RPF_HEADER_LEN);
			assert_int_equal(rpf_decrypt_fd(in, out, hdr, &h, key, threads, flags, &e), -EFBIG);
			assert_true(e.message[0] != '\0');
			close(in);
			close(out);
		}
	}
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_xfsz);
	unlink(p_plain);
	unlink(p_ct);
	unlink(p_out);
	rmdir(dir);
	free(plain);
	free(ct);
}

/* Every file of tests/vectors/protect/manifest.txt gives its expected result. */
static void test_vectors(void **state)
{
	char path[1024], line[512];
	FILE *m;
	int count = 0, refused = 0;

	snprintf(path, sizeof(path), "%s/manifest.txt", RPF_VECTORS_DIR);
	m = fopen(path, "r");
	assert_non_null(m);
	while (fgets(line, sizeof(line), m)) {
		char name[128], expect[32], lenbuf[32], sha[80];
		unsigned char *data, *out = NULL;
		size_t len, out_len = 0;
		struct rerr e = { 0 };
		int want, r;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		assert_int_equal(sscanf(line, "%127s %31s %31s %79s", name, expect, lenbuf, sha), 4);
		snprintf(path, sizeof(path), "%s/%s", RPF_VECTORS_DIR, name);
		data = slurp(path, &len);
		want = expected_code(expect);
		r = rpf_decrypt_buf(data, len, server_pk, server_sk, 2, &out, &out_len, &e);
		if (r != want)
			fail_msg("%s: expected %s, got %d (%s)", name, expect, r, rpf_strerror(r));
		if (want == 0) {
			unsigned char h[32];
			char hex[65];

			crypto_hash_sha256(h, out, out_len);
			sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
			assert_int_equal(out_len, strtoull(lenbuf, NULL, 10));
			assert_string_equal(hex, sha);
			free(out);
		} else {
			/* A refusal always says what was wrong. */
			assert_true(e.message[0] != '\0');
			assert_true(strlen(rpf_strerror(r)) > 10);
			refused++;
		}
		free(data);
		count++;
	}
	fclose(m);
	assert_true(count >= 18);
	assert_true(refused >= 12);
}

static void test_header_fields(void **state)
{
	struct rpf_header h, p;
	unsigned char key[RPF_KEY_BYTES], bytes[RPF_HEADER_LEN];
	struct rerr e = { 0 };

	new_header(&h, key);
	assert_int_equal(rpf_header_serialize(&h, bytes), 0);
	assert_int_equal(rpf_header_parse(bytes, sizeof(bytes), &p, &e), 0);
	assert_memory_equal(&p, &h, sizeof(h));
	assert_int_equal(rpf_header_parse(bytes, 10, &p, &e), RPF_E_TRUNCATED);
	bytes[10] = 1;
	assert_int_equal(rpf_header_parse(bytes, sizeof(bytes), &p, &e), RPF_E_HEADER);
	assert_non_null(strstr(e.message, "reserved"));
	bytes[10] = 0;
	bytes[16] = 'U';   /* not a Crockford character */
	assert_int_equal(rpf_header_parse(bytes, sizeof(bytes), &p, &e), RPF_E_HEADER);
	assert_non_null(strstr(e.message, "file id"));
	/* A header naming one file cannot unwrap with another file's id in it. */
	assert_int_equal(rpf_header_serialize(&h, bytes), 0);
	memcpy(p.file_id, "01JFA000000000000000000999", ULID_SIZE);
	assert_int_equal(rpf_unwrap(&p, server_pk, server_sk, key), RPF_E_UNWRAP);
}

/* ---------------------------------------------------------------- decisions */

#define OWNER "01H0WNER000000000000000000"
#define ALICE "01HA11CE000000000000000000"

static void test_decide_grantees(void **state)
{
	const char *groups[] = { "Finance", "Auditors" };
	struct protect_grant g_user = { GRANT_USER, ALICE }, g_group = { GRANT_GROUP, "Finance" },
		g_org = { GRANT_ORG, "G/C/Sales" }, g_role = { GRANT_ROLE, "auditor" };
	struct protect_subject s = { ALICE, "active", "G/C/Sales/East", ROLE_EMPLOYEE, groups, 2 };
	struct protect_subject none = { ALICE, "active", "G/C/Other", ROLE_EMPLOYEE, NULL, 0 };
	struct protect_policy pol = { OWNER, 0, 0, NULL, 0 };
	int64_t now = 1800000000000;

	assert_int_equal(protect_decide(&pol, &s, now), PROTECT_DENY_NOT_LISTED);
	pol.grants = &g_user;
	pol.ngrants = 1;
	assert_int_equal(protect_decide(&pol, &s, now), PROTECT_ALLOW_LISTED);
	pol.grants = &g_group;
	assert_int_equal(protect_decide(&pol, &s, now), PROTECT_ALLOW_LISTED);
	assert_int_equal(protect_decide(&pol, &none, now), PROTECT_DENY_NOT_LISTED);
	pol.grants = &g_org;   /* the subtree: G/C/Sales/East is inside, G/C/SalesX is not */
	assert_int_equal(protect_decide(&pol, &s, now), PROTECT_ALLOW_LISTED);
	s.org_path = "G/C/SalesX";
	assert_int_equal(protect_decide(&pol, &s, now), PROTECT_DENY_NOT_LISTED);
	s.org_path = "G/C/Sales";
	assert_int_equal(protect_decide(&pol, &s, now), PROTECT_ALLOW_LISTED);
	pol.grants = &g_role;
	assert_int_equal(protect_decide(&pol, &s, now), PROTECT_DENY_NOT_LISTED);
	s.roles |= ROLE_AUDITOR;
	assert_int_equal(protect_decide(&pol, &s, now), PROTECT_ALLOW_LISTED);
	/* The owner may open; a retired owner may not. */
	{
		struct protect_subject o = { OWNER, "active", "G", ROLE_EMPLOYEE, NULL, 0 };

		assert_int_equal(protect_decide(&pol, &o, now), PROTECT_ALLOW_OWNER);
		o.status = "retired";
		assert_int_equal(protect_decide(&pol, &o, now), PROTECT_DENY_INACTIVE);
	}
	/* Expiry and revocation win over the list. */
	pol.expires_at = now;
	assert_int_equal(protect_decide(&pol, &s, now), PROTECT_DENY_EXPIRED);
	assert_int_equal(protect_decide(&pol, &s, now - 1), PROTECT_ALLOW_LISTED);
	pol.revoked_at = now - 5;
	assert_int_equal(protect_decide(&pol, &s, now - 1), PROTECT_DENY_REVOKED);
	s.status = "on_leave";
	pol.revoked_at = 0;
	pol.expires_at = 0;
	assert_int_equal(protect_decide(&pol, &s, now), PROTECT_DENY_INACTIVE);
	assert_string_equal(protect_decision_name(PROTECT_DENY_INACTIVE), "retired");
	assert_string_equal(protect_decision_name(PROTECT_DENY_NOT_LISTED), "not_listed");
}

static void test_grant_parse(void **state)
{
	struct protect_grant g;

	assert_int_equal(protect_grant_parse("user:" ALICE, &g), 0);
	assert_int_equal(g.kind, GRANT_USER);
	assert_string_equal(g.value, ALICE);
	assert_int_equal(protect_grant_parse("group:Finance team", &g), 0);
	assert_int_equal(g.kind, GRANT_GROUP);
	assert_int_equal(protect_grant_parse("org:Kestrel Group/Kestrel Holdings", &g), 0);
	assert_int_equal(g.kind, GRANT_ORG);
	assert_int_equal(protect_grant_parse("role:security_officer", &g), 0);
	assert_int_equal(protect_grant_parse("role:emperor", &g), ERR_INVALID);
	assert_int_equal(protect_grant_parse("user:alice", &g), ERR_INVALID);
	assert_int_equal(protect_grant_parse("group:", &g), ERR_INVALID);
	assert_int_equal(protect_grant_parse("team:x", &g), ERR_INVALID);
	assert_int_equal(protect_grant_parse("group:a\nb", &g), ERR_INVALID);
	assert_int_equal(protect_grant_parse(NULL, &g), ERR_INVALID);
}

static struct principal actor(const char *id, unsigned roles, const char *manages)
{
	struct principal p = { .via = VIA_SESSION_TOKEN, .roles = roles };

	snprintf(p.person_id, sizeof(p.person_id), "%s", id);
	snprintf(p.manages_path, sizeof(p.manages_path), "%s", manages);
	return p;
}

static void test_may(void **state)
{
	struct protect_target in = { OWNER, "G/C/D/Dept" }, out = { OWNER, "G/Other" };
	struct principal owner = actor(OWNER, ROLE_EMPLOYEE, ""), emp = actor(ALICE, ROLE_EMPLOYEE, "");
	struct principal admin = actor(ALICE, ROLE_ADMIN, ""), so = actor(ALICE, ROLE_SECURITY_OFFICER, "");
	struct principal sm = actor(ALICE, ROLE_SECURITY_MANAGER, "G/C/D"), aud = actor(ALICE, ROLE_AUDITOR, "");
	struct principal mgr = actor(ALICE, ROLE_MANAGER, ""), scim = actor(OWNER, ROLE_ADMIN, "");
	struct principal anon = { 0 };

	scim.via = VIA_SCIM_TOKEN;
	for (int a = PROTECT_CREATE; a <= PROTECT_MANAGE; a++) {
		assert_true(protect_may(&owner, a, &in));
		assert_true(protect_may(&admin, a, &out));
		assert_true(protect_may(&so, a, &out));
		assert_true(protect_may(&sm, a, &in));
		assert_false(protect_may(&sm, a, &out));
		assert_false(protect_may(&emp, a, &in));
		assert_false(protect_may(&mgr, a, &in));
		assert_false(protect_may(&scim, a, &in));
		assert_false(protect_may(&anon, a, &in));
		assert_int_equal(protect_may(&aud, a, &out), a == PROTECT_READ);
	}
	assert_false(protect_may(&owner, PROTECT_READ, NULL));
}

/* ---------------------------------------------------------------- store */

struct fx {
	char dir[64];
	struct store *store;
	struct store_conn *c;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[128];
	int64_t now = rtime_now_ms();

	snprintf(f->dir, sizeof(f->dir), "/tmp/rpf-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(path, sizeof(path), "%s/t.db", f->dir);
	if (store_open(path, &f->store) < 0)
		return -1;
	f->c = store_conn(f->store);
	{
		static const char *const units[][3] = {
			{ "01HUN1T0000000000000000001", "G", "group" },
			{ "01HUN1T0000000000000000002", "G/C", "company" },
			{ "01HUN1T0000000000000000003", "G/C/Sales", "division" },
			{ "01HUN1T0000000000000000004", "G/C/Other", "division" },
		};

		for (size_t i = 0; i < 4; i++)
			if (store_exec(f->c, "INSERT INTO org_units (id, name, path, level, kind, created_at) "
					     "VALUES ($1, $2, $2, $3, 'own', $4)",
				       STORE_ARGS(SA_TEXT(units[i][0]), SA_TEXT(units[i][1]),
						  SA_TEXT(units[i][2]), SA_I64(now))) < 0)
				return -1;
	}
	if (store_exec(f->c, "INSERT INTO people (id, login, family_name, given_name, org_unit_id, "
			     "status, kind, created_at, updated_at) VALUES "
			     "($1, 'owner', 'O', 'W', '01HUN1T0000000000000000003', 'active', 'employee', $3, $3), "
			     "($2, 'alice', 'A', 'L', '01HUN1T0000000000000000003', 'active', 'employee', $3, $3)",
		       STORE_ARGS(SA_TEXT(OWNER), SA_TEXT(ALICE), SA_I64(now))) < 0)
		return -1;
	if (store_exec(f->c, "INSERT INTO groups (id, name, created_at, updated_at) VALUES "
			     "('01HGR0VP000000000000000001', 'Finance', $1, $1)", STORE_ARGS(SA_I64(now))) < 0 ||
	    store_exec(f->c, "INSERT INTO protected_files (id, policy_id, name, owner_id, created_by, "
			     "header_hash, wrapped_key, created_at, updated_at) VALUES "
			     "('01HF11E0000000000000000001', '01HP0000000000000000000001', 'plan.pdf', $1, $1, "
			     "'00', x'00', $2, $2)", STORE_ARGS(SA_TEXT(OWNER), SA_I64(now))) < 0)
		return -1;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	store_close(f->store);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

#define FILE_ID "01HF11E0000000000000000001"

static enum protect_decision check(struct fx *f, const char *who)
{
	enum protect_decision d = 99;

	assert_int_equal(protect_check_open(f->c, FILE_ID, who, rtime_now_ms(), &d), 0);
	return d;
}

static void grant(struct fx *f, const char *kind, const char *value)
{
	assert_int_equal(store_exec(f->c, "INSERT INTO protected_file_grants (file_id, kind, value, "
					  "granted_at) VALUES ($1, $2, $3, 1)",
				    STORE_ARGS(SA_TEXT(FILE_ID), SA_TEXT(kind), SA_TEXT(value))), 1);
}

static void clear_grants(struct fx *f)
{
	assert_true(store_exec(f->c, "DELETE FROM protected_file_grants", STORE_NOARGS) >= 0);
}

static void set_alice(struct fx *f, const char *sql)
{
	assert_true(store_exec(f->c, sql, STORE_ARGS(SA_TEXT(ALICE))) >= 0);
}

/* Each HR change takes effect at the next open. */
static void test_store_hr_changes(void **state)
{
	struct fx *f = *state;
	enum protect_decision d;

	assert_int_equal(protect_check_open(f->c, "01HF11E0000000000000000009", ALICE, 1, &d), ERR_NOT_FOUND);
	assert_int_equal(check(f, OWNER), PROTECT_ALLOW_OWNER);
	assert_int_equal(check(f, ALICE), PROTECT_DENY_NOT_LISTED);

	/* org: moved out of the unit */
	grant(f, "org", "G/C/Sales");
	assert_int_equal(check(f, ALICE), PROTECT_ALLOW_LISTED);
	set_alice(f, "UPDATE people SET org_unit_id = '01HUN1T0000000000000000004' WHERE id = $1");
	assert_int_equal(check(f, ALICE), PROTECT_DENY_NOT_LISTED);
	clear_grants(f);

	/* role: removed */
	grant(f, "role", "auditor");
	set_alice(f, "INSERT INTO person_roles (person_id, role, granted_at) VALUES ($1, 'auditor', 1)");
	assert_int_equal(check(f, ALICE), PROTECT_ALLOW_LISTED);
	set_alice(f, "DELETE FROM person_roles WHERE person_id = $1");
	assert_int_equal(check(f, ALICE), PROTECT_DENY_NOT_LISTED);
	clear_grants(f);

	/* role: the implicit manager role follows reports */
	grant(f, "role", "manager");
	assert_int_equal(check(f, ALICE), PROTECT_DENY_NOT_LISTED);
	set_alice(f, "UPDATE people SET manager_id = $1 WHERE login = 'owner'");
	assert_int_equal(check(f, ALICE), PROTECT_ALLOW_LISTED);
	set_alice(f, "UPDATE people SET manager_id = NULL WHERE manager_id = $1");
	clear_grants(f);

	/* group: membership removed */
	grant(f, "group", "Finance");
	set_alice(f, "INSERT INTO group_members (group_id, person_id) VALUES ('01HGR0VP000000000000000001', $1)");
	assert_int_equal(check(f, ALICE), PROTECT_ALLOW_LISTED);
	set_alice(f, "DELETE FROM group_members WHERE person_id = $1");
	assert_int_equal(check(f, ALICE), PROTECT_DENY_NOT_LISTED);
	set_alice(f, "INSERT INTO group_members (group_id, person_id) VALUES ('01HGR0VP000000000000000001', $1)");

	/* user, then retired */
	grant(f, "user", ALICE);
	assert_int_equal(check(f, ALICE), PROTECT_ALLOW_LISTED);
	set_alice(f, "UPDATE people SET status = 'retired' WHERE id = $1");
	assert_int_equal(check(f, ALICE), PROTECT_DENY_INACTIVE);
	set_alice(f, "UPDATE people SET status = 'active' WHERE id = $1");
	assert_int_equal(check(f, ALICE), PROTECT_ALLOW_LISTED);

	/* expiry, then revocation */
	assert_true(store_exec(f->c, "UPDATE protected_files SET expires_at = $1",
			       STORE_ARGS(SA_I64(rtime_now_ms() - 1))) == 1);
	assert_int_equal(check(f, ALICE), PROTECT_DENY_EXPIRED);
	assert_true(store_exec(f->c, "UPDATE protected_files SET expires_at = $1",
			       STORE_ARGS(SA_I64(rtime_now_ms() + 3600000))) == 1);
	assert_int_equal(check(f, ALICE), PROTECT_ALLOW_LISTED);
	assert_true(store_exec(f->c, "UPDATE protected_files SET revoked_at = 1", STORE_NOARGS) == 1);
	assert_int_equal(check(f, ALICE), PROTECT_DENY_REVOKED);
	assert_int_equal(check(f, OWNER), PROTECT_DENY_REVOKED);
	/* Someone unknown is refused like someone who left. */
	assert_true(store_exec(f->c, "UPDATE protected_files SET revoked_at = NULL", STORE_NOARGS) == 1);
	assert_int_equal(check(f, "01HN0B0DY00000000000000000"), PROTECT_DENY_INACTIVE);
}

/* Re-sealing hands the key only for the registered header, to the client's key. */
static void test_rewrap(void **state)
{
	struct protect_keys k;
	struct rpf_header h;
	unsigned char key[RPF_KEY_BYTES], hdr[RPF_HEADER_LEN], box[RPF_WRAPPED_LEN], plain[RPF_WRAP_PLAIN];
	unsigned char cpk[32], csk[32];
	char hash[RCRYPTO_HASH_HEX_SIZE], other[RCRYPTO_HASH_HEX_SIZE];

	memcpy(k.sk, server_sk, sizeof(k.sk));
	protect_keys_derive(&k);
	assert_memory_equal(k.pk, server_pk, 32);
	new_header(&h, key);
	assert_int_equal(rpf_header_serialize(&h, hdr), 0);
	rcrypto_sha256_hex(hdr, sizeof(hdr), hash);
	crypto_box_keypair(cpk, csk);
	assert_int_equal(protect_rewrap(&k, hdr, hash, cpk, box), 0);
	assert_int_equal(crypto_box_seal_open(plain, box, sizeof(box), cpk, csk), 0);
	assert_memory_equal(plain, h.file_id, ULID_LEN);
	assert_memory_equal(plain + ULID_LEN, key, RPF_KEY_BYTES);
	/* Another header (one byte changed) is refused. */
	hdr[120] ^= 1;
	assert_int_equal(protect_rewrap(&k, hdr, hash, cpk, box), ERR_INVALID);
	rcrypto_sha256_hex(hdr, sizeof(hdr), other);
	assert_int_equal(protect_rewrap(&k, hdr, other, cpk, box), RPF_E_UNWRAP);
	assert_int_equal(protect_rewrap(&k, hdr, NULL, cpk, box), ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_fd_round_trip),
		cmocka_unit_test(test_batches),
		cmocka_unit_test(test_fd_paths),
		cmocka_unit_test(test_fd_truncated_while_read),
		cmocka_unit_test(test_sigbus_outside_guard),
		cmocka_unit_test(test_fd_pipe_refused),
		cmocka_unit_test(test_fd_write_fails),
		cmocka_unit_test(test_fd_stream),
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_decide_grantees),
		cmocka_unit_test(test_grant_parse),
		cmocka_unit_test(test_may),
		cmocka_unit_test_setup_teardown(test_store_hr_changes, fx_setup, fx_teardown),
		cmocka_unit_test(test_rewrap),
	};

	if (rcrypto_init() < 0)
		return 1;
	keys_fixed();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
