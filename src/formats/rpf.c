/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * rpf: header, key wrapping, and the parallel STREAM pipeline.
 *
 * Pipeline: the body is cut into spans of 64 chunks (4 MiB of plaintext),
 * and spans into batches of 8 chunks (about 512 KiB).  The calling thread
 * and the worker threads claim spans in order.  A file's span is mapped
 * read-only (no copy of the input through the kernel) and each batch is
 * sealed or opened straight from the mapping into the thread's buffer; an
 * input that cannot be mapped, or that the caller asks to read
 * (RPF_FD_READ), is read one batch at a time with one positional read
 * straight into the chunk slots of the buffer and processed there in
 * place.  Each thread seals or opens with its own EVP_CIPHER_CTX (keyed
 * once), so the reads and the cipher spread over the cores.  Each batch is
 * written with one positional write at its offset.  Into memory, threads
 * write their own batches.  Into a file, whose writes the kernel takes one
 * at a time (the inode lock), a finished batch is queued and one thread at
 * a time writes the queue while the others go on sealing or opening into
 * their second buffer.  Each thread owns two batch buffers and maps one
 * span at a time: memory is about threads x 5 MiB whatever the file size.
 * An output that is not a file (a pipe, /dev/null) is a stream, written in
 * order: each thread fills a whole span's buffer (two of them, about 8 MiB)
 * and the spans are written one after the other.  A batch is written only
 * when all its chunks sealed or verified;
 * after a failure no later batch is started and the lowest failing chunk
 * is the one reported.  A mapped input cut short while it is read raises
 * SIGBUS, which a per-thread guard turns into RPF_E_CHANGED.
 */
#include "formats/rpf.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/str.h"

#define RPF_MAX_THREADS 64
#define RPF_CT_CHUNK (RPF_CHUNK + RPF_TAG)

const char *rpf_strerror(int err)
{
	switch (err) {
	case RPF_E_MAGIC: return "not a Rampart protected file (bad magic)";
	case RPF_E_VERSION: return "unsupported protected-file version";
	case RPF_E_HEADER: return "malformed protected-file header";
	case RPF_E_TRUNCATED: return "the protected file is truncated";
	case RPF_E_AUTH: return "a chunk failed authentication: the file was modified, "
				"or chunks were reordered or taken from another file";
	case RPF_E_KEY_ID: return "the file was protected for another server key";
	case RPF_E_UNWRAP: return "the wrapped content key does not open for this file";
	case RPF_E_CRYPTO: return "the cryptographic library failed";
	case RPF_E_CHANGED: return "the input changed while it was being read (it was truncated "
				   "or extended)";
	default: break;
	}
	if (err < 0 && err > -ERR_BASE)
		return strerror(-err);
	return err_str(err);
}

void rpf_key_id(const unsigned char pk[RPF_PK_BYTES], unsigned char out[RPF_KEY_ID_BYTES])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, pk, RPF_PK_BYTES);
	memcpy(out, h, RPF_KEY_ID_BYTES);
}

static void put_be16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int rpf_fail(struct rerr *e, int err, const char *msg)
{
	return rerr_set(e, err, NULL, "%s", msg);
}

/* Copies a 26-byte ULID field out, refusing anything that is not one. */
static bool read_ulid(const unsigned char *p, char out[ULID_SIZE])
{
	memcpy(out, p, ULID_LEN);
	out[ULID_LEN] = '\0';
	return ids_is_ulid(out);
}

/* Offsets of docs/formats/protected-file.md. */
enum {
	OFF_VERSION = 8, OFF_SUITE = 9, OFF_FLAGS = 10, OFF_CHUNK = 12, OFF_FILE_ID = 16,
	OFF_SERVER_ID = 42, OFF_POLICY_ID = 68, OFF_KEY_ID = 94, OFF_NONCE = 110,
	OFF_RESERVED = 117, OFF_WRAP_LEN = 118, OFF_WRAPPED = 120,
};

int rpf_header_parse(const unsigned char *data, size_t len, struct rpf_header *h,
		     struct rerr *e)
{
	struct rpf_header t;

	if (len >= RPF_MAGIC_LEN && memcmp(data, RPF_MAGIC, RPF_MAGIC_LEN) != 0)
		return rpf_fail(e, RPF_E_MAGIC, "the file does not start with the protected-file magic");
	if (len < RPF_HEADER_LEN)
		return rpf_fail(e, RPF_E_TRUNCATED, "the file is shorter than a protected-file header");
	memset(&t, 0, sizeof(t));
	t.version = data[OFF_VERSION];
	if (t.version != RPF_VERSION)
		return rpf_fail(e, RPF_E_VERSION, "the header's version is not 1");
	t.suite = data[OFF_SUITE];
	if (t.suite != RPF_SUITE_AES256GCM_STREAM)
		return rpf_fail(e, RPF_E_HEADER, "unknown cipher suite");
	if (data[OFF_FLAGS] != 0 || data[OFF_FLAGS + 1] != 0 || data[OFF_RESERVED] != 0)
		return rpf_fail(e, RPF_E_HEADER, "reserved header bytes are not zero");
	t.chunk_size = get_be32(data + OFF_CHUNK);
	if (t.chunk_size != RPF_CHUNK)
		return rpf_fail(e, RPF_E_HEADER, "the chunk size is not 65536");
	if (!read_ulid(data + OFF_FILE_ID, t.file_id))
		return rpf_fail(e, RPF_E_HEADER, "the file id is not a ULID");
	if (!read_ulid(data + OFF_SERVER_ID, t.server_id))
		return rpf_fail(e, RPF_E_HEADER, "the server id is not a ULID");
	if (!read_ulid(data + OFF_POLICY_ID, t.policy_id))
		return rpf_fail(e, RPF_E_HEADER, "the policy id is not a ULID");
	memcpy(t.key_id, data + OFF_KEY_ID, RPF_KEY_ID_BYTES);
	memcpy(t.nonce_prefix, data + OFF_NONCE, RPF_NONCE_PREFIX);
	if (((unsigned)data[OFF_WRAP_LEN] << 8 | data[OFF_WRAP_LEN + 1]) != RPF_WRAPPED_LEN)
		return rpf_fail(e, RPF_E_HEADER, "the wrapped key length is not 106");
	memcpy(t.wrapped, data + OFF_WRAPPED, RPF_WRAPPED_LEN);
	*h = t;
	return 0;
}

