/* CDKIM: DKIM signing (RFC 6376, relaxed/relaxed) with libopendkim, loaded
 * with dlopen on first use, so a delivery that signs nothing never maps
 * libopendkim or the libcrypto it needs (qmail-remote starts once per
 * message and counts its memory). Signing only: no verification, no DNS.
 * The API is ours and narrow; libopendkim's types stay behind it. */
#ifndef CDKIM_H
#define CDKIM_H

#include <stddef.h>

typedef struct cdkim_signer cdkim_signer;

/* Signing algorithms (the key decides which). */
#define CDKIM_RSA_SHA256 1
#define CDKIM_ED25519_SHA256 2

/* 1 when libopendkim is loaded and set up (headers to sign, From signed
 * once more than it occurs); else 0 and `problem` says why. Loads once. */
int cdkim_load(char *problem, size_t size);

/* A signature in the making for domain `domain` (d=) and `selector` (s=),
 * with `key` (PEM, NUL-terminated). NULL with `problem` filled when the key
 * cannot be used or libopendkim is not loaded. */
cdkim_signer *cdkim_signer_new(const char *key, const char *selector, const char *domain, int algorithm,
                               char *problem, size_t size);

/* One header field as it stands in the message, folding CRLFs included,
 * without its final CRLF. 1 on success. */
int cdkim_header(cdkim_signer *signer, const unsigned char *field, size_t length);
/* The end of the header fields. 1 on success. */
int cdkim_end_of_headers(cdkim_signer *signer);
/* Body bytes, lines ending in CRLF. 1 on success. */
int cdkim_body(cdkim_signer *signer, const unsigned char *bytes, size_t length);

/* Signs; `value` gets the DKIM-Signature field's value (after the name and
 * ": "), folded with LF and a tab; it lives as long as the signer. 1 on
 * success, else 0 and `problem` says why. */
int cdkim_finish(cdkim_signer *signer, const unsigned char **value, size_t *length, char *problem, size_t size);

void cdkim_signer_free(cdkim_signer *signer);

#endif
