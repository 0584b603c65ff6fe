/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * rpf_gen: writes the protected-file test vectors, and fresh headers for
 * the integration tests.
 *
 *   rpf_gen vectors DIR
 *       writes the .rpf files and manifest.txt into DIR.  Every key, id and nonce is
 *       fixed (the server key is bytes 1..32), and the key wrapping uses a
 *       sealed box whose ephemeral key comes from a fixed seed, so the output
 *       is the same on every run.  The manifest has one line per file:
 *       NAME EXPECTED LENGTH SHA256, where EXPECTED is "ok" or the error
 *       kind (magic, version, header, truncated, auth, key_id, unwrap) and
 *       LENGTH/SHA256 describe the plaintext ("-" for refused files).
 *
 *   rpf_gen header SERVER_ID PUBLIC_KEY_BASE64
 *       prints a new header (random ids and key) sealed to that server key,
 *       in base64, for registering files in tests.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "common/rtime.h"
#include "formats/rpf.h"

static unsigned char server_sk[RPF_SK_BYTES], server_pk[RPF_PK_BYTES];

/* libsodium's crypto_box_seal with the ephemeral key pair derived from @seed. */
static int seal_fixed(unsigned char *out, const unsigned char *m, size_t mlen,
		      const unsigned char pk[32], unsigned char seed_byte)
{
	unsigned char seed[crypto_box_SEEDBYTES], epk[32], esk[32], nonce[crypto_box_NONCEBYTES];
	crypto_generichash_state st;

	memset(seed, seed_byte, sizeof(seed));
	crypto_box_seed_keypair(epk, esk, seed);
	crypto_generichash_init(&st, NULL, 0, sizeof(nonce));
	crypto_generichash_update(&st, epk, sizeof(epk));
	crypto_generichash_update(&st, pk, 32);
	crypto_generichash_final(&st, nonce, sizeof(nonce));
	memcpy(out, epk, sizeof(epk));
	return crypto_box_easy(out + 32, m, mlen, nonce, pk, esk);
}

/* A header with fixed fields; @n varies ids, key and nonce between files. */
static void fixed_header(struct rpf_header *h, unsigned char key[RPF_KEY_BYTES], unsigned n,
			 const unsigned char *wrap_pk, const char *wrap_file_id)
{
	unsigned char plain[RPF_WRAP_PLAIN];

	memset(h, 0, sizeof(*h));
	h->version = RPF_VERSION;
	h->suite = RPF_SUITE_AES256GCM_STREAM;
	h->chunk_size = RPF_CHUNK;
	snprintf(h->file_id, sizeof(h->file_id), "01JFA000000000000000000%03u", n);
	snprintf(h->server_id, sizeof(h->server_id), "01JSERVER00000000000000000");
	snprintf(h->policy_id, sizeof(h->policy_id), "01JPC000000000000000000%03u", n);
	rpf_key_id(wrap_pk, h->key_id);
	memset(h->nonce_prefix, (int)(0x40 + n), RPF_NONCE_PREFIX);
	for (size_t i = 0; i < RPF_KEY_BYTES; i++)
		key[i] = (unsigned char)(0xA0 + n + i);
	memcpy(plain, wrap_file_id ? wrap_file_id : h->file_id, ULID_LEN);
	memcpy(plain + ULID_LEN, key, RPF_KEY_BYTES);
	seal_fixed(h->wrapped, plain, sizeof(plain), wrap_pk, (unsigned char)n);
}

static unsigned char *pattern(size_t len)
{
	unsigned char *p = malloc(len ? len : 1);

	for (size_t i = 0; p && i < len; i++)
		p[i] = (unsigned char)((i * 31 + (i >> 16) * 7 + 5) & 0xff);
	return p;
}

static int write_file(const char *dir, const char *name, const unsigned char *p, size_t len)
{
	char path[1024];
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	f = fopen(path, "wb");
	if (!f)
		return -errno;
	if ((len && fwrite(p, 1, len, f) != len) || fclose(f) != 0)
		return -EIO;
	return 0;
}

static FILE *manifest;

