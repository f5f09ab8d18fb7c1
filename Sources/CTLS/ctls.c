/* CTLS: the TLS client on OpenSSL 3, linked in, and the DKIM signature
 * (a private key, SHA-256). qmail-remote links libssl and libcrypto
 * statically (a static executable: their pages are mapped only when a
 * delivery uses TLS or signs, and no dlopen, which a static glibc program
 * cannot do safely); the gateway links them as shared libraries. */

/* DKIM signs with RSA_sign and SHA256_Init & co., which OpenSSL 3 deprecates
 * but keeps: they call its constant-time RSA and SHA-NI code directly, where
 * the EVP calls would first fetch implementations from its default provider
 * (some 3 million instructions on a process's first fetch). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "ctls.h"

#include <errno.h>
#include <pthread.h>
#include <sys/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define CTLS_FUNCTIONS(X) \
    X(ssl, int, OPENSSL_init_ssl, (uint64_t, const OPENSSL_INIT_SETTINGS *)) \
    X(crypto, int, OPENSSL_init_crypto, (uint64_t, const OPENSSL_INIT_SETTINGS *)) \
    X(ssl, const SSL_METHOD *, TLS_client_method, (void)) \
    X(ssl, SSL_CTX *, SSL_CTX_new, (const SSL_METHOD *)) \
    X(ssl, void, SSL_CTX_free, (SSL_CTX *)) \
    X(ssl, void, SSL_CTX_set_verify, (SSL_CTX *, int, SSL_verify_cb)) \
    X(ssl, uint64_t, SSL_CTX_set_options, (SSL_CTX *, uint64_t)) \
    X(ssl, int, SSL_CTX_load_verify_locations, (SSL_CTX *, const char *, const char *)) \
    X(ssl, int, SSL_CTX_set_default_verify_paths, (SSL_CTX *)) \
    X(ssl, int, SSL_CTX_use_certificate_chain_file, (SSL_CTX *, const char *)) \
    X(ssl, int, SSL_CTX_use_PrivateKey_file, (SSL_CTX *, const char *, int)) \
    X(ssl, int, SSL_CTX_check_private_key, (const SSL_CTX *)) \
    X(ssl, int, SSL_CTX_set_cipher_list, (SSL_CTX *, const char *)) \
    X(ssl, SSL *, SSL_new, (SSL_CTX *)) \
    X(ssl, void, SSL_free, (SSL *)) \
    X(ssl, int, SSL_set_fd, (SSL *, int)) \
    X(ssl, long, SSL_ctrl, (SSL *, int, long, void *)) \
    X(ssl, int, SSL_set1_host, (SSL *, const char *)) \
    X(ssl, X509_VERIFY_PARAM *, SSL_get0_param, (SSL *)) \
    X(ssl, int, SSL_connect, (SSL *)) \
    X(ssl, int, SSL_read, (SSL *, void *, int)) \
    X(ssl, int, SSL_write, (SSL *, const void *, int)) \
    X(ssl, int, SSL_pending, (const SSL *)) \
    X(ssl, int, SSL_shutdown, (SSL *)) \
    X(ssl, int, SSL_get_error, (const SSL *, int)) \
    X(ssl, const char *, SSL_get_version, (const SSL *)) \
    X(ssl, const SSL_CIPHER *, SSL_get_current_cipher, (const SSL *)) \
    X(ssl, const char *, SSL_CIPHER_get_name, (const SSL_CIPHER *)) \
    X(ssl, X509 *, SSL_get1_peer_certificate, (const SSL *)) \
    X(ssl, long, SSL_get_verify_result, (const SSL *)) \
    X(ssl, int, SSL_CTX_dane_enable, (SSL_CTX *)) \
    X(ssl, int, SSL_dane_enable, (SSL *, const char *)) \
    X(ssl, unsigned long, SSL_dane_set_flags, (SSL *, unsigned long)) \
    X(ssl, int, SSL_dane_tlsa_add, (SSL *, uint8_t, uint8_t, uint8_t, const unsigned char *, size_t)) \
    X(ssl, int, SSL_get0_dane_tlsa, (SSL *, uint8_t *, uint8_t *, uint8_t *, const unsigned char **, size_t *)) \
    X(crypto, int, X509_VERIFY_PARAM_set1_ip_asc, (X509_VERIFY_PARAM *, const char *)) \
    X(crypto, void, X509_free, (X509 *)) \
    X(crypto, const char *, X509_verify_cert_error_string, (long)) \
    X(crypto, unsigned long, ERR_get_error, (void)) \
    X(crypto, void, ERR_error_string_n, (unsigned long, char *, size_t)) \
    X(crypto, void, ERR_clear_error, (void)) \
    X(crypto, const EVP_MD *, EVP_md5, (void)) \
    X(crypto, unsigned char *, HMAC, (const EVP_MD *, const void *, int, const unsigned char *, size_t, \
                                      unsigned char *, unsigned int *)) \
    X(crypto, int, RAND_set_rand_method, (const RAND_METHOD *)) \
    X(crypto, RSA *, d2i_RSAPrivateKey, (RSA **, const unsigned char **, long)) \
    X(crypto, void, RSA_free, (RSA *)) \
    X(crypto, int, RSA_size, (const RSA *)) \
    X(crypto, int, RSA_sign, (int, const unsigned char *, unsigned int, unsigned char *, unsigned int *, RSA *)) \
    X(crypto, int, RSA_verify, (int, const unsigned char *, unsigned int, const unsigned char *, unsigned int, RSA *)) \
    X(crypto, EVP_PKEY *, EVP_PKEY_new_raw_private_key, (int, ENGINE *, const unsigned char *, size_t)) \
    X(crypto, void, EVP_PKEY_free, (EVP_PKEY *)) \
    X(crypto, EVP_MD_CTX *, EVP_MD_CTX_new, (void)) \
    X(crypto, void, EVP_MD_CTX_free, (EVP_MD_CTX *)) \
    X(crypto, int, EVP_DigestSignInit, (EVP_MD_CTX *, EVP_PKEY_CTX **, const EVP_MD *, ENGINE *, EVP_PKEY *)) \
    X(crypto, int, EVP_DigestSign, (EVP_MD_CTX *, unsigned char *, size_t *, const unsigned char *, size_t)) \
    X(crypto, int, SHA256_Init, (SHA256_CTX *)) \
    X(crypto, int, SHA256_Update, (SHA256_CTX *, const void *, size_t)) \
    X(crypto, int, SHA256_Final, (unsigned char *, SHA256_CTX *))

/* The OpenSSL functions CTLS uses, listed once above (p_name is name): all
 * of its dependence on OpenSSL in one place. */
