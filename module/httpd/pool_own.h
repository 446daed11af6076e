// Ties a C++ object's lifetime to an APR pool: the object is destroyed by the
// pool's cleanup, so it lives exactly as long as the configuration generation
// (pconf) or the connection (c->pool) that owns it.
#pragma once

#include "httpd/httpd.h"

#include <memory>

namespace gtls {

// Transfers ownership of `object` to `pool`; returns the raw pointer, valid until
// the pool is cleared or destroyed.
template <typename T>
T* pool_own(apr_pool_t* pool, std::unique_ptr<T> object) {
    T* raw = object.release();
    apr_pool_cleanup_register(
        pool, raw,
        [](void* p) -> apr_status_t {
            delete static_cast<T*>(p);
            return APR_SUCCESS;
        },
        apr_pool_cleanup_null);
    return raw;
}

}  // namespace gtls