int rpf_header_serialize(const struct rpf_header *h, unsigned char out[RPF_HEADER_LEN])
{
	if (!ids_is_ulid(h->file_id) || !ids_is_ulid(h->server_id) || !ids_is_ulid(h->policy_id))
		return RPF_E_HEADER;
	memset(out, 0, RPF_HEADER_LEN);
	memcpy(out, RPF_MAGIC, RPF_MAGIC_LEN);
	out[OFF_VERSION] = h->version;
	out[OFF_SUITE] = h->suite;
	put_be32(out + OFF_CHUNK, h->chunk_size);
	memcpy(out + OFF_FILE_ID, h->file_id, ULID_LEN);
	memcpy(out + OFF_SERVER_ID, h->server_id, ULID_LEN);
	memcpy(out + OFF_POLICY_ID, h->policy_id, ULID_LEN);
	memcpy(out + OFF_KEY_ID, h->key_id, RPF_KEY_ID_BYTES);
	memcpy(out + OFF_NONCE, h->nonce_prefix, RPF_NONCE_PREFIX);
	put_be16(out + OFF_WRAP_LEN, RPF_WRAPPED_LEN);
	memcpy(out + OFF_WRAPPED, h->wrapped, RPF_WRAPPED_LEN);
	return 0;
}

int rpf_header_new(const char *file_id, const char *server_id, const char *policy_id,
		   const unsigned char server_pk[RPF_PK_BYTES], struct rpf_header *h,
		   unsigned char ret_key[RPF_KEY_BYTES])
{
	unsigned char plain[RPF_WRAP_PLAIN];
	struct rpf_header t;
	int r = 0;

	if (!ids_is_ulid(file_id) || !ids_is_ulid(server_id) || !ids_is_ulid(policy_id))
		return RPF_E_HEADER;
	memset(&t, 0, sizeof(t));
	t.version = RPF_VERSION;
	t.suite = RPF_SUITE_AES256GCM_STREAM;
	t.chunk_size = RPF_CHUNK;
	str_copy(t.file_id, sizeof(t.file_id), file_id);
	str_copy(t.server_id, sizeof(t.server_id), server_id);
	str_copy(t.policy_id, sizeof(t.policy_id), policy_id);
	rpf_key_id(server_pk, t.key_id);
	randombytes_buf(t.nonce_prefix, sizeof(t.nonce_prefix));
	memcpy(plain, file_id, ULID_LEN);
	randombytes_buf(plain + ULID_LEN, RPF_KEY_BYTES);
	if (crypto_box_seal(t.wrapped, plain, sizeof(plain), server_pk) != 0)
		r = RPF_E_CRYPTO;
	if (r == 0) {
		memcpy(ret_key, plain + ULID_LEN, RPF_KEY_BYTES);
		*h = t;
	}
	sodium_memzero(plain, sizeof(plain));
	return r;
}

int rpf_unwrap(const struct rpf_header *h, const unsigned char pk[RPF_PK_BYTES],
	       const unsigned char sk[RPF_SK_BYTES], unsigned char ret_key[RPF_KEY_BYTES])
{
	unsigned char kid[RPF_KEY_ID_BYTES], plain[RPF_WRAP_PLAIN];
	int r = 0;

	rpf_key_id(pk, kid);
	if (sodium_memcmp(kid, h->key_id, sizeof(kid)) != 0)
		return RPF_E_KEY_ID;
	if (crypto_box_seal_open(plain, h->wrapped, RPF_WRAPPED_LEN, pk, sk) != 0)
		return RPF_E_UNWRAP;
	/* The box must name this file: a key sealed for one file id is not handed out for another. */
	if (sodium_memcmp(plain, h->file_id, ULID_LEN) != 0)
		r = RPF_E_UNWRAP;
	else
		memcpy(ret_key, plain + ULID_LEN, RPF_KEY_BYTES);
	sodium_memzero(plain, sizeof(plain));
	return r;
}

/* ---------------------------------------------------------------- I/O */

/*
 * Chunks per batch: a batch is sealed or opened into one buffer of about
 * 512 KiB, which stays in a core's cache, and written with one call.
 */
#define RPF_BATCH 8
/*
 * Chunks per span: a thread claims a span (64 chunks, 4 MiB of plaintext)
 * at a time, and a mapped input is mapped one span at a time, so that the
 * mappings stay few and memory stays flat.
 */
#define RPF_SPAN (8 * RPF_BATCH)

