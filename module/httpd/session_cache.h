// Server-side TLS session cache (TLS 1.2 session IDs) on httpd's socache
// providers, shared by all worker processes of a configuration generation.
#pragma once

#include "httpd/httpd.h"

namespace gtls {

class IncomingTlsConnection;

inline constexpr const char* kSessionCacheMutexType = "gtls-cache";

// pre_config: lets admins configure the mutex with `Mutex ... gtls-cache`.
void register_session_cache_mutex(apr_pool_t* pconf);

// post_config: initialises the configured provider (shared memory, files) and
// its mutex in pconf; returns an HTTP status code (OK on success).
int init_session_cache(server_rec* main_server, apr_pool_t* pconf);

// child_init: re-attaches the cache's mutex in a worker process.
void init_session_cache_child(server_rec* main_server, apr_pool_t* pchild);

// Installs the cache callbacks on a connection's session if a cache is configured.
void attach_session_cache(IncomingTlsConnection& connection, server_rec* main_server);

}  // namespace gtls
