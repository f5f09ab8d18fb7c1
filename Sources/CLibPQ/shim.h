/* CLibPQ: libpq, PostgreSQL's client library, for the gateway's store. No
 * shim functions: libpq's API is plain C that Swift imports as it is. */
#ifndef CLIBPQ_SHIM_H
#define CLIBPQ_SHIM_H

#include <libpq-fe.h>

#endif
