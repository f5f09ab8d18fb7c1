/* CCurl: one HTTPS GET through libcurl, loaded with dlopen on first use, for
 * fetching MTA-STS policies (RFC 8461 section 3.3). Only when a policy must
 * be fetched is libcurl mapped; a delivery without MTA-STS never loads it.
 * The API is ours and narrow; libcurl's types stay behind it. */
#ifndef CCURL_H
#define CCURL_H

#include <stddef.h>

/* What ccurl_get found out besides the body. */
typedef struct ccurl_response {
    long status;            /* the HTTP status code, 0 when none came */
    char content_type[128]; /* the Content-Type header, "" when none */
    int too_large;          /* the body went past max_bytes: it was cut off */
    char error[256];        /* why the transfer failed, when it did */
} ccurl_response;

/* GET `url` over HTTPS only, never following a redirect, connecting to the
 * address `resolve` names ("host:443:address[,address]"; no DNS lookup of
 * its own), checking the server's certificate against `ca_file` (NULL: the
 * system's store) and its name, within `timeout` seconds (`connect_timeout`
 * for the connection). The body goes to `buffer` (at most `max_bytes`),
 * its length to `*length`. Returns 1 when a response came (any status),
 * 0 when not (then `response->error` says why). */
int ccurl_get(const char *url, const char *resolve, const char *ca_file, long timeout, long connect_timeout,
              unsigned char *buffer, size_t max_bytes, size_t *length, ccurl_response *response);

#endif
