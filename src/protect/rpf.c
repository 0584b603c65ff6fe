/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * rpf: header, key wrapping, and the parallel STREAM pipeline.
 *
 * Pipeline: the body is cut into batches of 8 chunks (about 512 KiB).  The
 * calling thread and the worker threads claim batches in order; each reads
 * its batch with one positional read straight into the chunk slots of its
 * buffer, seals or opens every chunk in place with its own EVP_CIPHER_CTX
 * (keyed once), and writes the result with one positional write at the
 * batch's offset.  No chunk passes between threads and the only shared
 * state is the batch counter, so the reads, writes and cipher all spread
 * over the cores.  Each thread owns one batch buffer: memory is about
 * threads x 512 KiB whatever the file size, and a batch stays in the
 * core's cache from the read to the write.  A batch is written only when
 * all its chunks sealed or verified; after a failure no later batch is
 * started and the lowest failing chunk is the one reported.
 */
#include "protect/rpf.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int rpf_fail(struct rpf_err *e, int err, const char *msg)
{
	if (e) {
		e->chunk = 0;
		snprintf(e->message, sizeof(e->message), "%s", msg);
	}
	return err;
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
		     struct rpf_err *e)
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
 * Positional I/O: each worker reads its batch of chunks at the batch's own
 * offset and writes the result at its own offset, so reading, writing and
 * the cipher all spread over the cores and no chunk passes between threads.
 * Offsets are relative to where the body starts.  A batch is processed in
 * place in one buffer that holds chunk k at k x RPF_CT_CHUNK: the file side
 * is contiguous, the buffer side is laid out in units of @unit bytes
 * @stride bytes apart (plaintext is scattered or gathered by the kernel in
 * the same call), so the cipher works where the data landed.
 */
struct rpf_io {
	/* Reads exactly @n bytes at @off into @buf.  Returns 0, -EIO when the input ends first, or -errno. */
	int (*pread)(void *ud, unsigned char *buf, size_t n, size_t unit, size_t stride, uint64_t off);
	/* Writes all @n bytes at @off from @buf.  Returns 0 or -errno. */
	int (*pwrite)(void *ud, unsigned char *buf, size_t n, size_t unit, size_t stride, uint64_t off);
	void *rud, *wud;
};

/* Chunks per batch: one read and one write of about 512 KiB, which stay in a core's cache. */
#define RPF_BATCH 8

struct fd_at {
	int fd;
	off_t base;
};