/* The iovecs of @n bytes of @buf in units of @unit, @stride apart (at most RPF_SPAN); returns their count. */
static int iov_layout(struct iovec *iov, unsigned char *buf, size_t n, size_t unit, size_t stride)
{
	int cnt = 0;

	for (size_t done = 0; done < n && cnt < RPF_SPAN; cnt++) {
		size_t k = n - done < unit ? n - done : unit;

		iov[cnt].iov_base = buf + (size_t)cnt * stride;
		iov[cnt].iov_len = k;
		done += k;
	}
	return cnt;
}

/* Skips @k bytes already transferred: *@iov and *@cnt advance past them. */
static void iov_skip(struct iovec **iov, int *cnt, size_t k)
{
	while (*cnt > 0 && k >= (*iov)->iov_len) {
		k -= (*iov)->iov_len;
		(*iov)++;
		(*cnt)--;
	}
	if (*cnt > 0) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + k;
		(*iov)->iov_len -= k;
	}
}

/*
 * I/O of @n bytes at @fd's offset @at (or, with @at < 0, at its current
 * offset, for a stream), the buffer side in units of @unit bytes @stride
 * apart (scattered or gathered by the kernel in the same call).  Returns 0,
 * RPF_E_CHANGED when a read finds the end of the file first, or -errno.
 */
static int fd_transfer(int fd, bool write, unsigned char *buf, size_t n, size_t unit,
		       size_t stride, off_t at)
{
	struct iovec vec[RPF_SPAN], *iov = vec;
	int cnt = iov_layout(vec, buf, n, unit, stride);
	size_t done = 0;

	while (done < n) {
		ssize_t k = at < 0 ? (write ? writev(fd, iov, cnt) : readv(fd, iov, cnt))
			    : write ? pwritev(fd, iov, cnt, at + (off_t)done)
				    : preadv(fd, iov, cnt, at + (off_t)done);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return write ? -EIO : RPF_E_CHANGED; /* the input shrank while it was read */
		done += (size_t)k;
		iov_skip(&iov, &cnt, (size_t)k);
	}
	return 0;
}

/*
 * The guard of a mapped input.  A mapped file that shrinks under its
 * mapping raises SIGBUS at the first access past its new end.  Around the
 * cipher's reads of a mapped span, a thread points guard_jb at its jump
 * buffer; the handler jumps back there, and the span fails with
 * RPF_E_CHANGED.  A SIGBUS in a thread that holds no guard goes to the
 * disposition that was there before (the default one kills the process,
 * as it would have without the guard).  The handler is installed while at
 * least one mapped pipeline runs and the previous disposition is put back
 * after the last one.
 */
static __thread sigjmp_buf *volatile guard_jb;
static struct sigaction guard_old;
static pthread_mutex_t guard_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned guard_users; /* under guard_mu */

static void guard_handler(int sig, siginfo_t *si, void *uc)
{
	sigjmp_buf *jb = guard_jb;

	if (jb) {
		guard_jb = NULL;
		siglongjmp(*jb, 1);
	}
	if (guard_old.sa_flags & SA_SIGINFO) {
		guard_old.sa_sigaction(sig, si, uc);
		return;
	}
	if (guard_old.sa_handler != SIG_DFL && guard_old.sa_handler != SIG_IGN) {
		guard_old.sa_handler(sig);
		return;
	}
	/* Returning runs the faulting access again, which now meets the old disposition. */
	sigaction(SIGBUS, &guard_old, NULL);
}

/* Installs the handler for one more pipeline; false when it cannot be (the input is then read). */
static bool guard_enter(void)
{
	struct sigaction sa;
	bool ok = true;

	pthread_mutex_lock(&guard_mu);
	if (guard_users == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = guard_handler;
		sa.sa_flags = SA_SIGINFO | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		ok = sigaction(SIGBUS, &sa, &guard_old) == 0;
	}
	if (ok)
		guard_users++;
	pthread_mutex_unlock(&guard_mu);
	return ok;
}

/* Puts the previous disposition back after the last pipeline. */
static void guard_leave(void)
{
	pthread_mutex_lock(&guard_mu);
	if (--guard_users == 0)
		sigaction(SIGBUS, &guard_old, NULL);
	pthread_mutex_unlock(&guard_mu);
}

/* ---------------------------------------------------------------- pipeline */

#define RPF_NO_FAILURE UINT64_MAX

/*
 * The body is read from a file (mapped a span at a time, or with
 * positional reads) or from memory, and written to a file or to memory.
 * Offsets are relative to where the body starts.
 */
struct job {
	bool encrypt;
	unsigned flags;
	const unsigned char *key, *aad, *prefix;
	size_t in_unit, out_unit;
	uint64_t in_len;    /* body bytes read: plaintext, or the sealed chunks */
	uint64_t nchunks, nspans;
	int in_fd, out_fd;
	off_t in_base, out_base;
	const unsigned char *in_mem; /* the input in memory, or NULL for in_fd */
	unsigned char *out_mem;      /* the output in memory, or NULL for out_fd */
	bool guarded;                /* in_fd is mapped under the SIGBUS guard */
	pthread_mutex_t mu;
	uint64_t next_span;   /* under mu */
	uint64_t fail_chunk;  /* the lowest failing chunk, or RPF_NO_FAILURE; under mu */
	int fail_err;         /* its error; under mu */
	bool fail_in_chunk;   /* the chunk itself is at fault, not the I/O */
	/*
	 * The output is a stream (a pipe, a terminal, /dev/null): written in
	 * order, a whole span at a time, from wherever it stands.
	 */
	bool stream;
	uint64_t next_off;    /* stream: the next output byte to write; under mu */
	/* An output file with more than one worker, or a stream: batches queue for one writer at a time. */
	bool queued;
	struct wbatch *queue_head, *queue_tail; /* under mu */
	bool writing;           /* a worker is writing the queue; under mu */
	pthread_cond_t written; /* a batch was written: its buffer is free again */
};

