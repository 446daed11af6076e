// The connection filters and the GnuTLS transport that moves ciphertext
// through the filters below them.
#pragma once

#include "httpd/httpd.h"

#include <gnutls/gnutls.h>
#include <sys/types.h>

namespace gtls {

class TlsConnection;

inline constexpr const char* kInputFilterName = "GTLS_IN";
inline constexpr const char* kOutputFilterName = "GTLS_OUT";

// GnuTLS transport callbacks over a TlsConnection's brigades.
struct Transport {
    static void install(TlsConnection& connection);
    static ssize_t pull(gnutls_transport_ptr_t ptr, void* data, size_t size);
    static ssize_t push(gnutls_transport_ptr_t ptr, const void* data, size_t size);
};

// register_hooks: registers GTLS_IN/GTLS_OUT at AP_FTYPE_CONNECTION + 5, like
// mod_ssl, so mod_reqtimeout (+8) sits between them and the socket and times the
// handshake.
void register_tls_filters();

}  // namespace gtls
