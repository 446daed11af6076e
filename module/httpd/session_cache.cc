#include "httpd/session_cache.h"

#include "httpd/guard.h"
#include "httpd/pool_own.h"
#include "httpd/remote_cache.h"
#include "httpd/server_config.h"
#include "httpd/incoming_tls_connection.h"
#include "httpd/vhost_tls.h"

#include <memory>
#include <string>

namespace gtls {

// The cache of one generation, set up in post_config before workers exist.
struct SessionCache {
    const ap_socache_provider_t* provider = nullptr;
    ap_socache_instance_t* instance = nullptr;
    apr_global_mutex_t* mutex = nullptr;
    server_rec* server = nullptr;
    std::unique_ptr<RemoteCache> remote;  // for providers that talk to a server
};

namespace {

SessionCache& cache_of(const IncomingTlsConnection& connection) {
    // attach_session_cache() binds only connections of a generation with a cache.
    return *global_config(connection.conn()->base_server).session_cache_in_use;
}

// GnuTLS session data for a server without client certificates is well under this.
constexpr unsigned kMaxSessionData = 16 * 1024;

class CacheLock {
public:
    explicit CacheLock(apr_global_mutex_t* mutex) : mutex_(mutex) {
        if (mutex_ != nullptr) apr_global_mutex_lock(mutex_);
    }
    ~CacheLock() {
        if (mutex_ != nullptr) apr_global_mutex_unlock(mutex_);
    }
    CacheLock(const CacheLock&) = delete;
    CacheLock& operator=(const CacheLock&) = delete;

private:
    apr_global_mutex_t* mutex_;
};

// Keys are scoped by the vhost that did the handshake, so a session made for one
// vhost never resumes on another.
std::string cache_key(const IncomingTlsConnection& connection, const gnutls_datum_t& id) {
    std::string key = connection.vhost()->session_scope();
    key.push_back('\0');
    key.append(reinterpret_cast<const char*>(id.data), id.size);
    return key;
}

int store(void* ptr, gnutls_datum_t id, gnutls_datum_t data) {
    auto* connection = static_cast<IncomingTlsConnection*>(ptr);
    return guard(connection->conn()->base_server, "session cache store", -1, [&] {
        if (data.size > kMaxSessionData || connection->session_lifetime_seconds() == 0) return -1;
        std::string key = cache_key(*connection, id);
        apr_time_t expiry = apr_time_now() + apr_time_from_sec(connection->session_lifetime_seconds());
        SessionCache& cache = cache_of(*connection);
        if (cache.remote) {
            cache.remote->store(std::move(key), std::vector<unsigned char>(data.data, data.data + data.size), expiry);
            return 0;
        }
        apr_status_t rv;
        {
            CacheLock lock(cache.mutex);
            rv = cache.provider->store(cache.instance, connection->conn()->base_server,
                                          reinterpret_cast<const unsigned char*>(key.data()),
                                          static_cast<unsigned>(key.size()), expiry, data.data, data.size,
                                          connection->conn()->pool);
        }
        if (rv != APR_SUCCESS) {
            ap_log_cerror(APLOG_MARK, APLOG_DEBUG, rv, connection->conn(), "GTLS0402: session cache store failed");
            return -1;
        }
        return 0;
    });
}

gnutls_datum_t retrieve(void* ptr, gnutls_datum_t id) {
    auto* connection = static_cast<IncomingTlsConnection*>(ptr);
    return guard(connection->conn()->base_server, "session cache retrieve", gnutls_datum_t{nullptr, 0}, [&] {
        if (connection->session_lifetime_seconds() == 0) return gnutls_datum_t{nullptr, 0};
        std::string key = cache_key(*connection, id);
        SessionCache& cache = cache_of(*connection);
        if (cache.remote) {
            std::optional<std::vector<unsigned char>> found = cache.remote->retrieve(std::move(key));
            if (!found) return gnutls_datum_t{nullptr, 0};
            auto* copy = static_cast<unsigned char*>(gnutls_malloc(found->size()));
            if (copy == nullptr) return gnutls_datum_t{nullptr, 0};
            std::copy(found->begin(), found->end(), copy);
            return gnutls_datum_t{copy, static_cast<unsigned>(found->size())};
        }
        auto* buffer = static_cast<unsigned char*>(gnutls_malloc(kMaxSessionData));
        if (buffer == nullptr) return gnutls_datum_t{nullptr, 0};
        unsigned size = kMaxSessionData;
        apr_status_t rv;
        {
            CacheLock lock(cache.mutex);
            rv = cache.provider->retrieve(cache.instance, connection->conn()->base_server,
                                             reinterpret_cast<const unsigned char*>(key.data()),
                                             static_cast<unsigned>(key.size()), buffer, &size,
                                             connection->conn()->pool);
        }
        if (rv != APR_SUCCESS) {
            free_gnutls_memory(buffer);
            return gnutls_datum_t{nullptr, 0};
        }
        return gnutls_datum_t{buffer, size};
    });
}

int remove(void* ptr, gnutls_datum_t id) {
    auto* connection = static_cast<IncomingTlsConnection*>(ptr);
    return guard(connection->conn()->base_server, "session cache remove", -1, [&] {
        std::string key = cache_key(*connection, id);
        SessionCache& cache = cache_of(*connection);
        if (cache.remote) {
            cache.remote->remove(std::move(key));
            return 0;
        }
        CacheLock lock(cache.mutex);
        cache.provider->remove(cache.instance, connection->conn()->base_server,
                                  reinterpret_cast<const unsigned char*>(key.data()),
                                  static_cast<unsigned>(key.size()), connection->conn()->pool);
        return 0;
    });
}

}  // namespace

void register_session_cache_mutex(apr_pool_t* pconf) {
    ap_mutex_register(pconf, kSessionCacheMutexType, nullptr, APR_LOCK_DEFAULT, 0);
}

int init_session_cache(server_rec* main_server, apr_pool_t* pconf) {
    GlobalConfig& global = global_config(main_server);
    global.session_cache_in_use = nullptr;
    if (global.cache_provider == nullptr) return OK;

    auto* cache = pool_own(pconf, std::make_unique<SessionCache>());
    cache->provider = global.cache_provider;
    cache->instance = global.cache_instance;
    cache->server = main_server;
    if (cache->provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        apr_status_t rv = ap_global_mutex_create(&cache->mutex, nullptr, kSessionCacheMutexType, nullptr,
                                                 main_server, pconf, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, main_server,
                         "GTLS0401: GnuTLSCache: cannot create the session cache mutex");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    struct ap_socache_hints hints {};
    hints.avg_id_len = 64;
    hints.avg_obj_size = 1024;
    hints.expiry_interval = 30;
    apr_status_t rv = cache->provider->init(cache->instance, "mod_gtls-session", &hints, main_server, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, main_server,
                     "GTLS0401: GnuTLSCache %s: cannot initialise the session cache",
                     global.session_cache.provider.c_str());
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_pool_cleanup_register(
        pconf, cache,
        [](void* data) -> apr_status_t {
            auto* c = static_cast<SessionCache*>(data);
            c->provider->destroy(c->instance, c->server);
            return APR_SUCCESS;
        },
        apr_pool_cleanup_null);
    if (is_remote_cache_provider(global.session_cache.provider)) {
        cache->remote = std::make_unique<RemoteCache>(cache->provider, cache->instance, main_server);
    }
    global.session_cache_in_use = cache;
    return OK;
}

void init_session_cache_child(server_rec* main_server, apr_pool_t* pchild) {
    GlobalConfig& global = global_config(main_server);
    SessionCache* cache = global.session_cache_in_use;
    if (cache != nullptr && cache->remote) cache->remote->start(pchild);
    if (cache == nullptr || cache->mutex == nullptr) return;
    apr_status_t rv = apr_global_mutex_child_init(&cache->mutex, apr_global_mutex_lockfile(cache->mutex), pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, main_server,
                     "GTLS0403: cannot re-attach the session cache mutex in this worker; sessions will not be cached");
        global.session_cache_in_use = nullptr;
    }
}

void attach_session_cache(IncomingTlsConnection& connection, server_rec*) {
    if (global_config(connection.conn()->base_server).session_cache_in_use == nullptr) return;
    gnutls_session_t session = connection.session();
    gnutls_db_set_ptr(session, &connection);
    gnutls_db_set_store_function(session, store);
    gnutls_db_set_retrieve_function(session, retrieve);
    gnutls_db_set_remove_function(session, remove);
}

}  // namespace gtls
