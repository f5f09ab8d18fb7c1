/* CTLS: the TLS client and the DKIM signature the delivery core needs, on
 * OpenSSL 3, linked in (statically into qmail-remote, whose pages for it are
 * mapped only when a delivery uses TLS or signs). The API is ours and
 * narrow; OpenSSL's types stay behind it. */
#ifndef CTLS_H
#define CTLS_H

#include <stddef.h>

typedef struct ctls_context ctls_context;
typedef struct ctls_connection ctls_connection;

/* Results of ctls_handshake, ctls_read, ctls_write besides counts. */
#define CTLS_ERROR (-1)
#define CTLS_TIMED_OUT (-2)
#define CTLS_CLOSED (-3)

/* One TLSA record (RFC 6698): usage, selector, matching type, data. */
typedef struct ctls_tlsa {
    unsigned char usage;
    unsigned char selector;
    unsigned char matching;
    const unsigned char *data;
    size_t length;
} ctls_tlsa;

/* NULL when a file cannot be used; then
 * ctls_last_error says why. Certificates are checked after the handshake.
 * `dane`: connections may be authenticated by TLSA records (no CA store is
 * loaded for such a context). */
ctls_context *ctls_context_new(const char *ca_file, const char *client_pem, const char *ciphers, int dane);
void ctls_context_free(ctls_context *context);

/* A connection on `fd` sending SNI `sni` (may be NULL) and checking the
 * certificate against the host `name` or the address text `ip` (either NULL).
 * With `count` TLSA records (a DANE context; `name` is then the TLSA base
 * domain), the certificate must match one of them: DANE-TA(2) with the name
 * checked, DANE-EE(3) without (RFC 7672). NULL when no record is usable. */
ctls_connection *ctls_connection_new(ctls_context *context, int fd, const char *sni, const char *name, const char *ip,
                                     const ctls_tlsa *records, int count);
int ctls_handshake(ctls_connection *connection);
int ctls_read(ctls_connection *connection, void *buffer, int size);
int ctls_write(ctls_connection *connection, const void *buffer, int size);
/* Bytes already decrypted and not read yet. */
int ctls_pending(ctls_connection *connection);
/* Sends close_notify (a clean end of TLS), without waiting for the peer's. */
void ctls_shutdown(ctls_connection *connection);
void ctls_connection_free(ctls_connection *connection);

const char *ctls_version(ctls_connection *connection);
const char *ctls_cipher(ctls_connection *connection);
/* 1 when verified; else 0 and `reason` is OpenSSL's words. */
int ctls_verified(ctls_connection *connection, const char **reason);

/* The TLSA record the verified chain matched: the depth of the matched
 * certificate (0: the server's own), or -1 (none matched, or no DANE).
 * `record->data` then points into the connection's own copy. */
int ctls_dane_matched(ctls_connection *connection, ctls_tlsa *record);

/* The last error as text (never secrets). */
void ctls_last_error(char *buffer, size_t size);

/* HMAC-MD5 (CRAM-MD5, RFC 2195) into 16 bytes at `out`; 1 on success. */
int ctls_hmac_md5(const unsigned char *key, int key_length, const unsigned char *data, size_t data_length,
                  unsigned char *out);

/* DKIM signing keys (RFC 6376, RFC 8463). */
typedef struct ctls_signing_key ctls_signing_key;
#define CTLS_SIGNING_RSA 1
#define CTLS_SIGNING_ED25519 2

/* A private key: for CTLS_SIGNING_RSA an RSAPrivateKey (PKCS#1, DER), for
 * CTLS_SIGNING_ED25519 the 32-byte private key. NULL when OpenSSL refuses it. */
ctls_signing_key *ctls_signing_key_new(int algorithm, const unsigned char *bytes, size_t length);
void ctls_signing_key_free(ctls_signing_key *key);

/* Signs the 32-byte SHA-256 `digest`: RSASSA-PKCS1-v1_5 with SHA-256 for
 * RSA, for Ed25519 the PureEdDSA signature of the 32 bytes themselves (RFC
 * 8463). Writes at most `size` bytes to `signature`; returns how many, or 0
 * when it could not sign (or an RSA signature did not verify). Threads may
 * sign with one key at once. */
size_t ctls_sign(ctls_signing_key *key, const unsigned char *digest, unsigned char *signature, size_t size);

/* SHA-256 (OpenSSL's, with the CPU's SHA instructions), fed in pieces. */
typedef struct ctls_sha256 ctls_sha256;
ctls_sha256 *ctls_sha256_new(void);
void ctls_sha256_update(ctls_sha256 *hash, const void *bytes, size_t length);
/* The 32-byte digest; the hash is then spent. */
void ctls_sha256_finish(ctls_sha256 *hash, unsigned char *digest);
void ctls_sha256_free(ctls_sha256 *hash);

#endif