/*
 * One batch buffer (a whole span's for a stream) and, while it is queued, what to write:
 * @len bytes in units of out_unit, @stride apart, at body offset @off;
 * @first is its first chunk.  With @span_to set, it is the last batch of
 * its span, whose output [@span_from, @span_to) is then complete.
 */
struct wbatch {
	unsigned char *buf; /* RPF_BATCH (a stream: RPF_SPAN) x RPF_CT_CHUNK bytes */
	size_t len, stride;
	uint64_t off, first, span_from, span_to;
	bool busy;          /* queued or being written; under mu */
	struct wbatch *next;
};

/* Batch buffers per worker: one is filled while the other is written. */
#define RPF_WORKER_BUFS 2

struct worker {
	struct job *job;
	struct wbatch bufs[RPF_WORKER_BUFS];
	unsigned char *spare; /* RPF_CT_CHUNK bytes */
	void *map;            /* the mapped span, or NULL */
	size_t map_len;
	pthread_t tid;
};

static void chunk_nonce(const unsigned char *prefix, uint64_t seq, bool last, unsigned char iv[12])
{
	memcpy(iv, prefix, RPF_NONCE_PREFIX);
	put_be32(iv + RPF_NONCE_PREFIX, (uint32_t)seq);
	iv[11] = last ? 1 : 0;
}

/*
 * Seals or opens the @n bytes at @in into @out (the same place, or apart)
 * with @ctx (already keyed); *@ret_n is the output length.  Opened
 * plaintext is left in @out even when the tag does not verify: the caller
 * never writes a batch that failed.
 */
static int chunk_process(EVP_CIPHER_CTX *ctx, const struct job *j, uint64_t seq, bool last,
			 const unsigned char *in, size_t n, unsigned char *out, size_t *ret_n)
{
	unsigned char iv[12], tag[RPF_TAG];
	int outl = 0, fin = 0;

	chunk_nonce(j->prefix, seq, last, iv);
	if (!j->encrypt && n < RPF_TAG)
		return RPF_E_TRUNCATED;
	if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, j->encrypt ? 1 : 0) != 1)
		return RPF_E_CRYPTO;
	if (EVP_CipherUpdate(ctx, NULL, &outl, j->aad, RPF_HEADER_LEN) != 1)
		return RPF_E_CRYPTO;
	if (j->encrypt) {
		if (n && EVP_CipherUpdate(ctx, out, &outl, in, (int)n) != 1)
			return RPF_E_CRYPTO;
		if (EVP_CipherFinal_ex(ctx, out + n, &fin) != 1 ||
		    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, RPF_TAG, out + n) != 1)
			return RPF_E_CRYPTO;
		*ret_n = n + RPF_TAG;
		return 0;
	}
	n -= RPF_TAG;
	memcpy(tag, in + n, RPF_TAG);
	if (n && EVP_CipherUpdate(ctx, out, &outl, in, (int)n) != 1)
		return RPF_E_CRYPTO;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, RPF_TAG, tag) != 1)
		return RPF_E_CRYPTO;
	if (EVP_CipherFinal_ex(ctx, out + n, &fin) != 1)
		return RPF_E_AUTH;
	*ret_n = n;
	return 0;
}

/*
 * Opens a final chunk from @in into @out; when it does not verify as final
 * but would as a middle chunk, the file was cut at a chunk boundary: that
 * is reported as truncation rather than tampering.  Opened in place (@in
 * is @out), the second try works on a copy kept in @spare.
 */
static int chunk_open_final(EVP_CIPHER_CTX *ctx, const struct job *j, uint64_t seq,
			    const unsigned char *in, size_t n, unsigned char *out,
			    unsigned char *spare, size_t *ret_n)
{
	bool in_place = in == out;
	size_t ignored;
	int r;

	if (in_place)
		memcpy(spare, in, n);
	r = chunk_process(ctx, j, seq, true, in, n, out, ret_n);
	if (r == RPF_E_AUTH && chunk_process(ctx, j, seq, false, in_place ? spare : in, n,
					     in_place ? spare : out, &ignored) == 0)
		r = RPF_E_TRUNCATED;
	if (in_place)
		sodium_memzero(spare, n);
	return r;
}

/*
 * Records a failure at @chunk; the lowest one wins, so the report does not
 * depend on timing.  A worker waiting for a buffer is woken to see it: in
 * a stream, the spans queued after a failed one are never written, so
 * their buffers never come back.
 */
static void job_fail(struct job *j, uint64_t chunk, int err, bool in_chunk)
{
	pthread_mutex_lock(&j->mu);
	if (chunk < j->fail_chunk) {
		j->fail_chunk = chunk;
		j->fail_err = err;
		j->fail_in_chunk = in_chunk;
	}
	pthread_cond_broadcast(&j->written);
	pthread_mutex_unlock(&j->mu);
}

/* Whether a failure at or before @chunk was recorded: nothing after it is started. */
static bool job_failed_before(struct job *j, uint64_t chunk)
{
	bool failed;

	pthread_mutex_lock(&j->mu);
	failed = j->fail_chunk <= chunk;
	pthread_mutex_unlock(&j->mu);
	return failed;
}