#define CTLS_POINTER(library, result, name, parameters) static result (*const p_##name) parameters = name;
CTLS_FUNCTIONS(CTLS_POINTER)

struct ctls_connection { SSL *ssl; };

/* _DYNAMIC exists in a dynamically linked program only. A static one
 * (qmail-remote) must never dlopen (that would map a second libc), so it
 * keeps OpenSSL from reading openssl.cnf, which may name provider modules to
 * load; the gateway reads it as any OpenSSL program does. */
extern const char _DYNAMIC[] __attribute__((weak));

/* The kernel's random bytes, for the static command (below). */
static int kernel_random(unsigned char *buffer, int count) {
    while (count > 0) {
        ssize_t got = getrandom(buffer, (size_t)count, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return 0;
        buffer += got;
        count -= (int)got;
    }
    return 1;
}

static int kernel_random_ready(void) { return 1; }

static const RAND_METHOD kernel_random_method = {
    .bytes = kernel_random, .pseudorand = kernel_random, .status = kernel_random_ready};

/* What a static command sets before its first use of libcrypto: no
 * openssl.cnf, no clean-up at exit (it exits right after its one delivery),
 * and its few random bytes (TLS randoms and key shares, RSA blinding) straight
 * from getrandom(2): OpenSSL's DRBG would first fetch and seed itself, some 8
 * million instructions, in every run. */
static void init_crypto(void) {
    if (_DYNAMIC != NULL) return;
    p_OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT, NULL);
    p_RAND_set_rand_method(&kernel_random_method);
}

/* Before the first use of libcrypto alone (signing). */
static void crypto_ready(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_crypto);
}

static void init(void) {
    crypto_ready();
    if (_DYNAMIC == NULL) p_OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
}

/* Before the first use of OpenSSL for TLS. */
static void ready(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init);
}

