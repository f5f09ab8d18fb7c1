/* CDKIM: libopendkim through dlopen. Each function used is looked up once
 * (pthread_once) from libopendkim.so.11; its header gives the types and
 * constants, nothing is linked. One library handle serves every thread:
 * its options are set once, before any signer exists. */
#include "cdkim.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <opendkim/dkim.h>

#define CDKIM_FUNCTIONS(X) \
    X(DKIM_LIB *, dkim_init, (void *(*)(void *, size_t), void (*)(void *, void *))) \
    X(DKIM_STAT, dkim_options, (DKIM_LIB *, int, dkim_opts_t, void *, size_t)) \
    X(_Bool, dkim_libfeature, (DKIM_LIB *, u_int)) \
    X(DKIM *, dkim_sign, (DKIM_LIB *, const unsigned char *, void *, const dkim_sigkey_t, const unsigned char *, \
                          const unsigned char *, dkim_canon_t, dkim_canon_t, dkim_alg_t, ssize_t, DKIM_STAT *)) \
    X(DKIM_STAT, dkim_privkey_load, (DKIM *)) \
    X(DKIM_STAT, dkim_header, (DKIM *, u_char *, size_t)) \
    X(DKIM_STAT, dkim_eoh, (DKIM *)) \
    X(DKIM_STAT, dkim_body, (DKIM *, u_char *, size_t)) \
    X(DKIM_STAT, dkim_eom, (DKIM *, _Bool *)) \
    X(DKIM_STAT, dkim_getsighdr_d, (DKIM *, size_t, u_char **, size_t *)) \
    X(DKIM_STAT, dkim_free, (DKIM *)) \
    X(const char *, dkim_geterror, (DKIM *)) \
    X(const char *, dkim_getresultstr, (DKIM_STAT))

#define CDKIM_POINTER(result, name, parameters) static result (*p_##name) parameters;
CDKIM_FUNCTIONS(CDKIM_POINTER)

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static DKIM_LIB *library = NULL;
static int has_ed25519 = 0;
static char load_problem[160] = "libopendkim is not loaded";

/* What is signed when present (RFC 6376 5.4.1 and what receivers look at);
 * '*' is a wildcard. From is also listed once more than it occurs. */
static const char *signed_fields[] = {
    "From", "Sender", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID", "In-Reply-To", "References",
    "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Content-ID", "Content-Description",
    "Resent-Date", "Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc", "Resent-Message-ID", "List-*",
    "Feedback-ID", NULL};
static const char *oversigned_fields[] = {"From", NULL};

static void load(void) {
    void *handle = dlopen("libopendkim.so.11", RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        snprintf(load_problem, sizeof load_problem, "libopendkim (libopendkim.so.11) cannot be loaded");
        return;
    }
#define CDKIM_LOOKUP(result, name, parameters) \
    if ((*(void **)&p_##name = dlsym(handle, #name)) == NULL) { \
        snprintf(load_problem, sizeof load_problem, "libopendkim lacks %s", #name); \
        return; \
    }
    CDKIM_FUNCTIONS(CDKIM_LOOKUP)
    DKIM_LIB *lib = p_dkim_init(NULL, NULL);
    if (lib == NULL) {
        snprintf(load_problem, sizeof load_problem, "libopendkim could not start (dkim_init)");
        return;
    }
    /* Both options take the array itself and check the size of a pointer. */
    if (p_dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, (void *)signed_fields, sizeof(char **))
            != DKIM_STAT_OK
        || p_dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, (void *)oversigned_fields, sizeof(char **))
               != DKIM_STAT_OK) {
        snprintf(load_problem, sizeof load_problem, "libopendkim refused the list of header fields to sign");
        return;
    }
    has_ed25519 = p_dkim_libfeature(lib, DKIM_FEATURE_ED25519);
    library = lib;
}

int cdkim_load(char *problem, size_t size) {
    pthread_once(&load_once, load);
    if (library == NULL) snprintf(problem, size, "%s", load_problem);
    return library != NULL;
}

struct cdkim_signer {
    DKIM *dkim;
};

static void say(char *problem, size_t size, const char *what, DKIM *dkim, DKIM_STAT status) {
    const char *detail = dkim ? p_dkim_geterror(dkim) : NULL;
    if (detail == NULL || detail[0] == '\0') detail = p_dkim_getresultstr(status);
    snprintf(problem, size, "%s: %s", what, detail ? detail : "no detail");
}

cdkim_signer *cdkim_signer_new(const char *key, const char *selector, const char *domain, int algorithm,
                               char *problem, size_t size) {
    if (!cdkim_load(problem, size)) return NULL;
    if (algorithm == CDKIM_ED25519_SHA256 && !has_ed25519) {
        snprintf(problem, size, "this libopendkim cannot sign with Ed25519");
        return NULL;
    }
    DKIM_STAT status = DKIM_STAT_OK;
    dkim_alg_t alg = algorithm == CDKIM_ED25519_SHA256 ? DKIM_SIGN_ED25519SHA256 : DKIM_SIGN_RSASHA256;
    DKIM *dkim = p_dkim_sign(library, (const unsigned char *)"qmail-remote", NULL, (dkim_sigkey_t)key,
                             (const unsigned char *)selector, (const unsigned char *)domain, DKIM_CANON_RELAXED,
                             DKIM_CANON_RELAXED, alg, -1, &status);
    if (dkim == NULL) {
        say(problem, size, "libopendkim refused to start a signature", NULL, status);
        return NULL;
    }
    /* The key is otherwise read only at the end: know now that it works. */
    status = p_dkim_privkey_load(dkim);
    if (status != DKIM_STAT_OK) {
        say(problem, size, "libopendkim cannot use the key", dkim, status);
        p_dkim_free(dkim);
        return NULL;
    }
    cdkim_signer *signer = malloc(sizeof *signer);
    if (signer == NULL) {
        snprintf(problem, size, "out of memory");
        p_dkim_free(dkim);
        return NULL;
    }
    signer->dkim = dkim;
    return signer;
}

int cdkim_header(cdkim_signer *signer, const unsigned char *field, size_t length) {
    return p_dkim_header(signer->dkim, (u_char *)field, length) == DKIM_STAT_OK;
}

int cdkim_end_of_headers(cdkim_signer *signer) { return p_dkim_eoh(signer->dkim) == DKIM_STAT_OK; }

int cdkim_body(cdkim_signer *signer, const unsigned char *bytes, size_t length) {
    return length == 0 || p_dkim_body(signer->dkim, (u_char *)bytes, length) == DKIM_STAT_OK;
}

int cdkim_finish(cdkim_signer *signer, const unsigned char **value, size_t *length, char *problem, size_t size) {
    _Bool testkey = 0;
    DKIM_STAT status = p_dkim_eom(signer->dkim, &testkey);
    if (status != DKIM_STAT_OK) {
        say(problem, size, "libopendkim could not sign", signer->dkim, status);
        return 0;
    }
    u_char *header = NULL;
    status = p_dkim_getsighdr_d(signer->dkim, strlen(DKIM_SIGNHEADER) + 2, &header, length);
    if (status != DKIM_STAT_OK) {
        say(problem, size, "libopendkim could not write the signature", signer->dkim, status);
        return 0;
    }
    *value = header;
    return 1;
}

void cdkim_signer_free(cdkim_signer *signer) {
    if (signer == NULL) return;
    p_dkim_free(signer->dkim);
    free(signer);
}
