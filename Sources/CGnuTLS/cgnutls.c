/* See include/cgnutls.h. */
#include "cgnutls.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CGNUTLS_MAX_CHAIN 16

struct cgnutls_identity {
    gnutls_pcert_st certificates[CGNUTLS_MAX_CHAIN];
    unsigned int count;
    gnutls_privkey_t key;
};

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static cgnutls_identity *current = NULL;

static void say(char *error, size_t length, const char *what, int code) {
    if (error == NULL || length == 0) return;
    if (code < 0)
        snprintf(error, length, "%s: %s", what, gnutls_strerror(code));
    else
        snprintf(error, length, "%s", what);
}

cgnutls_identity *cgnutls_identity_load(const void *chain, size_t chain_length, const void *key,
                                        size_t key_length, char *error, size_t error_length) {
    gnutls_datum_t chain_data = {(unsigned char *)chain, (unsigned int)chain_length};
    gnutls_datum_t key_data = {(unsigned char *)key, (unsigned int)key_length};
    /* A throw-away credential checks that key and certificate belong together. */
    gnutls_certificate_credentials_t check;
    if (gnutls_certificate_allocate_credentials(&check) < 0) {
        say(error, error_length, "out of memory", 0);
        return NULL;
    }
    int result = gnutls_certificate_set_x509_key_mem2(check, &chain_data, &key_data, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_certificate_free_credentials(check);
    if (result < 0) {
        say(error, error_length, "the certificate and key cannot be used together", result);
        return NULL;
    }
    cgnutls_identity *identity = calloc(1, sizeof *identity);
    if (identity == NULL) {
        say(error, error_length, "out of memory", 0);
        return NULL;
    }
    identity->count = CGNUTLS_MAX_CHAIN;
    result = gnutls_pcert_list_import_x509_raw(identity->certificates, &identity->count, &chain_data,
                                               GNUTLS_X509_FMT_PEM, 0);
    if (result < 0) {
        say(error, error_length, "the certificate chain cannot be read", result);
        free(identity);
        return NULL;
    }
    if ((result = gnutls_privkey_init(&identity->key)) < 0 ||
        (result = gnutls_privkey_import_x509_raw(identity->key, &key_data, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        say(error, error_length, "the key cannot be read", result);
        if (identity->key != NULL) gnutls_privkey_deinit(identity->key);
        for (unsigned int i = 0; i < identity->count; i++) gnutls_pcert_deinit(&identity->certificates[i]);
        free(identity);
        return NULL;
    }
    return identity;
}

void cgnutls_identity_free(cgnutls_identity *identity) {
    if (identity == NULL) return;
    gnutls_privkey_deinit(identity->key);
    for (unsigned int i = 0; i < identity->count; i++) gnutls_pcert_deinit(&identity->certificates[i]);
    free(identity);
}

cgnutls_identity *cgnutls_identity_install(cgnutls_identity *identity) {
    pthread_mutex_lock(&current_lock);
    cgnutls_identity *previous = current;
    current = identity;
    pthread_mutex_unlock(&current_lock);
    return previous;
}

static int retrieve(gnutls_session_t session, const gnutls_datum_t *requested_cas, int requested_count,
                    const gnutls_pk_algorithm_t *algorithms, int algorithm_count, gnutls_pcert_st **certificates,
                    unsigned int *count, gnutls_privkey_t *key) {
    (void)session, (void)requested_cas, (void)requested_count, (void)algorithms, (void)algorithm_count;
    pthread_mutex_lock(&current_lock);
    cgnutls_identity *identity = current;
    pthread_mutex_unlock(&current_lock);
    if (identity == NULL) return -1;
    *certificates = identity->certificates;
    *count = identity->count;
    *key = identity->key;
    return 0;
}

void *cgnutls_retrieve_function(void) { return (void *)&retrieve; }

int cgnutls_peer_subject(void *opaque, char *subject, size_t subject_length) {
    gnutls_session_t session = opaque;
    unsigned int count = 0;
    const gnutls_datum_t *certificates = gnutls_certificate_get_peers(session, &count);
    if (certificates == NULL || count == 0) return 0;
    gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};
    unsigned int status = 0;
    int result = gnutls_certificate_verify_peers(session, &purpose, 1, &status);
    if (result < 0 || status != 0) {
        gnutls_datum_t text = {NULL, 0};
        if (result >= 0 && gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) >= 0) {
            snprintf(subject, subject_length, "%s", (const char *)text.data);
            gnutls_free(text.data);
        } else {
            say(subject, subject_length, "the certificate could not be checked", result);
        }
        return -1;
    }
    gnutls_x509_crt_t certificate;
    if (gnutls_x509_crt_init(&certificate) < 0) return -1;
    gnutls_datum_t name = {NULL, 0};
    int found = -1;
    if (gnutls_x509_crt_import(certificate, &certificates[0], GNUTLS_X509_FMT_DER) >= 0 &&
        gnutls_x509_crt_get_dn3(certificate, &name, 0) >= 0) {
        if (name.size < subject_length) {
            memcpy(subject, name.data, name.size);
            subject[name.size] = 0;
            found = 1;
        } else {
            say(subject, subject_length, "the certificate's subject is too long", 0);
        }
        gnutls_free(name.data);
    }
    gnutls_x509_crt_deinit(certificate);
    return found;
}

long cgnutls_send(void *session, const void *bytes, size_t length) {
    return (long)gnutls_record_send((gnutls_session_t)session, bytes, length);
}

long cgnutls_probe(int fd, const void *request, size_t request_length, void *reply, size_t reply_length) {
    gnutls_certificate_credentials_t credentials;
    gnutls_session_t session;
    if (gnutls_certificate_allocate_credentials(&credentials) < 0) return -1;
    if (gnutls_init(&session, GNUTLS_CLIENT) < 0) {
        gnutls_certificate_free_credentials(credentials);
        return -1;
    }
    long got = -1;
    if (gnutls_set_default_priority(session) >= 0 &&
        gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, credentials) >= 0) {
        gnutls_transport_set_int(session, fd);
        gnutls_handshake_set_timeout(session, 5000);
        gnutls_record_set_timeout(session, 5000);
        int result;
        do result = gnutls_handshake(session);
        while (result == GNUTLS_E_INTERRUPTED);
        if (result >= 0 && gnutls_record_send(session, request, request_length) == (ssize_t)request_length) {
            size_t total = 0;
            while (total < reply_length) {
                ssize_t count = gnutls_record_recv(session, (char *)reply + total, reply_length - total);
                if (count == GNUTLS_E_INTERRUPTED) continue;
                if (count <= 0) break;
                total += (size_t)count;
            }
            got = (long)total;
            gnutls_bye(session, GNUTLS_SHUT_WR);
        }
    }
    gnutls_deinit(session);
    gnutls_certificate_free_credentials(credentials);
    return got;
}