ctls_context *ctls_context_new(const char *ca_file, const char *client_pem, const char *ciphers, int dane) {
    ready();
    SSL_CTX *ctx = p_SSL_CTX_new(p_TLS_client_method());
    if (ctx == NULL) return NULL;
    p_SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    p_SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    /* DANE-TA(2) and DANE-EE(3) need no CA store: the records are the trust. */
    int ok = dane ? p_SSL_CTX_dane_enable(ctx) > 0
        : ca_file ? p_SSL_CTX_load_verify_locations(ctx, ca_file, NULL) : p_SSL_CTX_set_default_verify_paths(ctx);
    if (ok == 1 && client_pem) {
        ok = p_SSL_CTX_use_certificate_chain_file(ctx, client_pem) == 1
          && p_SSL_CTX_use_PrivateKey_file(ctx, client_pem, SSL_FILETYPE_PEM) == 1
          && p_SSL_CTX_check_private_key(ctx) == 1;
    }
    if (ok == 1 && ciphers) ok = p_SSL_CTX_set_cipher_list(ctx, ciphers);
    if (ok != 1) { p_SSL_CTX_free(ctx); return NULL; }
    return (ctls_context *)ctx;
}

void ctls_context_free(ctls_context *context) {
    if (context) p_SSL_CTX_free((SSL_CTX *)context);
}

/* DANE on `ssl`: the base domain as the reference identifier (for
 * DANE-TA), no name check for DANE-EE, and the usable records. 1 when at
 * least one record was taken. */
static int add_tlsa(SSL *ssl, const char *name, const ctls_tlsa *records, int count) {
    if (name == NULL || p_SSL_dane_enable(ssl, name) <= 0) return 0;
    (void)p_SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
    int usable = 0;
    for (int i = 0; i < count; i++) {
        if (p_SSL_dane_tlsa_add(ssl, records[i].usage, records[i].selector, records[i].matching, records[i].data,
                                records[i].length) > 0)
            usable++;
    }
    return usable > 0;
}

ctls_connection *ctls_connection_new(ctls_context *context, int fd, const char *sni, const char *name, const char *ip,
                                     const ctls_tlsa *records, int count) {
    ready();
    SSL *ssl = p_SSL_new((SSL_CTX *)context);
    if (ssl == NULL) return NULL;
    if (p_SSL_set_fd(ssl, fd) != 1
        || (sni && p_SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (void *)sni) != 1)
        || (count > 0 && !add_tlsa(ssl, name, records, count))
        || (count == 0 && name && p_SSL_set1_host(ssl, name) != 1)
        || (ip && p_X509_VERIFY_PARAM_set1_ip_asc(p_SSL_get0_param(ssl), ip) != 1)) {
        p_SSL_free(ssl);
        return NULL;
    }
    struct ctls_connection *connection = malloc(sizeof *connection);
    if (connection == NULL) { p_SSL_free(ssl); return NULL; }
    connection->ssl = ssl;
    return connection;
}

/* OpenSSL's outcome of an I/O call as ours. A blocking socket whose
 * SO_RCVTIMEO/SO_SNDTIMEO passed makes OpenSSL say WANT_READ/WANT_WRITE. */
static int outcome(SSL *ssl, int result) {
    switch (p_SSL_get_error(ssl, result)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: return CTLS_TIMED_OUT;
    case SSL_ERROR_ZERO_RETURN: return CTLS_CLOSED;
    case SSL_ERROR_SYSCALL: return errno == 0 ? CTLS_CLOSED : CTLS_ERROR;
    default: return CTLS_ERROR;
    }
}

int ctls_handshake(ctls_connection *connection) {
    int result = p_SSL_connect(connection->ssl);
    return result == 1 ? 1 : outcome(connection->ssl, result);
}

int ctls_read(ctls_connection *connection, void *buffer, int size) {
    errno = 0;
    int result = p_SSL_read(connection->ssl, buffer, size);
    return result > 0 ? result : outcome(connection->ssl, result);
}

int ctls_write(ctls_connection *connection, const void *buffer, int size) {
    errno = 0;
    int result = p_SSL_write(connection->ssl, buffer, size);
    return result > 0 ? result : outcome(connection->ssl, result);
}

int ctls_pending(ctls_connection *connection) { return p_SSL_pending(connection->ssl); }

void ctls_shutdown(ctls_connection *connection) {
    /* One close_notify out; the peer's is not waited for (RFC 8446 6.1). */
    errno = 0;
    (void)p_SSL_shutdown(connection->ssl);
    p_ERR_clear_error();
}

void ctls_connection_free(ctls_connection *connection) {
    if (connection == NULL) return;
    p_SSL_free(connection->ssl);
    free(connection);
}

const char *ctls_version(ctls_connection *connection) { return p_SSL_get_version(connection->ssl); }

const char *ctls_cipher(ctls_connection *connection) {
    return p_SSL_CIPHER_get_name(p_SSL_get_current_cipher(connection->ssl));
}

