/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * rpf: header, key wrapping, and the parallel STREAM pipeline.
 *
 * Pipeline: the calling thread reads chunks into a ring of slots and
 * writes finished slots in order; worker threads claim filled slots in
 * sequence and seal or open them in place, each with its own
 * EVP_CIPHER_CTX.  The ring holds 4 slots per worker, so memory is bounded
 * by about 4 x threads x 64 KiB whatever the file size.  The first failure
 * stops the pipeline; nothing after a failed chunk is written.
 */
#include "protect/rpf.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/str.h"

#define RPF_MAX_THREADS 64
#define RPF_SLOTS_PER_THREAD 4
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

struct rpf_io {
	/* Reads up to @n bytes, fewer only at end of input.  Returns the count or -errno. */
	ssize_t (*read)(void *ud, void *buf, size_t n);
	/* Writes all @n bytes.  Returns 0 or -errno. */
	int (*write)(void *ud, const void *buf, size_t n);
	void *rud, *wud;
};

static ssize_t fd_read_full(void *ud, void *buf, size_t n)
{
	int fd = *(int *)ud;
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, (char *)buf + got, n - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

static int fd_write_full(void *ud, const void *buf, size_t n)
{
	int fd = *(int *)ud;
	size_t put = 0;

	while (put < n) {
		ssize_t k = write(fd, (const char *)buf + put, n - put);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		put += (size_t)k;
	}
	return 0;
}

struct mem_in {
	const unsigned char *p;
	size_t len, off;
};

static ssize_t mem_read(void *ud, void *buf, size_t n)
{
	struct mem_in *m = ud;
	size_t k = m->len - m->off < n ? m->len - m->off : n;

	memcpy(buf, m->p + m->off, k);
	m->off += k;
	return (ssize_t)k;
}

struct mem_out {
	unsigned char *p;
	size_t len, cap;
};

static int mem_write(void *ud, const void *buf, size_t n)
{
	struct mem_out *m = ud;

	if (n > SIZE_MAX / 2 - m->len)
		return -ENOMEM;
	if (m->len + n > m->cap) {
		size_t cap = m->cap ? m->cap : 4096;
		unsigned char *np;

		while (cap < m->len + n)
			cap *= 2;
		np = realloc(m->p, cap);
		if (!np)
			return -ENOMEM;
		m->p = np;
		m->cap = cap;
	}
	if (n)
		memcpy(m->p + m->len, buf, n);
	m->len += n;
	return 0;
}

/* ---------------------------------------------------------------- pipeline */

enum slot_state { SLOT_FREE, SLOT_FILLED, SLOT_DONE };

struct slot {
	unsigned char *buf;    /* RPF_CT_CHUNK bytes */
	size_t len;            /* input length, then output length */
	uint64_t seq;
	bool last;
	enum slot_state state;
	int err;
};

struct pipe {
	pthread_mutex_t mu;
	pthread_cond_t cv_work, cv_done;
	struct slot *slots;
	size_t nslots;
	uint64_t next_read, next_work, next_write;
	bool stop;
	bool encrypt;
	const unsigned char *key;
	const unsigned char *aad;
	const unsigned char *prefix;
};

static void chunk_nonce(const unsigned char *prefix, uint64_t seq, bool last, unsigned char iv[12])
{
	memcpy(iv, prefix, RPF_NONCE_PREFIX);
	put_be32(iv + RPF_NONCE_PREFIX, (uint32_t)seq);
	iv[11] = last ? 1 : 0;
}

/*
 * Seals or opens @s in place with @ctx (already keyed).  Opening writes the
 * plaintext over the ciphertext; len becomes the plaintext length.
 */
static int chunk_process(EVP_CIPHER_CTX *ctx, const struct pipe *p, struct slot *s, bool last)
{
	unsigned char iv[12];
	int outl = 0, fin = 0;
	size_t n;

	chunk_nonce(p->prefix, s->seq, last, iv);
	if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, p->encrypt ? 1 : 0) != 1)
		return RPF_E_CRYPTO;
	if (EVP_CipherUpdate(ctx, NULL, &outl, p->aad, RPF_HEADER_LEN) != 1)
		return RPF_E_CRYPTO;
	if (p->encrypt) {
		n = s->len;
		if (n && EVP_CipherUpdate(ctx, s->buf, &outl, s->buf, (int)n) != 1)
			return RPF_E_CRYPTO;
		if (EVP_CipherFinal_ex(ctx, s->buf + n, &fin) != 1 ||
		    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, RPF_TAG, s->buf + n) != 1)
			return RPF_E_CRYPTO;
		s->len = n + RPF_TAG;
		return 0;
	}
	if (s->len < RPF_TAG)
		return RPF_E_TRUNCATED;
	n = s->len - RPF_TAG;
	{
		/* The tag is copied out: opening in place overwrites nothing after the data. */
		unsigned char tag[RPF_TAG];

		memcpy(tag, s->buf + n, RPF_TAG);
		if (n && EVP_CipherUpdate(ctx, s->buf, &outl, s->buf, (int)n) != 1)
			return RPF_E_CRYPTO;
		if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, RPF_TAG, tag) != 1)
			return RPF_E_CRYPTO;
		if (EVP_CipherFinal_ex(ctx, s->buf + n, &fin) != 1)
			return RPF_E_AUTH;
	}
	s->len = n;
	return 0;
}

