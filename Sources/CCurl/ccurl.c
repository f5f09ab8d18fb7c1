/* CCurl: libcurl (libcurl.so.4) through dlopen. The functions used are
 * looked up once (pthread_once); curl/curl.h gives the types and constants,
 * nothing is linked. */
#include "ccurl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

static CURLcode (*p_curl_global_init)(long);
static CURL *(*p_curl_easy_init)(void);
static CURLcode (*p_curl_easy_setopt)(CURL *, CURLoption, ...);
static CURLcode (*p_curl_easy_perform)(CURL *);
static CURLcode (*p_curl_easy_getinfo)(CURL *, CURLINFO, ...);
static void (*p_curl_easy_cleanup)(CURL *);
static const char *(*p_curl_easy_strerror)(CURLcode);
static struct curl_slist *(*p_curl_slist_append)(struct curl_slist *, const char *);
static void (*p_curl_slist_free_all)(struct curl_slist *);

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int loaded = 0;
static char load_problem[128] = "libcurl is not loaded";

static void load(void) {
    void *curl = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (curl == NULL) {
        snprintf(load_problem, sizeof load_problem, "libcurl (libcurl.so.4) cannot be loaded");
        return;
    }
#define CCURL_LOOKUP(name) \
    if ((*(void **)&p_##name = dlsym(curl, #name)) == NULL) { \
        snprintf(load_problem, sizeof load_problem, "libcurl lacks %s", #name); \
        return; \
    }
    CCURL_LOOKUP(curl_global_init)
    CCURL_LOOKUP(curl_easy_init)
    CCURL_LOOKUP(curl_easy_setopt)
    CCURL_LOOKUP(curl_easy_perform)
    CCURL_LOOKUP(curl_easy_getinfo)
    CCURL_LOOKUP(curl_easy_cleanup)
    CCURL_LOOKUP(curl_easy_strerror)
    CCURL_LOOKUP(curl_slist_append)
    CCURL_LOOKUP(curl_slist_free_all)
    if (p_curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(load_problem, sizeof load_problem, "libcurl could not be initialised");
        return;
    }
    loaded = 1;
}

struct sink {
    unsigned char *buffer;
    size_t max;
    size_t length;
    int too_large;
};

static size_t take(char *data, size_t size, size_t count, void *context) {
    struct sink *sink = context;
    size_t bytes = size * count;
    if (bytes > sink->max - sink->length) {
        sink->too_large = 1;
        return 0; /* stops the transfer */
    }
    memcpy(sink->buffer + sink->length, data, bytes);
    sink->length += bytes;
    return bytes;
}

int ccurl_get(const char *url, const char *resolve, const char *ca_file, long timeout, long connect_timeout,
              unsigned char *buffer, size_t max_bytes, size_t *length, ccurl_response *response) {
    memset(response, 0, sizeof *response);
    *length = 0;
    pthread_once(&load_once, load);
    if (!loaded) {
        snprintf(response->error, sizeof response->error, "%s", load_problem);
        return 0;
    }
    CURL *curl = p_curl_easy_init();
    if (curl == NULL) {
        snprintf(response->error, sizeof response->error, "libcurl could not start a transfer");
        return 0;
    }
    struct curl_slist *addresses = resolve ? p_curl_slist_append(NULL, resolve) : NULL;
    struct sink sink = {buffer, max_bytes, 0, 0};
    char problem[CURL_ERROR_SIZE] = "";
    CURLcode set = CURLE_OK;
#define CCURL_SET(option, value) \
    if (set == CURLE_OK) set = p_curl_easy_setopt(curl, option, value)
    CCURL_SET(CURLOPT_URL, url);
    CCURL_SET(CURLOPT_PROTOCOLS_STR, "https");
    CCURL_SET(CURLOPT_FOLLOWLOCATION, 0L);
    CCURL_SET(CURLOPT_NOSIGNAL, 1L);
    CCURL_SET(CURLOPT_NOPROXY, "*");
    CCURL_SET(CURLOPT_SSL_VERIFYPEER, 1L);
    CCURL_SET(CURLOPT_SSL_VERIFYHOST, 2L);
    CCURL_SET(CURLOPT_TIMEOUT, timeout);
    CCURL_SET(CURLOPT_CONNECTTIMEOUT, connect_timeout);
    CCURL_SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_bytes);
    CCURL_SET(CURLOPT_USERAGENT, "qmail-remote (MTA-STS)");
    CCURL_SET(CURLOPT_WRITEFUNCTION, take);
    CCURL_SET(CURLOPT_WRITEDATA, &sink);
    CCURL_SET(CURLOPT_ERRORBUFFER, problem);
    if (addresses) CCURL_SET(CURLOPT_RESOLVE, addresses);
    if (ca_file) CCURL_SET(CURLOPT_CAINFO, ca_file);
    int result = 0;
    if (set != CURLE_OK) {
        snprintf(response->error, sizeof response->error, "%s", p_curl_easy_strerror(set));
    } else {
        CURLcode done = p_curl_easy_perform(curl);
        long status = 0;
        char *type = NULL;
        (void)p_curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        (void)p_curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
        response->status = status;
        if (type) snprintf(response->content_type, sizeof response->content_type, "%s", type);
        response->too_large = sink.too_large || done == CURLE_FILESIZE_EXCEEDED;
        if (done == CURLE_OK) {
            result = 1;
        } else {
            snprintf(response->error, sizeof response->error, "%s", problem[0] ? problem : p_curl_easy_strerror(done));
        }
    }
    *length = sink.length;
    p_curl_easy_cleanup(curl);
    if (addresses) p_curl_slist_free_all(addresses);
    return result;
}