int ctls_verified(ctls_connection *connection, const char **reason) {
    X509 *peer = p_SSL_get1_peer_certificate(connection->ssl);
    if (peer == NULL) { *reason = "no certificate"; return 0; }
    p_X509_free(peer);
    long result = p_SSL_get_verify_result(connection->ssl);
    if (result != X509_V_OK) { *reason = p_X509_verify_cert_error_string(result); return 0; }
    return 1;
}

int ctls_dane_matched(ctls_connection *connection, ctls_tlsa *record) {
    uint8_t usage = 0, selector = 0, matching = 0;
    const unsigned char *data = NULL;
    size_t length = 0;
    int index = p_SSL_get0_dane_tlsa(connection->ssl, &usage, &selector, &matching, &data, &length);
    if (index < 0 || data == NULL) return -1;
    record->usage = usage;
    record->selector = selector;
    record->matching = matching;
    record->data = data;
    record->length = length;
    return index;
}

void ctls_last_error(char *buffer, size_t size) {
    unsigned long code = p_ERR_get_error();
    if (code == 0) snprintf(buffer, size, "no detail");
    else p_ERR_error_string_n(code, buffer, size);
    p_ERR_clear_error();
}

int ctls_hmac_md5(const unsigned char *key, int key_length, const unsigned char *data, size_t data_length,
                  unsigned char *out) {
    ready();
    unsigned int length = 0;
    return p_HMAC(p_EVP_md5(), key, key_length, data, data_length, out, &length) != NULL && length == 16;
}

/* DKIM (RFC 6376, RFC 8463): a private key and the signature of a SHA-256
 * digest. The key is read-only once made, so threads may share it (OpenSSL
 * guards RSA blinding with a lock of its own). */

struct ctls_signing_key {
    RSA *rsa;
    EVP_PKEY *ed25519;
};

ctls_signing_key *ctls_signing_key_new(int algorithm, const unsigned char *bytes, size_t length) {
    crypto_ready();
    struct ctls_signing_key *key = calloc(1, sizeof *key);
    if (key == NULL) return NULL;
    if (algorithm == CTLS_SIGNING_RSA) {
        const unsigned char *cursor = bytes;
        key->rsa = p_d2i_RSAPrivateKey(NULL, &cursor, (long)length);
        if (key->rsa != NULL && cursor != bytes + length) { p_RSA_free(key->rsa); key->rsa = NULL; }
    } else if (algorithm == CTLS_SIGNING_ED25519 && length == 32) {
        key->ed25519 = p_EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, bytes, length);
    }
    if (key->rsa == NULL && key->ed25519 == NULL) { free(key); return NULL; }
    return key;
}

void ctls_signing_key_free(ctls_signing_key *key) {
    if (key == NULL) return;
    if (key->rsa) p_RSA_free(key->rsa);
    if (key->ed25519) p_EVP_PKEY_free(key->ed25519);
    free(key);
}

size_t ctls_sign(ctls_signing_key *key, const unsigned char *digest, unsigned char *signature, size_t size) {
    if (key->rsa != NULL) {
        unsigned int length = 0;
        if ((size_t)p_RSA_size(key->rsa) > size
            || p_RSA_sign(NID_sha256, digest, 32, signature, &length, key->rsa) != 1)
            return 0;
        /* A key whose parts do not belong together signs without complaint:
         * what goes out must verify with its public half. */
        return p_RSA_verify(NID_sha256, digest, 32, signature, length, key->rsa) == 1 ? length : 0;
    }
    EVP_MD_CTX *context = p_EVP_MD_CTX_new();
    size_t length = size;
    int ok = context != NULL && p_EVP_DigestSignInit(context, NULL, NULL, NULL, key->ed25519) == 1
          && p_EVP_DigestSign(context, signature, &length, digest, 32) == 1;
    p_EVP_MD_CTX_free(context);
    return ok ? length : 0;
}

struct ctls_sha256 { SHA256_CTX context; };

ctls_sha256 *ctls_sha256_new(void) {
    struct ctls_sha256 *hash = malloc(sizeof *hash);
    if (hash != NULL && p_SHA256_Init(&hash->context) != 1) { free(hash); return NULL; }
    return hash;
}

void ctls_sha256_update(ctls_sha256 *hash, const void *bytes, size_t length) {
    if (length > 0) p_SHA256_Update(&hash->context, bytes, length);
}

void ctls_sha256_finish(ctls_sha256 *hash, unsigned char *digest) { p_SHA256_Final(digest, &hash->context); }

void ctls_sha256_free(ctls_sha256 *hash) { free(hash); }
