/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* tls: a self-signed certificate for trying rampartd over HTTPS (OpenSSL). */
#ifndef RAMPART_TLS_H
#define RAMPART_TLS_H

/*
 * Creates an ECDSA P-256 key (@key_path, mode 0600) and a certificate for
 * localhost, 127.0.0.1 and ::1 valid 825 days (@cert_path) unless both exist.
 * Returns 0, -errno, or ERR_INTERNAL when OpenSSL fails.
 */
int tls_self_signed_ensure(const char *cert_path, const char *key_path);

/* Reads a whole PEM file (at most 1 MiB) into a new string.  Returns 0 or -errno/-EFBIG. */
int tls_read_pem(const char *path, char **ret);

#endif
