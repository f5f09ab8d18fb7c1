/* CMicroHTTPD: libmicrohttpd for the gateway. MHD_start_daemon and
 * MHD_get_connection_info are variadic, which Swift cannot call, so the
 * cmhd_ functions below call them with the few options the gateway uses;
 * everything else is called directly from Swift (Sources/QmailRemoteHTTP/MHD). */
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
/* Called once the request line is in, before the URL is decoded: the
 * target exactly as sent. What it returns becomes the request's context. */
typedef void *(*cmhd_request_line)(void *cls, const char *target, struct MHD_Connection *connection);

struct cmhd_callbacks {
    MHD_AccessHandlerCallback access;
    MHD_RequestCompletedCallback completed;
    MHD_NotifyConnectionCallback connection;
    cmhd_request_line request_line;
    cmhd_log_sink log;
    void *cls;
};

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

/* HTTPS: GnuTLS priorities, the certificate callback (a
 * gnutls_certificate_retrieve_function2, which picks the certificate for
 * each handshake, so it can change without a restart) and, to ask for
 * client certificates, the PEM of the CAs they must chain to (or NULL). */
struct cmhd_tls {
    const char *priorities;
    void *certificate_callback;
    const char *client_ca_pem;
};

/* One epoll thread, no listening socket of its own (connections come from
 * MHD_add_connection), suspend/resume allowed; TLS when `tls` is not NULL. */
static inline struct MHD_Daemon *cmhd_start(const struct cmhd_callbacks *callbacks,
                                            unsigned int extra_flags,
                                            unsigned int connection_limit,
                                            unsigned int idle_timeout_seconds,
                                            size_t connection_buffer_bytes,
                                            const struct cmhd_tls *tls) {
    /* Lives as long as the process: one per daemon, and a daemon is started once. */
    struct cmhd_logger *logger = malloc(sizeof *logger);
    if (logger == NULL) return NULL;
    logger->sink = callbacks->log;
    logger->cls = callbacks->cls;
    unsigned int flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET
                         | MHD_USE_ERROR_LOG | extra_flags;
    struct MHD_OptionItem tls_options[4] = {{MHD_OPTION_END, 0, NULL}};
    if (tls != NULL) {
        flags |= MHD_USE_TLS;
        int count = 0;
        tls_options[count++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)tls->priorities};
        tls_options[count++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0, tls->certificate_callback};
        if (tls->client_ca_pem != NULL)
            tls_options[count++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, (void *)tls->client_ca_pem};
        tls_options[count] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    }
    return MHD_start_daemon(flags, 0, NULL, NULL, callbacks->access, callbacks->cls,
                            MHD_OPTION_EXTERNAL_LOGGER, cmhd_format_log, logger,
                            MHD_OPTION_ARRAY, tls_options,
                            MHD_OPTION_NOTIFY_COMPLETED, callbacks->completed, callbacks->cls,
                            MHD_OPTION_NOTIFY_CONNECTION, callbacks->connection, callbacks->cls,
                            MHD_OPTION_URI_LOG_CALLBACK, callbacks->request_line, callbacks->cls,
                            MHD_OPTION_CONNECTION_LIMIT, connection_limit,
                            MHD_OPTION_CONNECTION_TIMEOUT, idle_timeout_seconds,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, connection_buffer_bytes,
                            MHD_OPTION_END);
}

static inline int cmhd_connection_fd(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info == NULL ? -1 : info->connect_fd;
}

/* What the connection-started notice stored for the connection. */
static inline void *cmhd_socket_context(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info == NULL ? NULL : info->socket_context;
}

/* Bytes of the request head (request line to blank line); 0 before it is in. */
static inline size_t cmhd_header_size(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    return info == NULL ? 0 : info->header_size;
}

/* The connection's GnuTLS session (NULL without TLS). */
static inline void *cmhd_tls_session(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    return info == NULL ? NULL : info->tls_session;
}

/* The status of the answer queued on the connection, or 0 for none. */
static inline unsigned int cmhd_queued_status(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_HTTP_STATUS);
    return info == NULL ? 0 : info->http_status;
}

#endif
