/* CResolv: glibc's resolver (res_nquery, ns_parserr) for the delivery core.
 * The few fields Swift cannot reach (the res_state's name-server list and
 * option bits, h_errno kept in the state, the header's AD bit) are set and
 * read through these inline functions; everything else is called directly
 * from Swift. */
#ifndef CRESOLV_SHIM_H
#define CRESOLV_SHIM_H

#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <netdb.h>
#include <string.h>
#include <stdlib.h>

/* A private resolver state, one per lookup (never shared between threads). */
static inline struct __res_state *cresolv_open(void) {
    struct __res_state *st = calloc(1, sizeof(struct __res_state));
    if (st == NULL) return NULL;
    if (res_ninit(st) != 0) { free(st); return NULL; }
    return st;
}

static inline void cresolv_close(struct __res_state *st) {
    res_nclose(st);
    free(st);
}

/* Use exactly these IPv4 servers (address and port in network order) and no
 * search list. At most MAXNS are taken. */
static inline void cresolv_use_servers(struct __res_state *st,
                                       const uint32_t *addrs, const uint16_t *ports,
                                       int count) {
    if (count > MAXNS) count = MAXNS;
    for (int i = 0; i < count; i++) {
        memset(&st->nsaddr_list[i], 0, sizeof(st->nsaddr_list[i]));
        st->nsaddr_list[i].sin_family = AF_INET;
        st->nsaddr_list[i].sin_addr.s_addr = addrs[i];
        st->nsaddr_list[i].sin_port = ports[i];
    }
    st->nscount = count;
    for (int i = 0; i < MAXNS; i++) st->_u._ext.nsaddrs[i] = NULL;
    st->_u._ext.nscount = 0;
    st->options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
}

/* Never apply the search list or the default domain to a lookup. */
static inline void cresolv_no_search(struct __res_state *st) {
    st->options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
}

/* DNSSEC for DANE: EDNS0 with the DO bit, and the resolver's AD bit kept in
 * answers (glibc clears it unless trust-ad is on). */
static inline void cresolv_dnssec(struct __res_state *st) {
    st->options |= RES_USE_EDNS0 | RES_USE_DNSSEC;
#ifdef RES_TRUSTAD
    st->options |= RES_TRUSTAD;
#endif
}

/* 1 when the answer's header has the AD (authentic data) bit. The header
 * is there also when res_nquery returned -1 for NXDOMAIN or no data. */
static inline int cresolv_authenticated(const unsigned char *msg, int len) {
    return len >= 12 && (msg[3] & 0x20) != 0;
}

static inline int cresolv_h_errno(const struct __res_state *st) {
    return st->res_h_errno;
}

/* Parses an answer; returns the number of answer records, or -1. */
static inline int cresolv_answer_count(const unsigned char *msg, int len, ns_msg *handle) {
    if (ns_initparse(msg, len, handle) < 0) return -1;
    return ns_msg_count(*handle, ns_s_an);
}

static inline int cresolv_answer(ns_msg *handle, int index, ns_rr *rr) {
    return ns_parserr(handle, ns_s_an, index, rr);
}

/* Expands a (possibly compressed) name found at `at` inside the message. */
static inline int cresolv_expand(const ns_msg *handle, const unsigned char *at, char *out, int size) {
    return dn_expand(ns_msg_base(*handle), ns_msg_end(*handle), at, out, size);
}

#endif