/*
 * Opens a final chunk; when it does not verify as final but would as a
 * middle chunk, the file was cut at a chunk boundary: that is reported as
 * truncation rather than tampering.
 */
static int chunk_open_final(EVP_CIPHER_CTX *ctx, const struct pipe *p, struct slot *s)
{
	unsigned char *copy;
	size_t len = s->len;
	int r;

	copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, s->buf, len);
	r = chunk_process(ctx, p, s, true);
	if (r == RPF_E_AUTH) {
		struct slot t = *s;

		t.buf = copy;
		t.len = len;
		if (chunk_process(ctx, p, &t, false) == 0)
			r = RPF_E_TRUNCATED;
		sodium_memzero(copy, len);
	}
	free(copy);
	return r;
}

static void *worker_main(void *arg)
{
	struct pipe *p = arg;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	bool ok = ctx && EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, p->key, NULL,
					   p->encrypt ? 1 : 0) == 1;

	for (;;) {
		struct slot *s;
		int r;

		pthread_mutex_lock(&p->mu);
		while (!p->stop && p->next_work == p->next_read)
			pthread_cond_wait(&p->cv_work, &p->mu);
		if (p->stop) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		s = &p->slots[p->next_work % p->nslots];
		p->next_work++;
		pthread_mutex_unlock(&p->mu);

		if (!ok)
			r = RPF_E_CRYPTO;
		else if (!p->encrypt && s->last)
			r = chunk_open_final(ctx, p, s);
		else
			r = chunk_process(ctx, p, s, s->last);

		pthread_mutex_lock(&p->mu);
		s->err = r;
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&p->cv_done);
		pthread_mutex_unlock(&p->mu);
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

/*
 * Reads one chunk of @unit bytes into @s, deciding whether it is the last:
 * a short read is last; a full one is last when the input ends right after
 * it (one byte of look-ahead kept in *@carry).
 */
static int read_chunk(struct rpf_io *io, struct slot *s, size_t unit, int *carry)
{
	size_t off = 0;
	ssize_t k;
	unsigned char b;

	if (*carry >= 0) {
		s->buf[0] = (unsigned char)*carry;
		off = 1;
		*carry = -1;
	}
	k = io->read(io->rud, s->buf + off, unit - off);
	if (k < 0)
		return (int)k;
	s->len = off + (size_t)k;
	if (s->len < unit) {
		s->last = true;
		return 0;
	}
	k = io->read(io->rud, &b, 1);
	if (k < 0)
		return (int)k;
	s->last = k == 0;
	if (k == 1)
		*carry = b;
	return 0;
}

static int pipeline_run(struct rpf_io *io, bool encrypt, const unsigned char *aad,
			const struct rpf_header *h, const unsigned char *key, unsigned threads,
			struct rpf_err *e)
{
	struct pipe p;
	pthread_t tids[RPF_MAX_THREADS];
	unsigned nthreads = pick_threads(threads), started = 0;
	size_t unit = encrypt ? RPF_CHUNK : RPF_CT_CHUNK;
	bool eof = false;
	int carry = -1, r = 0;

	memset(&p, 0, sizeof(p));
	p.encrypt = encrypt;
	p.key = key;
	p.aad = aad;
	p.prefix = h->nonce_prefix;
	p.nslots = (size_t)nthreads * RPF_SLOTS_PER_THREAD;
	p.slots = calloc(p.nslots, sizeof(*p.slots));
	if (!p.slots)
		return -ENOMEM;
	for (size_t i = 0; i < p.nslots; i++) {
		p.slots[i].buf = malloc(RPF_CT_CHUNK);
		if (!p.slots[i].buf) {
			r = -ENOMEM;
			goto free_slots;
		}
	}
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv_work, NULL);
	pthread_cond_init(&p.cv_done, NULL);
	for (; started < nthreads; started++)
		if (pthread_create(&tids[started], NULL, worker_main, &p) != 0)
			break;
	if (started == 0) {
		r = -EAGAIN;
		goto destroy;
	}

	for (;;) {
		struct slot *s;

		if (!eof && p.next_read - p.next_write < p.nslots) {
			s = &p.slots[p.next_read % p.nslots];
			r = read_chunk(io, s, unit, &carry);
			if (r < 0)
				break;
			if (p.next_read > UINT32_MAX) {
				r = -EFBIG;
				break;
			}
			s->seq = p.next_read;
			s->err = 0;
			eof = s->last;
			pthread_mutex_lock(&p.mu);
			s->state = SLOT_FILLED;
			p.next_read++;
			pthread_cond_signal(&p.cv_work);
			/* Write whatever is ready at the head without waiting. */
			s = &p.slots[p.next_write % p.nslots];
			if (s->state != SLOT_DONE) {
				pthread_mutex_unlock(&p.mu);
				continue;
			}
			pthread_mutex_unlock(&p.mu);
		} else if (p.next_write == p.next_read) {
			break;
		} else {
			s = &p.slots[p.next_write % p.nslots];
			pthread_mutex_lock(&p.mu);
			while (s->state != SLOT_DONE)
				pthread_cond_wait(&p.cv_done, &p.mu);
			pthread_mutex_unlock(&p.mu);
		}
		if (s->err < 0) {
			r = s->err;
			if (e) {
				e->chunk = s->seq;
				snprintf(e->message, sizeof(e->message), "chunk %llu: %s",
					 (unsigned long long)s->seq, rpf_strerror(r));
			}
			break;
		}
		r = io->write(io->wud, s->buf, s->len);
		if (r < 0)
			break;
		pthread_mutex_lock(&p.mu);
		s->state = SLOT_FREE;
		p.next_write++;
		pthread_mutex_unlock(&p.mu);
	}

	pthread_mutex_lock(&p.mu);
	p.stop = true;
	pthread_cond_broadcast(&p.cv_work);
	pthread_mutex_unlock(&p.mu);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
