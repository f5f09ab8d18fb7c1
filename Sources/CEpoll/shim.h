/* CEpoll: the Linux calls the gateway's Acceptor needs and Swift's Glibc
 * module does not bring (epoll, eventfd, accept4), behind functions with
 * plain arguments: struct epoll_event is packed, and stays on this side. */
#ifndef CEPOLL_SHIM_H
#define CEPOLL_SHIM_H

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

static const uint32_t CEPOLL_IN = EPOLLIN;
static const uint32_t CEPOLL_RDHUP = EPOLLRDHUP;
static const uint32_t CEPOLL_HUP = EPOLLHUP;
static const uint32_t CEPOLL_EDGE = EPOLLET;

/* Declared by <sys/socket.h> only with _GNU_SOURCE, which would make these
 * headers differ from the same headers in the other C modules. */
extern int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);

static inline int cepoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static inline int cepoll_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

/* op: 0 add, 1 modify, 2 delete. */
static inline int cepoll_control(int epoll, int op, int fd, uint32_t events) {
    struct epoll_event event = {.events = events, .data = {.fd = fd}};
    int ops[] = {EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL};
    return epoll_ctl(epoll, ops[op], fd, &event);
}

/* Up to `capacity` ready descriptors and their events; -1 on error. */
static inline int cepoll_wait(int epoll, int *fds, uint32_t *events, int capacity, int timeout_ms) {
    struct epoll_event ready[256];
    if (capacity > 256) capacity = 256;
    int count = epoll_wait(epoll, ready, capacity, timeout_ms);
    for (int i = 0; i < count; i++) {
        fds[i] = ready[i].data.fd;
        events[i] = ready[i].events;
    }
    return count;
}

/* A new connection, non-blocking and close-on-exec. */
static inline int cepoll_accept(int listener, struct sockaddr *address, socklen_t *length) {
    return accept4(listener, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

#endif
