/* CTLS: the TLS client the delivery core needs, on OpenSSL 3, linked in
 * (statically into qmail-remote, whose pages for it are mapped only when a
 * delivery uses TLS). The API is ours and narrow; OpenSSL's types stay
 * behind it. */
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

#endif