/* Writes @n bytes of @buf (in units of out_unit, @stride apart) at body offset @off. */
static int out_write(const struct job *j, unsigned char *buf, size_t n, size_t stride, uint64_t off)
{
	if (j->stream)
		return fd_transfer(j->out_fd, true, buf, n, j->out_unit, stride, -1);
	if (!j->out_mem)
		return fd_transfer(j->out_fd, true, buf, n, j->out_unit, stride,
				   j->out_base + (off_t)off);
	for (size_t done = 0, i = 0; done < n; i++) {
		size_t k = n - done < j->out_unit ? n - done : j->out_unit;

		memcpy(j->out_mem + off + done, buf + i * stride, k);
		done += k;
	}
	return 0;
}

/*
 * A free batch buffer of @w for the batch from chunk @first: waits while
 * both are queued; NULL once a failure at or before @first is recorded.
 */
static struct wbatch *batch_take(struct job *j, struct worker *w, uint64_t first)
{
	struct wbatch *b = NULL;

	if (!j->queued)
		return &w->bufs[0];
	pthread_mutex_lock(&j->mu);
	while (j->fail_chunk > first) {
		for (unsigned i = 0; i < RPF_WORKER_BUFS && !b; i++)
			if (!w->bufs[i].busy)
				b = &w->bufs[i];
		if (b)
			break;
		pthread_cond_wait(&j->written, &j->mu);
	}
	pthread_mutex_unlock(&j->mu);
	return b;
}

/* Starts writing out a finished span [@from, @to) of the output, with RPF_FD_WRITEBACK. */
static void span_writeback(const struct job *j, uint64_t from, uint64_t to)
{
	if ((j->flags & RPF_FD_WRITEBACK) && !j->out_mem && !j->stream && to > from)
		(void)sync_file_range(j->out_fd, j->out_base + (off_t)from, (off_t)(to - from),
				      SYNC_FILE_RANGE_WRITE);
}

/* Takes the batch to write next off the queue (under mu): the first one, or for a stream the next in order. */
static struct wbatch *queue_next(struct job *j)
{
	struct wbatch **pp = &j->queue_head, *prev = NULL, *b;

	while (*pp && j->stream && (*pp)->off != j->next_off) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	b = *pp;
	if (!b)
		return NULL;
	*pp = b->next;
	if (j->queue_tail == b)
		j->queue_tail = prev;
	return b;
}

/*
 * Queues the filled batch @b for writing.  Buffered writes to one file take
 * its inode lock, so two threads writing at once take turns, and the one
 * waiting spins on the lock in the kernel instead of sealing or opening
 * chunks.  So one thread writes at a time: the worker that queues a batch
 * while nobody writes becomes the writer and writes every queued batch, in
 * the order they were queued (a span's batches in order), until the queue
 * is empty; a worker that queues one while another writes goes on filling
 * its other buffer.  A stream is written in order: the writer takes only
 * the span that comes next, and stops when it is not there yet (whoever
 * queues it writes it).  A batch at or after a recorded failure is not
 * written.
 */
static void batch_queue(struct job *j, struct wbatch *b)
{
	pthread_mutex_lock(&j->mu);
	b->busy = true;
	b->next = NULL;
	if (j->queue_tail)
		j->queue_tail->next = b;
	else
		j->queue_head = b;
	j->queue_tail = b;
	if (j->writing) {
		pthread_mutex_unlock(&j->mu);
		return;
	}
	j->writing = true;
	while ((b = queue_next(j))) {
		bool skip = j->fail_chunk <= b->first;
		int r = 0;

		pthread_mutex_unlock(&j->mu);
		if (!skip)
			r = out_write(j, b->buf, b->len, b->stride, b->off);
		if (r < 0)
			job_fail(j, b->first, r, false);
		else if (!skip && b->span_to)
			span_writeback(j, b->span_from, b->span_to);
		pthread_mutex_lock(&j->mu);
		if (j->stream)
			j->next_off += b->len;
		b->busy = false;
		pthread_cond_broadcast(&j->written);
	}
	j->writing = false;
	pthread_mutex_unlock(&j->mu);
}

/*
 * Processes the @count chunks from @first, whose @in_len input bytes are
 * at @src (mapped or in memory), or are read when @src is NULL: batch by
 * batch, each sealed or opened whole into a batch buffer of @w (in place
 * when read: chunk k in slot k x RPF_CT_CHUNK; otherwise straight from
 * @src into a contiguous output), then written with one call (here, or
 * queued), and only when every chunk of the batch sealed or verified.
 */