destroy:
	pthread_cond_destroy(&p.cv_done);
	pthread_cond_destroy(&p.cv_work);
	pthread_mutex_destroy(&p.mu);
free_slots:
	for (size_t i = 0; i < p.nslots; i++) {
		if (p.slots[i].buf) {
			sodium_memzero(p.slots[i].buf, RPF_CT_CHUNK);
			free(p.slots[i].buf);
		}
	}
	free(p.slots);
	if (r < 0 && e && !e->message[0])
		snprintf(e->message, sizeof(e->message), "%s", rpf_strerror(r));
	return r;
}

int rpf_encrypt_fd(int in_fd, int out_fd, const struct rpf_header *h,
		   const unsigned char key[RPF_KEY_BYTES], unsigned threads)
{
	unsigned char hdr[RPF_HEADER_LEN];
	struct rpf_io io = { fd_read_full, fd_write_full, &in_fd, &out_fd };
	int r = rpf_header_serialize(h, hdr);

	if (r == 0)
		r = fd_write_full(&out_fd, hdr, sizeof(hdr));
	if (r == 0)
		r = pipeline_run(&io, true, hdr, h, key, threads, NULL);
	return r;
}

int rpf_decrypt_fd(int in_fd, int out_fd, const unsigned char hdr_bytes[RPF_HEADER_LEN],
		   const struct rpf_header *h, const unsigned char key[RPF_KEY_BYTES],
		   unsigned threads, struct rpf_err *e)
{
	struct rpf_io io = { fd_read_full, fd_write_full, &in_fd, &out_fd };

	if (e)
		e->message[0] = '\0';
	return pipeline_run(&io, false, hdr_bytes, h, key, threads, e);
}

int rpf_encrypt_buf(const void *in, size_t len, const struct rpf_header *h,
		    const unsigned char key[RPF_KEY_BYTES], unsigned threads,
		    unsigned char **ret, size_t *ret_len)
{
	unsigned char hdr[RPF_HEADER_LEN];
	struct mem_in mi = { in, len, 0 };
	struct mem_out mo = { 0 };
	struct rpf_io io = { mem_read, mem_write, &mi, &mo };
	int r = rpf_header_serialize(h, hdr);

	if (r == 0)
		r = mem_write(&mo, hdr, sizeof(hdr));
	if (r == 0)
		r = pipeline_run(&io, true, hdr, h, key, threads, NULL);
	if (r < 0) {
		free(mo.p);
		return r;
	}
	*ret = mo.p;
	*ret_len = mo.len;
	return 0;
}

int rpf_decrypt_buf(const unsigned char *in, size_t len, const unsigned char pk[RPF_PK_BYTES],
		    const unsigned char sk[RPF_SK_BYTES], unsigned threads,
		    unsigned char **ret, size_t *ret_len, struct rpf_err *e)
{
	struct rpf_header h;
	unsigned char key[RPF_KEY_BYTES];
	struct mem_in mi = { in, len, RPF_HEADER_LEN };
	struct mem_out mo = { 0 };
	struct rpf_io io = { mem_read, mem_write, &mi, &mo };
	int r;

	if (e)
		e->message[0] = '\0';
	r = rpf_header_parse(in, len, &h, e);
	if (r < 0)
		return r;
	r = rpf_unwrap(&h, pk, sk, key);
	if (r < 0)
		return rpf_fail(e, r, rpf_strerror(r));
	r = pipeline_run(&io, false, in, &h, key, threads, e);
	sodium_memzero(key, sizeof(key));
	if (r < 0) {
		if (mo.p)
			sodium_memzero(mo.p, mo.cap);
		free(mo.p);
		return r;
	}
	*ret = mo.p ? mo.p : malloc(1);
	*ret_len = mo.len;
	if (!*ret)
		return -ENOMEM;
	return 0;
}
