// httpd's TLS hooks (http_ssl.h) and request-time checks for mod_gtls connections.
#pragma once

#include "httpd/httpd.h"

namespace gtls {

void register_ssl_hooks();

}  // namespace gtls
