/* CTLS: OpenSSL for the delivery core's TLS client. Only what Swift cannot
 * reach directly lives here: macros (SNI, the cipher name, the options
 * setter) and a few calls gathered into one; the rest is called from Swift. */
#ifndef CTLS_SHIM_H
#define CTLS_SHIM_H

#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* A client context: certificates are checked by the caller after the
 * handshake (SSL_VERIFY_NONE), so one handshake serves every policy. */
static inline SSL_CTX *ctls_context(const char *ca_file, const char *client_pem, const char *ciphers) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) return NULL;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) : SSL_CTX_set_default_verify_paths(ctx);
    if (ok == 1 && client_pem) {
        ok = SSL_CTX_use_certificate_chain_file(ctx, client_pem) == 1
          && SSL_CTX_use_PrivateKey_file(ctx, client_pem, SSL_FILETYPE_PEM) == 1
          && SSL_CTX_check_private_key(ctx) == 1;
    }
    if (ok == 1 && ciphers) ok = SSL_CTX_set_cipher_list(ctx, ciphers);
    if (ok != 1) { SSL_CTX_free(ctx); return NULL; }
    return ctx;
}

/* A connection on `fd`, sending `sni` (may be NULL) and checking the
 * certificate against `name` (a host name) or `ip` (an address text). */
static inline SSL *ctls_connection(SSL_CTX *ctx, int fd, const char *sni, const char *name, const char *ip) {
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL) return NULL;
    if (SSL_set_fd(ssl, fd) != 1
        || (sni && SSL_set_tlsext_host_name(ssl, sni) != 1)
        || (name && SSL_set1_host(ssl, name) != 1)
        || (ip && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip) != 1)) {
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

static inline const char *ctls_cipher(const SSL *ssl) {
    return SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
}

/* 1 when the peer sent a certificate that chains to a trusted CA, is valid
 * now, and matches the expected name; else 0 and `reason` says why. */
static inline int ctls_verified(const SSL *ssl, const char **reason) {
    X509 *peer = SSL_get1_peer_certificate(ssl);
    if (peer == NULL) { *reason = "no certificate"; return 0; }
    X509_free(peer);
    long result = SSL_get_verify_result(ssl);
    if (result != X509_V_OK) { *reason = X509_verify_cert_error_string(result); return 0; }
    return 1;
}

/* The last OpenSSL error as text, for diagnostics (never secrets). */
static inline void ctls_last_error(char *buffer, size_t size) {
    unsigned long code = ERR_get_error();
    if (code == 0) { strncpy(buffer, "no detail", size); buffer[size - 1] = 0; }
    else ERR_error_string_n(code, buffer, size);
    ERR_clear_error();
}

/* HMAC-MD5 for CRAM-MD5 (RFC 2195); `out` holds 16 bytes. */
static inline int ctls_hmac_md5(const unsigned char *key, int key_length,
                                const unsigned char *data, size_t data_length, unsigned char *out) {
    unsigned int length = 0;
    return HMAC(EVP_md5(), key, key_length, data, data_length, out, &length) != NULL && length == 16;
}

#endif