static void span_batches(struct job *j, struct worker *w, EVP_CIPHER_CTX *ctx, uint64_t first,
			 uint64_t count, size_t in_len, const unsigned char *src)
{
	size_t stride = src ? j->out_unit : RPF_CT_CHUNK, span_len = 0;
	struct wbatch *wb = NULL;

	for (uint64_t b = 0; b < count; b += RPF_BATCH) {
		uint64_t bfirst = first + b, bcount = count - b < RPF_BATCH ? count - b : RPF_BATCH;
		size_t boff = (size_t)b * j->in_unit, out_len = 0;
		size_t blen = in_len - boff < bcount * j->in_unit ? in_len - boff
								: (size_t)bcount * j->in_unit;
		unsigned char *base;
		int r;

		if (job_failed_before(j, bfirst))
			return;
		/* A stream's span is filled batch after batch into one buffer and queued whole. */
		if (!wb || !j->stream)
			wb = batch_take(j, w, bfirst);
		if (!wb)
			return;
		base = wb->buf + (j->stream ? (size_t)b * stride : 0);
		if (!src) {
			r = fd_transfer(j->in_fd, false, base, blen, j->in_unit, RPF_CT_CHUNK,
					j->in_base + (off_t)(first * j->in_unit + boff));
			if (r < 0) {
				job_fail(j, bfirst, r, false);
				return;
			}
		}
		for (uint64_t k = 0; k < bcount; k++) {
			uint64_t seq = bfirst + k;
			bool last = seq == j->nchunks - 1;
			size_t n = last ? blen - (size_t)k * j->in_unit : j->in_unit, got = 0;
			const unsigned char *in = src ? src + boff + k * j->in_unit
						      : base + k * RPF_CT_CHUNK;
			unsigned char *out = base + k * stride;

			if (!j->encrypt && last)
				r = chunk_open_final(ctx, j, seq, in, n, out, w->spare, &got);
			else
				r = chunk_process(ctx, j, seq, last, in, n, out, &got);
			if (r < 0) {
				job_fail(j, seq, r, true);
				return;
			}
			out_len += got;
		}
		if (j->stream) {
			span_len += out_len;
			if (b + bcount < count)
				continue;
			wb->len = span_len;
			wb->stride = stride;
			wb->off = first * j->out_unit;
			wb->first = first;
			wb->span_from = wb->span_to = 0;
			batch_queue(j, wb);
		} else if (j->queued) {
			bool span_end = b + bcount == count;

			wb->len = out_len;
			wb->stride = stride;
			wb->off = bfirst * j->out_unit;
			wb->first = bfirst;
			wb->span_from = first * j->out_unit;
			wb->span_to = span_end ? wb->off + out_len : 0;
			batch_queue(j, wb);
		} else {
			r = out_write(j, wb->buf, out_len, stride, bfirst * j->out_unit);
			if (r < 0) {
				job_fail(j, bfirst, r, false);
				return;
			}
		}
	}
}

/*
 * Maps the @len input bytes at body offset @off read-only, or returns NULL
 * (the span is then read instead).  The mapping starts at a page boundary.
 */
static const unsigned char *span_map(struct job *j, struct worker *w, uint64_t off, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	off_t at = j->in_base + (off_t)off, start;
	void *p;

	if (page <= 0)
		page = 4096;
	start = at - at % page;
	w->map_len = len + (size_t)(at - start);
	p = mmap(NULL, w->map_len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, j->in_fd, start);
	if (p == MAP_FAILED)
		return NULL;
	w->map = p;
	return (const unsigned char *)p + (at - start);
}

/*
 * Span @s: chunks s x RPF_SPAN onwards.  A file's span is mapped unless
 * RPF_FD_READ asks for reads (or it cannot be); the cipher's reads of a
 * mapping run under the SIGBUS guard, which turns an input cut short under
 * the mapping into RPF_E_CHANGED.  With RPF_FD_WRITEBACK, the written span
 * is sent on its way to the disk at once.
 */
static void span_run(struct job *j, struct worker *w, EVP_CIPHER_CTX *ctx, uint64_t s)
{
	uint64_t first = s * RPF_SPAN, count = j->nchunks - first;
	uint64_t in_off;
	size_t in_len;

	if (count > RPF_SPAN)
		count = RPF_SPAN;
	in_off = first * j->in_unit;
	in_len = (size_t)(j->in_len - in_off < count * j->in_unit ? j->in_len - in_off
								  : count * j->in_unit);
	if (j->in_mem) {
		span_batches(j, w, ctx, first, count, in_len, j->in_mem + in_off);
	} else if (j->guarded && in_len > 0 && span_map(j, w, in_off, in_len)) {
		const unsigned char *src = (const unsigned char *)w->map + (w->map_len - in_len);
		sigjmp_buf jb;

		if (sigsetjmp(jb, 1) == 0) {
			guard_jb = &jb;
			span_batches(j, w, ctx, first, count, in_len, src);
			guard_jb = NULL;
		} else {
			job_fail(j, first, RPF_E_CHANGED, false);
		}
		munmap(w->map, w->map_len);
		w->map = NULL;
	} else {
		span_batches(j, w, ctx, first, count, in_len, NULL);
	}
	/* Queued, the writeback starts once the span's last batch is written. */
	if (!j->queued)
		span_writeback(j, first * j->out_unit, (first + count) * j->out_unit);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct job *j = w->job;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	bool keyed = ctx && EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, j->key, NULL,
					      j->encrypt ? 1 : 0) == 1;

	if (!keyed)
		job_fail(j, 0, RPF_E_CRYPTO, false);
	while (keyed) {
		uint64_t s;

		/* Spans are claimed in order; none past a failure is started. */
		pthread_mutex_lock(&j->mu);
		s = j->next_span;
		if (s >= j->nspans || s * RPF_SPAN > j->fail_chunk) {
			pthread_mutex_unlock(&j->mu);
			break;
		}
		j->next_span++;
		pthread_mutex_unlock(&j->mu);
		span_run(j, w, ctx, s);
	}
	EVP_CIPHER_CTX_free(ctx);
	return NULL;
}

static unsigned pick_threads(unsigned threads)
{
	long n;

	if (threads)
		return threads > RPF_MAX_THREADS ? RPF_MAX_THREADS : threads;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > RPF_MAX_THREADS ? RPF_MAX_THREADS : (unsigned)n;
}

/* Chunks of a body of @in_len bytes read in units of @unit: an empty body is one empty chunk. */
static uint64_t chunk_count(uint64_t in_len, size_t unit)
{
	return in_len == 0 ? 1 : (in_len + unit - 1) / unit;
}

