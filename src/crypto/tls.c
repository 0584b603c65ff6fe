/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* tls: self-signed certificate generation with OpenSSL 3. */
#include "crypto/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"

static int tls_add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

int tls_self_signed_ensure(const char *cert_path, const char *key_path)
{
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	X509_NAME *name;
	FILE *f = NULL;
	int fd, r = ERR_INTERNAL;
	unsigned char serial[16];

	if (access(cert_path, R_OK) == 0 && access(key_path, R_OK) == 0)
		return 0;
	pkey = EVP_EC_gen("P-256");
	cert = X509_new();
	if (!pkey || !cert)
		goto out;
	X509_set_version(cert, 2);
	if (RAND_bytes_ex(NULL, serial, sizeof(serial), 0) != 1)
		goto out;
	serial[0] &= 0x7f;
	{
		BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);

		if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert))) {
			BN_free(bn);
			goto out;
		}
		BN_free(bn);
	}
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 825L * 86400);
	X509_set_pubkey(cert, pkey);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Rampart", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(cert, name);
	if (tls_add_ext(cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") < 0 ||
	    tls_add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    tls_add_ext(cert, NID_ext_key_usage, "serverAuth") < 0)
		goto out;
	if (!X509_sign(cert, pkey, EVP_sha256()))
		goto out;
	fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	f = fdopen(fd, "w");
	if (!f) {
		r = -errno;
		close(fd);
		goto out;
	}
	if (!PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) || fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	f = fopen(cert_path, "we");
	if (!f) {
		r = -errno;
		goto out;
	}
	if (!PEM_write_X509(f, cert) || fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	f = NULL;
	r = 0;
out:
	if (f)
		fclose(f);
	X509_free(cert);
	EVP_PKEY_free(pkey);
	return r;
}

int tls_read_pem(const char *path, char **ret)
{
	FILE *f = fopen(path, "re");
	char *data;
	size_t n;
	int r;

	if (!f)
		return -errno;
	data = malloc((1 << 20) + 1);
	if (!data) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(data, 1, 1 << 20, f);
	r = ferror(f) ? -EIO : (n == (1 << 20) ? -EFBIG : 0);
	fclose(f);
	if (r < 0) {
		free(data);
		return r;
	}
	data[n] = '\0';
	*ret = data;
	return 0;
}