static int emit(const char *dir, const char *name, const char *expect, const unsigned char *p,
		size_t len, const unsigned char *plain, size_t plen)
{
	char hex[65] = "-", lenbuf[32] = "-";

	if (plain) {
		unsigned char h[32];

		crypto_hash_sha256(h, plain, plen);
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		snprintf(lenbuf, sizeof(lenbuf), "%zu", plen);
	}
	fprintf(manifest, "%s %s %s %s\n", name, expect, lenbuf, hex);
	return write_file(dir, name, p, len);
}

/* Encrypts @plen pattern bytes as file number @n. */
static int make(unsigned n, size_t plen, unsigned char **ret, size_t *ret_len, unsigned char **ret_plain)
{
	struct rpf_header h;
	unsigned char key[RPF_KEY_BYTES];
	unsigned char *plain = pattern(plen);
	int r;

	if (!plain)
		return -ENOMEM;
	fixed_header(&h, key, n, server_pk, NULL);
	r = rpf_encrypt_buf(plain, plen, &h, key, 2, ret, ret_len);
	if (r < 0 || !ret_plain)
		free(plain);
	else
		*ret_plain = plain;
	return r;
}

#define CT (RPF_CHUNK + RPF_TAG)

static int gen_vectors(const char *dir)
{
	static const size_t sizes[] = { 0, 1, RPF_CHUNK - 1, RPF_CHUNK, RPF_CHUNK + 1, 200000 };
	static const char *const names[] = { "valid-empty.rpf", "valid-1.rpf", "valid-65535.rpf",
					     "valid-65536.rpf", "valid-65537.rpf", "valid-200000.rpf" };
	unsigned char *big = NULL, *plain = NULL, *other = NULL, *t;
	size_t big_len = 0, other_len = 0;
	char path[1024];
	int r = 0;

	snprintf(path, sizeof(path), "%s/manifest.txt", dir);
	manifest = fopen(path, "w");
	if (!manifest)
		return -errno;
	fprintf(manifest, "# name expected plaintext_length plaintext_sha256 (see gen.c)\n");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]) && r == 0; i++) {
		unsigned char *out = NULL, *pl = NULL;
		size_t len = 0;

		r = make((unsigned)i + 1, sizes[i], &out, &len, &pl);
		if (r == 0)
			r = emit(dir, names[i], "ok", out, len, pl, sizes[i]);
		free(out);
		free(pl);
	}
	/* 200000 bytes: chunks of 65536, 65536, 65536 and 3392 bytes. */
	r = r ? r : make(6, 200000, &big, &big_len, &plain);
	r = r ? r : make(7, 200000, &other, &other_len, NULL);
	if (r < 0)
		goto out;
	t = malloc(big_len);
	if (!t) {
		r = -ENOMEM;
		goto out;
	}
	/* Header edit: a nonce-prefix byte (the header still parses). */
	memcpy(t, big, big_len);
	t[110] ^= 0x01;
	r = r ? r : emit(dir, "corrupt-header-edit.rpf", "auth", t, big_len, NULL, 0);
	/* Header edit in the policy id, to another valid ULID character. */
	memcpy(t, big, big_len);
	t[68 + 25] = t[68 + 25] == '1' ? '2' : '1';
	r = r ? r : emit(dir, "corrupt-policy-id.rpf", "auth", t, big_len, NULL, 0);
	/* Truncated inside the final chunk. */
	r = r ? r : emit(dir, "corrupt-truncated-mid.rpf", "auth", big, big_len - 1000, NULL, 0);
	/* Final chunk dropped: the last remaining chunk was sealed with last = 0. */
	r = r ? r : emit(dir, "corrupt-last-chunk-dropped.rpf", "truncated", big, RPF_HEADER_LEN + 3 * CT,
			 NULL, 0);
	/* Cut inside the header. */
	r = r ? r : emit(dir, "corrupt-truncated-header.rpf", "truncated", big, 100, NULL, 0);
	/* Chunks 0 and 1 exchanged. */
	memcpy(t, big, big_len);
	memcpy(t + RPF_HEADER_LEN, big + RPF_HEADER_LEN + CT, CT);
	memcpy(t + RPF_HEADER_LEN + CT, big + RPF_HEADER_LEN, CT);
	r = r ? r : emit(dir, "corrupt-reordered.rpf", "auth", t, big_len, NULL, 0);
	/* Chunk 1 taken from another file with the same layout. */
	memcpy(t, big, big_len);
	memcpy(t + RPF_HEADER_LEN + CT, other + RPF_HEADER_LEN + CT, CT);
	r = r ? r : emit(dir, "corrupt-chunk-swapped.rpf", "auth", t, big_len, NULL, 0);
	/* A body byte flipped. */
	memcpy(t, big, big_len);
	t[RPF_HEADER_LEN + 2 * CT + 17] ^= 0x80;
	r = r ? r : emit(dir, "corrupt-body-bit.rpf", "auth", t, big_len, NULL, 0);
	/* Bad magic and version. */
	memcpy(t, big, big_len);
	t[0] = 'X';
	r = r ? r : emit(dir, "corrupt-magic.rpf", "magic", t, big_len, NULL, 0);
	memcpy(t, big, big_len);
	t[8] = 2;
	r = r ? r : emit(dir, "corrupt-version.rpf", "version", t, big_len, NULL, 0);
	memcpy(t, big, big_len);
	t[12] = 0x01;
	r = r ? r : emit(dir, "corrupt-chunk-size.rpf", "header", t, big_len, NULL, 0);
	free(t);
	/* Sealed to another server key (wrong key id). */
	{
		struct rpf_header h;
		unsigned char key[RPF_KEY_BYTES], osk[32], opk[32], *out = NULL;
		size_t len = 0;

		memset(osk, 0x77, sizeof(osk));
		crypto_scalarmult_base(opk, osk);
		fixed_header(&h, key, 8, opk, NULL);
		r = r ? r : rpf_encrypt_buf(plain, 1000, &h, key, 2, &out, &len);
		r = r ? r : emit(dir, "corrupt-wrong-key-id.rpf", "key_id", out, len, NULL, 0);
		free(out);
		out = NULL;
		/* The content key sealed for another file id. */
		fixed_header(&h, key, 9, server_pk, "01JFA000000000000000000001");
		r = r ? r : rpf_encrypt_buf(plain, 1000, &h, key, 2, &out, &len);
		r = r ? r : emit(dir, "corrupt-wrapped-for-other-file.rpf", "unwrap", out, len, NULL, 0);
		free(out);
	}