/* The iovecs of @n bytes of @buf in units of @unit, @stride apart; returns their count. */
static int iov_layout(struct iovec *iov, unsigned char *buf, size_t n, size_t unit, size_t stride)
{
	int cnt = 0;

	for (size_t done = 0; done < n && cnt < RPF_BATCH; cnt++) {
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

static int fd_transfer(const struct fd_at *f, bool write, unsigned char *buf, size_t n,
		       size_t unit, size_t stride, uint64_t off)
{
	struct iovec vec[RPF_BATCH], *iov = vec;
	int cnt = iov_layout(vec, buf, n, unit, stride);
	size_t done = 0;

	while (done < n) {
		off_t at = f->base + (off_t)(off + done);
		ssize_t k = write ? pwritev(f->fd, iov, cnt, at) : preadv(f->fd, iov, cnt, at);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EIO; /* the input shrank while it was read */
		done += (size_t)k;
		iov_skip(&iov, &cnt, (size_t)k);
	}
	return 0;
}

static int fd_pread_full(void *ud, unsigned char *buf, size_t n, size_t unit, size_t stride,
			 uint64_t off)
{
	return fd_transfer(ud, false, buf, n, unit, stride, off);
}

static int fd_pwrite_full(void *ud, unsigned char *buf, size_t n, size_t unit, size_t stride,
			  uint64_t off)
{
	return fd_transfer(ud, true, buf, n, unit, stride, off);
}

struct mem_at {
	const unsigned char *src; /* input, or NULL */
	unsigned char *p;         /* output, or NULL */
	size_t len;
};

static int mem_pread(void *ud, unsigned char *buf, size_t n, size_t unit, size_t stride,
		     uint64_t off)
{
	const struct mem_at *m = ud;

	if (off > m->len || n > m->len - off)
		return -EIO;
	for (size_t done = 0, i = 0; done < n; i++) {
		size_t k = n - done < unit ? n - done : unit;

		memcpy(buf + i * stride, m->src + off + done, k);
		done += k;
	}
	return 0;
}

static int mem_pwrite(void *ud, unsigned char *buf, size_t n, size_t unit, size_t stride,
		      uint64_t off)
{
	const struct mem_at *m = ud;

	if (off > m->len || n > m->len - off)
		return -EIO;
	for (size_t done = 0, i = 0; done < n; i++) {
		size_t k = n - done < unit ? n - done : unit;

		memcpy(m->p + off + done, buf + i * stride, k);
		done += k;
	}
	return 0;
}

/* ---------------------------------------------------------------- pipeline */

#define RPF_NO_FAILURE UINT64_MAX

struct job {
	const struct rpf_io *io;
	bool encrypt;
	const unsigned char *key, *aad, *prefix;
	size_t in_unit, out_unit;
	uint64_t in_len;    /* body bytes read: plaintext, or the sealed chunks */
	uint64_t nchunks, nbatches;
	pthread_mutex_t mu;
	uint64_t next_batch;  /* under mu */
	uint64_t fail_chunk;  /* the lowest failing chunk, or RPF_NO_FAILURE; under mu */
	int fail_err;         /* its error; under mu */
	bool fail_in_chunk;   /* the chunk itself is at fault, not the I/O */
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
 * Opens a final chunk in place at @c; when it does not verify as final but
 * would as a middle chunk (tried on the copy in @spare), the file was cut at
 * a chunk boundary: that is reported as truncation rather than tampering.
 */
static int chunk_open_final(EVP_CIPHER_CTX *ctx, const struct job *j, uint64_t seq,
			    unsigned char *c, size_t n, unsigned char *spare, size_t *ret_n)
{
	size_t ignored;
	int r;

	memcpy(spare, c, n);
	r = chunk_process(ctx, j, seq, true, c, n, c, ret_n);
	if (r == RPF_E_AUTH && chunk_process(ctx, j, seq, false, spare, n, spare, &ignored) == 0)
		r = RPF_E_TRUNCATED;
	sodium_memzero(spare, n);
	return r;
}

/* Records a failure at @chunk; the lowest one wins, so the report does not depend on timing. */
static void job_fail(struct job *j, uint64_t chunk, int err, bool in_chunk)
{
	pthread_mutex_lock(&j->mu);
	if (chunk < j->fail_chunk) {
		j->fail_chunk = chunk;
		j->fail_err = err;
		j->fail_in_chunk = in_chunk;
	}
	pthread_mutex_unlock(&j->mu);
}

/*
 * Processes batch @b in place in @buf: one read, every chunk, then one
 * write, and only when every chunk of the batch sealed or verified.  @spare
 * keeps a copy of a final chunk for the truncation check.
 */
static void batch_run(struct job *j, EVP_CIPHER_CTX *ctx, uint64_t b, unsigned char *buf,
		      unsigned char *spare)
{
	uint64_t first = b * RPF_BATCH, count = j->nchunks - first;
	uint64_t in_off = first * j->in_unit;
	size_t in_len, out_len = 0;
	int r;

	if (count > RPF_BATCH)
		count = RPF_BATCH;
	in_len = (size_t)(j->in_len - in_off < count * j->in_unit ? j->in_len - in_off
								    : count * j->in_unit);
	/* Plaintext is read into (or written from) chunk slots; sealed chunks are contiguous. */
	r = j->io->pread(j->io->rud, buf, in_len, j->in_unit, RPF_CT_CHUNK, in_off);
	if (r < 0) {
		job_fail(j, first, r, false);
		return;
	}
	for (uint64_t k = 0; k < count; k++) {
		uint64_t seq = first + k;
		bool last = seq == j->nchunks - 1;
		size_t n = last ? in_len - (size_t)k * j->in_unit : j->in_unit, got = 0;
		unsigned char *c = buf + (size_t)k * RPF_CT_CHUNK;

		if (!j->encrypt && last)
			r = chunk_open_final(ctx, j, seq, c, n, spare, &got);
		else
			r = chunk_process(ctx, j, seq, last, c, n, c, &got);
		if (r < 0) {
			job_fail(j, seq, r, true);
			return;
		}
		out_len += got;
	}
	r = j->io->pwrite(j->io->wud, buf, out_len, j->out_unit, RPF_CT_CHUNK, first * j->out_unit);
	if (r < 0)
		job_fail(j, first, r, false);
}

struct worker {
	struct job *job;
	unsigned char *buf;   /* RPF_BATCH x RPF_CT_CHUNK bytes */
	unsigned char *spare; /* RPF_CT_CHUNK bytes */
	pthread_t tid;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct job *j = w->job;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	if (!ctx || EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, j->key, NULL,
				      j->encrypt ? 1 : 0) != 1) {
		job_fail(j, 0, RPF_E_CRYPTO, false);
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	for (;;) {
		uint64_t b;

		/* Batches are claimed in order; none past a failure is started. */
		pthread_mutex_lock(&j->mu);
		b = j->next_batch;
		if (b >= j->nbatches || b * RPF_BATCH > j->fail_chunk) {
			pthread_mutex_unlock(&j->mu);
			break;
		}
		j->next_batch++;
		pthread_mutex_unlock(&j->mu);
		batch_run(j, ctx, b, w->buf, w->spare);
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
 * Runs the pipeline over a body of @in_len bytes.  The calling thread is
 * one of the workers; each worker owns one batch buffer and room for one
 * spare chunk, so memory is about threads x 512 KiB whatever the file size.
 */
static int pipeline_run(const struct rpf_io *io, bool encrypt, uint64_t in_len,
			const unsigned char *aad, const struct rpf_header *h,
			const unsigned char *key, unsigned threads, struct rpf_err *e)
{
	struct worker w[RPF_MAX_THREADS];
	struct job j;
	unsigned nthreads = pick_threads(threads), started = 1;
	size_t bufsize = (size_t)RPF_BATCH * RPF_CT_CHUNK;
	int r = 0;

	memset(&j, 0, sizeof(j));
	j.io = io;
	j.encrypt = encrypt;
	j.key = key;
	j.aad = aad;
	j.prefix = h->nonce_prefix;
	j.in_unit = encrypt ? RPF_CHUNK : RPF_CT_CHUNK;
	j.out_unit = encrypt ? RPF_CT_CHUNK : RPF_CHUNK;
	j.in_len = in_len;
	j.nchunks = chunk_count(in_len, j.in_unit);
	if (j.nchunks - 1 > UINT32_MAX)
		return -EFBIG;
	j.nbatches = (j.nchunks + RPF_BATCH - 1) / RPF_BATCH;
	j.fail_chunk = RPF_NO_FAILURE;
	if (nthreads > j.nbatches)
		nthreads = (unsigned)j.nbatches;
	memset(w, 0, sizeof(w));
	for (unsigned i = 0; i < nthreads; i++) {
		w[i].job = &j;
		w[i].buf = malloc(bufsize);
		w[i].spare = malloc(RPF_CT_CHUNK);
		if (!w[i].buf || !w[i].spare) {
			r = -ENOMEM;
			goto out;
		}
	}
	pthread_mutex_init(&j.mu, NULL);
	for (; started < nthreads; started++)
		if (pthread_create(&w[started].tid, NULL, worker_main, &w[started]) != 0)
			break;
	worker_main(&w[0]);
	for (unsigned i = 1; i < started; i++)
		pthread_join(w[i].tid, NULL);
	pthread_mutex_destroy(&j.mu);
	if (j.fail_chunk != RPF_NO_FAILURE) {
		r = j.fail_err;
		if (e && j.fail_in_chunk) {
			e->chunk = j.fail_chunk;
			snprintf(e->message, sizeof(e->message), "chunk %llu: %s",
				 (unsigned long long)j.fail_chunk, rpf_strerror(r));
		}
	}
out:
	for (unsigned i = 0; i < nthreads; i++) {
		/* Buffers held plaintext, and on a failed open unverified plaintext. */
		if (w[i].buf) {
			sodium_memzero(w[i].buf, bufsize);
			free(w[i].buf);
		}
		free(w[i].spare);
	}
	if (r < 0 && e && !e->message[0])
		snprintf(e->message, sizeof(e->message), "%s", rpf_strerror(r));
	return r;
}

/* The body length of @fd from its current offset (saved in @f), which must be a regular file. */
static int fd_body(int fd, struct fd_at *f, uint64_t *ret_len, off_t *ret_size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ESPIPE;
	f->fd = fd;
	f->base = lseek(fd, 0, SEEK_CUR);
	if (f->base < 0)
		return -errno;
	*ret_len = st.st_size > f->base ? (uint64_t)(st.st_size - f->base) : 0;
	*ret_size = st.st_size;
	return 0;
}

/* Starts the output at @fd's current offset. */
static int fd_out(int fd, struct fd_at *f)
{
	f->fd = fd;
	f->base = lseek(fd, 0, SEEK_CUR);
	return f->base < 0 ? -errno : 0;
}

/* Leaves @fd's offset after @n bytes written from @f's base, as sequential writes would. */
static int fd_advance(const struct fd_at *f, uint64_t n)
{
	return lseek(f->fd, f->base + (off_t)n, SEEK_SET) < 0 ? -errno : 0;
}

int rpf_encrypt_fd(int in_fd, int out_fd, const struct rpf_header *h,
		   const unsigned char key[RPF_KEY_BYTES], unsigned threads)
{
	unsigned char hdr[RPF_HEADER_LEN];
	struct fd_at fi, fo;
	struct rpf_io io = { fd_pread_full, fd_pwrite_full, &fi, &fo };
	struct stat st;
	uint64_t len;
	off_t size;
	int r = rpf_header_serialize(h, hdr);

	if (r == 0)
		r = fd_body(in_fd, &fi, &len, &size);
	if (r == 0)
		r = fd_out(out_fd, &fo);
	if (r == 0)
		r = fd_pwrite_full(&fo, hdr, sizeof(hdr), sizeof(hdr), sizeof(hdr), 0);
	if (r < 0)
		return r;
	(void)posix_fadvise(in_fd, fi.base, 0, POSIX_FADV_SEQUENTIAL);
	fo.base += RPF_HEADER_LEN;
	r = pipeline_run(&io, true, len, hdr, h, key, threads, NULL);
	/* A file that grew or shrank meanwhile would be sealed as a prefix of itself. */
	if (r == 0 && (fstat(in_fd, &st) < 0 || st.st_size != size))
		r = -EIO;
	if (r == 0)
		r = fd_advance(&fo, len + chunk_count(len, RPF_CHUNK) * RPF_TAG);
	return r;
}

int rpf_decrypt_fd(int in_fd, int out_fd, const unsigned char hdr_bytes[RPF_HEADER_LEN],
		   const struct rpf_header *h, const unsigned char key[RPF_KEY_BYTES],
		   unsigned threads, struct rpf_err *e)
{
	struct fd_at fi, fo;
	struct rpf_io io = { fd_pread_full, fd_pwrite_full, &fi, &fo };
	uint64_t len;
	off_t size;
	int r;

	if (e)
		e->message[0] = '\0';
	r = fd_body(in_fd, &fi, &len, &size);
	if (r == 0)
		r = fd_out(out_fd, &fo);
	if (r < 0)
		return rpf_fail(e, r, rpf_strerror(r));
	(void)posix_fadvise(in_fd, fi.base, 0, POSIX_FADV_SEQUENTIAL);
	r = pipeline_run(&io, false, len, hdr_bytes, h, key, threads, e);
	if (r == 0)
		r = fd_advance(&fo, len - chunk_count(len, RPF_CT_CHUNK) * RPF_TAG);
	return r;
}

int rpf_encrypt_buf(const void *in, size_t len, const struct rpf_header *h,
		    const unsigned char key[RPF_KEY_BYTES], unsigned threads,
		    unsigned char **ret, size_t *ret_len)
{
	uint64_t nchunks = chunk_count(len, RPF_CHUNK);
	struct mem_at mi = { in, NULL, len }, mo = { 0 };
	struct rpf_io io = { mem_pread, mem_pwrite, &mi, &mo };
	int r;

	if (len > SIZE_MAX / 2)
		return -ENOMEM;
	mo.len = len + (size_t)nchunks * RPF_TAG;
	mo.p = malloc(RPF_HEADER_LEN + mo.len);
	if (!mo.p)
		return -ENOMEM;
	r = rpf_header_serialize(h, mo.p);
	mo.p += RPF_HEADER_LEN;
	if (r == 0)
		r = pipeline_run(&io, true, len, mo.p - RPF_HEADER_LEN, h, key, threads, NULL);
	mo.p -= RPF_HEADER_LEN;
	if (r < 0) {
		free(mo.p);
		return r;
	}
	*ret = mo.p;
	*ret_len = RPF_HEADER_LEN + mo.len;
	return 0;
}

int rpf_decrypt_buf(const unsigned char *in, size_t len, const unsigned char pk[RPF_PK_BYTES],
		    const unsigned char sk[RPF_SK_BYTES], unsigned threads,
		    unsigned char **ret, size_t *ret_len, struct rpf_err *e)
{
	struct rpf_header h;
	unsigned char key[RPF_KEY_BYTES];
	struct mem_at mi = { 0 }, mo = { 0 };
	struct rpf_io io = { mem_pread, mem_pwrite, &mi, &mo };
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
	mi.src = in + RPF_HEADER_LEN;
	mi.len = (size_t)body;
	/* The plaintext is never longer than the sealed body; its exact length is known on success. */
	mo.len = (size_t)body;
	mo.p = malloc(mo.len ? mo.len : 1);
	if (!mo.p) {
		sodium_memzero(key, sizeof(key));
		return rpf_fail(e, -ENOMEM, rpf_strerror(-ENOMEM));
	}
	r = pipeline_run(&io, false, body, in, &h, key, threads, e);
	sodium_memzero(key, sizeof(key));
	if (r < 0) {
		sodium_memzero(mo.p, mo.len);
		free(mo.p);
		return r;
	}
	*ret = mo.p;
	*ret_len = (size_t)(body - chunk_count(body, RPF_CT_CHUNK) * RPF_TAG);
	return 0;
}