/*
 * Runs the pipeline of @j (its input, output and flags set) over a body of
 * @in_len bytes.  The calling thread is one of the workers.  Each worker
 * owns a batch buffer (two when its batches are queued for writing, so that
 * it fills one while the other waits; for a stream, two span buffers) and
 * room for one spare chunk, so memory is about threads x 1 MiB (8.5 MiB for
 * a stream) plus one mapped span each, whatever the file size.
 */
static int pipeline_run(struct job *j, bool encrypt, uint64_t in_len, const unsigned char *aad,
			const struct rpf_header *h, const unsigned char *key, unsigned threads,
			struct rerr *e)
{
	struct worker w[RPF_MAX_THREADS];
	unsigned nthreads = pick_threads(threads), started = 1, nbufs;
	size_t bufsize = (size_t)(j->stream ? RPF_SPAN : RPF_BATCH) * RPF_CT_CHUNK;
	int r = 0;

	j->encrypt = encrypt;
	j->key = key;
	j->aad = aad;
	j->prefix = h->nonce_prefix;
	j->in_unit = encrypt ? RPF_CHUNK : RPF_CT_CHUNK;
	j->out_unit = encrypt ? RPF_CT_CHUNK : RPF_CHUNK;
	j->in_len = in_len;
	j->nchunks = chunk_count(in_len, j->in_unit);
	if (j->nchunks - 1 > UINT32_MAX)
		return -EFBIG;
	j->nspans = (j->nchunks + RPF_SPAN - 1) / RPF_SPAN;
	j->next_span = 0;
	j->fail_chunk = RPF_NO_FAILURE;
	if (nthreads > j->nspans)
		nthreads = (unsigned)j->nspans;
	j->queued = !j->out_mem && (nthreads > 1 || j->stream);
	nbufs = j->queued ? RPF_WORKER_BUFS : 1;
	j->guarded = !j->in_mem && !(j->flags & RPF_FD_READ) && guard_enter();
	memset(w, 0, sizeof(w));
	for (unsigned i = 0; i < nthreads; i++) {
		w[i].job = j;
		for (unsigned b = 0; b < nbufs; b++)
			if (!(w[i].bufs[b].buf = malloc(bufsize)))
				r = -ENOMEM;
		w[i].spare = malloc(RPF_CT_CHUNK);
		if (r < 0 || !w[i].spare) {
			r = -ENOMEM;
			goto out;
		}
	}
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->written, NULL);
	j->queue_head = j->queue_tail = NULL;
	j->writing = false;
	j->next_off = 0;
	for (; started < nthreads; started++)
		if (pthread_create(&w[started].tid, NULL, worker_main, &w[started]) != 0)
			break;
	worker_main(&w[0]);
	for (unsigned i = 1; i < started; i++)
		pthread_join(w[i].tid, NULL);
	pthread_cond_destroy(&j->written);
	pthread_mutex_destroy(&j->mu);
	if (j->fail_chunk != RPF_NO_FAILURE) {
		r = j->fail_err;
		if (e && j->fail_in_chunk) {
			rerr_set_at(e, r, (long long)j->fail_chunk, NULL, "chunk %llu: %s",
				    (unsigned long long)j->fail_chunk, rpf_strerror(r));
		}
	}
out:
	for (unsigned i = 0; i < nthreads; i++) {
		/* Buffers held plaintext, and on a failed open unverified plaintext. */
		for (unsigned b = 0; b < nbufs; b++) {
			if (w[i].bufs[b].buf) {
				sodium_memzero(w[i].bufs[b].buf, bufsize);
				free(w[i].bufs[b].buf);
			}
		}
		free(w[i].spare);
	}
	if (j->guarded)
		guard_leave();
	if (r < 0 && e && !e->message[0])
		rerr_set(e, r, NULL, "%s", rpf_strerror(r));
	return r;
}

/* The body of @fd from its current offset (saved in *@ret_base), which must be a regular file. */
static int fd_body(int fd, off_t *ret_base, uint64_t *ret_len, off_t *ret_size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ESPIPE;
	*ret_base = lseek(fd, 0, SEEK_CUR);
	if (*ret_base < 0)
		return -errno;
	*ret_len = st.st_size > *ret_base ? (uint64_t)(st.st_size - *ret_base) : 0;
	*ret_size = st.st_size;
	return 0;
}

/*
 * Starts the output at @fd's current offset; an output that is not a
 * regular file, or is one opened for appending, is a stream (*@ret_stream),
 * written in order from where it stands.
 */
static int fd_out(int fd, off_t *ret_base, bool *ret_stream)
{
	struct stat st;

	int fl = fcntl(fd, F_GETFL);

	if (fstat(fd, &st) < 0 || fl < 0)
		return -errno;
	/* Positional writes to a file opened for appending would all land at its end. */
	*ret_stream = !S_ISREG(st.st_mode) || (fl & O_APPEND);
	*ret_base = 0;
	if (*ret_stream)
		return 0;
	*ret_base = lseek(fd, 0, SEEK_CUR);
	return *ret_base < 0 ? -errno : 0;
}

/* Leaves a file output's offset @n bytes after @base, as sequential writes would. */
static int fd_advance(const struct job *j, off_t base, uint64_t n)
{
	if (j->stream)
		return 0;
	return lseek(j->out_fd, base + (off_t)n, SEEK_SET) < 0 ? -errno : 0;
}

