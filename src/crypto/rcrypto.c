/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* crypto: libsodium wrappers. */
#include "crypto/rcrypto.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"

static unsigned long long crypto_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
static size_t crypto_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;

int rcrypto_init(void)
{
	return sodium_init() < 0 ? ERR_INTERNAL : 0;
}

void rcrypto_pwhash_set_minimal(void)
{
	crypto_ops = crypto_pwhash_OPSLIMIT_MIN;
	crypto_mem = crypto_pwhash_MEMLIMIT_MIN;
}

void rcrypto_pwhash_limits(unsigned long long *ret_ops, size_t *ret_mem)
{
	*ret_ops = crypto_ops;
	*ret_mem = crypto_mem;
}

int rcrypto_token_new(char *out, size_t size, const char *prefix)
{
	unsigned char raw[RCRYPTO_TOKEN_BYTES];
	size_t plen = strlen(prefix);
	size_t b64 = sodium_base64_ENCODED_LEN(sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);

	if (plen > 8 || size < plen + 1 + b64)
		return -EINVAL;
	randombytes_buf(raw, sizeof(raw));
	memcpy(out, prefix, plen);
	out[plen] = '_';
	sodium_bin2base64(out + plen + 1, b64, raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	return 0;
}

void rcrypto_sha256_hex(const void *data, size_t len, char out[RCRYPTO_HASH_HEX_SIZE])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(out, RCRYPTO_HASH_HEX_SIZE, h, sizeof(h));
}

void rcrypto_token_hash(const char *token, char out[RCRYPTO_HASH_HEX_SIZE])
{
	rcrypto_sha256_hex(token, strlen(token), out);
}

int rcrypto_pwhash(const char *password, char out[RCRYPTO_PWHASH_SIZE])
{
	size_t n = strlen(password);

	if (n > 1024)
		return -EINVAL;
	if (crypto_pwhash_str(out, password, n, crypto_ops, crypto_mem) != 0)
		return -ENOMEM;
	return 0;
}

bool rcrypto_pwhash_verify(const char *hash, const char *password)
{
	size_t n = strlen(password);

	if (!hash || !*hash || n > 1024)
		return false;
	return crypto_pwhash_str_verify(hash, password, n) == 0;
}

bool rcrypto_str_eq(const char *a, const char *b)
{
	size_t n = strlen(a);

	if (n != strlen(b))
		return false;
	return sodium_memcmp(a, b, n) == 0;
}

int rcrypto_keyfile_load(const char *path, unsigned char *key, size_t len)
{
	struct stat st;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return -errno;
		randombytes_buf(key, len);
		n = write(fd, key, len);
		r = (n == (ssize_t)len && fsync(fd) == 0) ? 0 : -EIO;
		close(fd);
		if (r < 0)
			unlink(path);
		return r;
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) ||
	    st.st_size != (off_t)len) {
		close(fd);
		return ERR_INVALID;
	}
	n = read(fd, key, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}
