/* CMicroHTTPD: libmicrohttpd for the gateway. MHD_start_daemon is variadic,
 * which Swift cannot call, so cmhd_start passes the few options the gateway
 * uses; everything else is called directly from Swift. */
#ifndef CMICROHTTPD_SHIM_H
#define CMICROHTTPD_SHIM_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <microhttpd.h>

/* Receives each libmicrohttpd error message, already formatted. */
typedef void (*cmhd_log_sink)(void *cls, const char *message);

struct cmhd_logger {
    cmhd_log_sink sink;
    void *cls;
};

static inline void cmhd_format_log(void *cls, const char *format, va_list arguments) {
    struct cmhd_logger *logger = cls;
    char line[512];
    vsnprintf(line, sizeof line, format, arguments);
    logger->sink(logger->cls, line);
}

static inline struct MHD_Daemon *cmhd_start(unsigned int flags,
                                            MHD_AccessHandlerCallback handler,
                                            MHD_RequestCompletedCallback completed,
                                            cmhd_log_sink log_sink,
                                            void *cls,
                                            const struct sockaddr *address,
                                            unsigned int connection_limit,
                                            unsigned int idle_timeout_seconds,
                                            unsigned int listen_backlog,
                                            size_t thread_stack_size) {
    /* Lives as long as the process: one per daemon, and a daemon is started once. */
    struct cmhd_logger *logger = malloc(sizeof *logger);
    if (logger == NULL) return NULL;
    logger->sink = log_sink;
    logger->cls = cls;
    return MHD_start_daemon(flags | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, cls,
                            MHD_OPTION_EXTERNAL_LOGGER, cmhd_format_log, logger,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, cls,
                            MHD_OPTION_SOCK_ADDR, address,
                            MHD_OPTION_CONNECTION_LIMIT, connection_limit,
                            MHD_OPTION_CONNECTION_TIMEOUT, idle_timeout_seconds,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, listen_backlog,
                            MHD_OPTION_THREAD_STACK_SIZE, thread_stack_size,
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
                            MHD_OPTION_END);
}

#endif
