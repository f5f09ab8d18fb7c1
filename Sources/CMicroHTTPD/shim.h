/* CMicroHTTPD: libmicrohttpd for the gateway. MHD_start_daemon is variadic,
 * which Swift cannot call, so cmhd_start passes the few options the gateway
 * uses; everything else is called directly from Swift. */
#ifndef CMICROHTTPD_SHIM_H
#define CMICROHTTPD_SHIM_H

#include <stdint.h>
#include <sys/socket.h>
#include <microhttpd.h>

static inline struct MHD_Daemon *cmhd_start(unsigned int flags,
                                            MHD_AccessHandlerCallback handler,
                                            MHD_RequestCompletedCallback completed,
                                            void *cls,
                                            const struct sockaddr *address,
                                            unsigned int connection_limit,
                                            unsigned int idle_timeout_seconds) {
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, cls,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, cls,
                            MHD_OPTION_SOCK_ADDR, address,
                            MHD_OPTION_CONNECTION_LIMIT, connection_limit,
                            MHD_OPTION_CONNECTION_TIMEOUT, idle_timeout_seconds,
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
                            MHD_OPTION_END);
}

#endif
