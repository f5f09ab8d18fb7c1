/* CGnuTLS: the few GnuTLS calls the gateway's HTTPS needs beyond what
 * libmicrohttpd does itself (libmicrohttpd links GnuTLS already): the
 * server's certificate and key, swapped without a restart (handed to
 * libmicrohttpd's MHD_OPTION_HTTPS_CERT_CALLBACK), a client certificate's
 * verified subject, a record written on a session, and --probe's client.
 * GnuTLS's types stay behind it: sessions travel as void pointers. */
#ifndef CGNUTLS_H
#define CGNUTLS_H

#include <stddef.h>

typedef struct cgnutls_identity cgnutls_identity;

/* A certificate chain and its private key, both PEM; NULL when they cannot
 * be read or do not belong together, with the reason in `error`. */
cgnutls_identity *cgnutls_identity_load(const void *chain, size_t chain_length, const void *key,
                                        size_t key_length, char *error, size_t error_length);
void cgnutls_identity_free(cgnutls_identity *identity);

/* Makes `identity` the one new handshakes present; returns the one it
 * replaces (NULL at first), for the caller to free once no handshake that
 * took it can still be running. */
cgnutls_identity *cgnutls_identity_install(cgnutls_identity *identity);

/* The gnutls_certificate_retrieve_function2 to give libmicrohttpd. */
void *cgnutls_retrieve_function(void);

/* The peer's certificate on `session`: 1 and its subject (RFC 4514) when it
 * verified against the server's trusted CAs for client authentication; 0
 * when the peer sent none; -1 when it did not verify (reason in `subject`). */
int cgnutls_peer_subject(void *session, char *subject, size_t subject_length);

/* gnutls_record_send: bytes written, or a negative GnuTLS error. */
long cgnutls_send(void *session, const void *bytes, size_t length);

/* --probe: TLS over connected `fd` (the certificate is not checked: the
 * probe asks its own gateway on loopback), sends `request`, reads up to
 * `reply_length` bytes. Bytes read, or -1. */
long cgnutls_probe(int fd, const void *request, size_t request_length, void *reply, size_t reply_length);

#endif