out:
	free(big);
	free(plain);
	free(other);
	if (fclose(manifest) != 0 && r == 0)
		r = -EIO;
	return r;
}

static int gen_header(const char *server_id, const char *pk_b64)
{
	unsigned char pk[RPF_PK_BYTES], key[RPF_KEY_BYTES], hdr[RPF_HEADER_LEN];
	char fid[ULID_SIZE], pid[ULID_SIZE], out[400];
	struct rpf_header h;
	size_t n = 0;
	int r;

	if (sodium_base642bin(pk, sizeof(pk), pk_b64, strlen(pk_b64), NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || n != sizeof(pk))
		return -EINVAL;
	ids_ulid(fid, rtime_now_ms());
	ids_ulid(pid, rtime_now_ms());
	r = rpf_header_new(fid, server_id, pid, pk, &h, key);
	sodium_memzero(key, sizeof(key));
	if (r == 0)
		r = rpf_header_serialize(&h, hdr);
	if (r < 0)
		return r;
	sodium_bin2base64(out, sizeof(out), hdr, sizeof(hdr), sodium_base64_VARIANT_ORIGINAL);
	printf("%s %s\n", fid, out);
	return 0;
}

int main(int argc, char **argv)
{
	int r;

	if (sodium_init() < 0)
		return 1;
	for (size_t i = 0; i < sizeof(server_sk); i++)
		server_sk[i] = (unsigned char)(i + 1);
	crypto_scalarmult_base(server_pk, server_sk);
	if (argc == 3 && strcmp(argv[1], "vectors") == 0)
		r = gen_vectors(argv[2]);
	else if (argc == 4 && strcmp(argv[1], "header") == 0)
		r = gen_header(argv[2], argv[3]);
	else {
		fputs("usage: rpf_gen vectors DIR | header SERVER_ID PUBLIC_KEY_BASE64\n", stderr);
		return 2;
	}
	if (r < 0) {
		fprintf(stderr, "rpf_gen: %s\n", rpf_strerror(r));
		return 1;
	}
	return 0;
}