int rpf_encrypt_fd(int in_fd, int out_fd, const struct rpf_header *h,
		   const unsigned char key[RPF_KEY_BYTES], unsigned threads, unsigned flags)
{
	unsigned char hdr[RPF_HEADER_LEN];
	struct job j;
	struct stat st;
	uint64_t len = 0;
	off_t size = 0;
	int r;

	memset(&j, 0, sizeof(j));
	j.in_fd = in_fd;
	j.out_fd = out_fd;
	j.flags = flags;
	r = rpf_header_serialize(h, hdr);
	if (r == 0)
		r = fd_body(in_fd, &j.in_base, &len, &size);
	if (r == 0)
		r = fd_out(out_fd, &j.out_base, &j.stream);
	if (r == 0)
		r = fd_transfer(out_fd, true, hdr, sizeof(hdr), sizeof(hdr), sizeof(hdr),
				j.stream ? -1 : j.out_base);
	if (r < 0)
		return r;
	(void)posix_fadvise(in_fd, j.in_base, 0, POSIX_FADV_SEQUENTIAL);
	j.out_base += RPF_HEADER_LEN;
	r = pipeline_run(&j, true, len, hdr, h, key, threads, NULL);
	/* A file that grew or shrank meanwhile would be sealed as a prefix of itself. */
	if (r == 0 && (fstat(in_fd, &st) < 0 || st.st_size != size))
		r = RPF_E_CHANGED;
	if (r == 0)
		r = fd_advance(&j, j.out_base, len + chunk_count(len, RPF_CHUNK) * RPF_TAG);
	return r;
}

int rpf_decrypt_fd(int in_fd, int out_fd, const unsigned char hdr_bytes[RPF_HEADER_LEN],
		   const struct rpf_header *h, const unsigned char key[RPF_KEY_BYTES],
		   unsigned threads, unsigned flags, struct rerr *e)
{
	struct job j;
	struct stat st;
	uint64_t len = 0;
	off_t size = 0;
	int r;

	if (e)
		e->message[0] = '\0';
	memset(&j, 0, sizeof(j));
	j.in_fd = in_fd;
	j.out_fd = out_fd;
	j.flags = flags;
	r = fd_body(in_fd, &j.in_base, &len, &size);
	if (r == 0)
		r = fd_out(out_fd, &j.out_base, &j.stream);
	if (r < 0)
		return rpf_fail(e, r, rpf_strerror(r));
	(void)posix_fadvise(in_fd, j.in_base, 0, POSIX_FADV_SEQUENTIAL);
	r = pipeline_run(&j, false, len, hdr_bytes, h, key, threads, e);
	/* A file that changed size meanwhile was not opened as a whole. */
	if (r == 0 && (fstat(in_fd, &st) < 0 || st.st_size != size))
		r = rpf_fail(e, RPF_E_CHANGED, rpf_strerror(RPF_E_CHANGED));
	if (r == 0)
		r = fd_advance(&j, j.out_base, len - chunk_count(len, RPF_CT_CHUNK) * RPF_TAG);
	return r;
}

int rpf_encrypt_buf(const void *in, size_t len, const struct rpf_header *h,
		    const unsigned char key[RPF_KEY_BYTES], unsigned threads,
		    unsigned char **ret, size_t *ret_len)
{
	uint64_t nchunks = chunk_count(len, RPF_CHUNK);
	unsigned char *p;
	size_t out_len;
	struct job j;
	int r;

	if (len > SIZE_MAX / 2)
		return -ENOMEM;
	out_len = len + (size_t)nchunks * RPF_TAG;
	p = malloc(RPF_HEADER_LEN + out_len);
	if (!p)
		return -ENOMEM;
	memset(&j, 0, sizeof(j));
	j.in_mem = in ? in : (const void *)"";
	j.out_mem = p + RPF_HEADER_LEN;
	r = rpf_header_serialize(h, p);
	if (r == 0)
		r = pipeline_run(&j, true, len, p, h, key, threads, NULL);
	if (r < 0) {
		free(p);
		return r;
	}
	*ret = p;
	*ret_len = RPF_HEADER_LEN + out_len;
	return 0;
}

int rpf_decrypt_buf(const unsigned char *in, size_t len, const unsigned char pk[RPF_PK_BYTES],
		    const unsigned char sk[RPF_SK_BYTES], unsigned threads,
		    unsigned char **ret, size_t *ret_len, struct rerr *e)
{
	struct rpf_header h;
	unsigned char key[RPF_KEY_BYTES], *p;
	struct job j;
	uint64_t body;
	int r;

	if (e)
		e->message[0] = '\0';
	r = rpf_header_parse(in, len, &h, e);
	if (r < 0)
		return r;
	r = rpf_unwrap(&h, pk, sk, key);
	if (r < 0)
		return rpf_fail(e, r, rpf_strerror(r));
	body = len - RPF_HEADER_LEN;
	/* The plaintext is never longer than the sealed body; its exact length is known on success. */
	p = malloc(body ? (size_t)body : 1);
	if (!p) {
		sodium_memzero(key, sizeof(key));
		return rpf_fail(e, -ENOMEM, rpf_strerror(-ENOMEM));
	}
	memset(&j, 0, sizeof(j));
	j.in_mem = in + RPF_HEADER_LEN;
	j.out_mem = p;
	r = pipeline_run(&j, false, body, in, &h, key, threads, e);
	sodium_memzero(key, sizeof(key));
	if (r < 0) {
		sodium_memzero(p, (size_t)body);
		free(p);
		return r;
	}
	*ret = p;
	*ret_len = (size_t)(body - chunk_count(body, RPF_CT_CHUNK) * RPF_TAG);
	return 0;
}
