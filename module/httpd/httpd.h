// The one place module/httpd includes httpd and APR headers from.
#pragma once

#include <apr_strings.h>
#include <apr_buckets.h>
#include <apr_global_mutex.h>
#include <apr_optional.h>

#include <ap_expr.h>
#include <ap_mpm.h>
#include <ap_provider.h>
#include <ap_socache.h>
#include <http_config.h>
#include <http_connection.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>
#include <http_main.h>
#include <http_vhost.h>
#include <mod_log_config.h>
#include <httpd.h>
#include <util_filter.h>
#include <util_mutex.h>

// httpd's headers define these as macros that collide with the C++ library.
#undef strtoul

extern "C" {
extern module AP_MODULE_DECLARE_DATA __attribute__((visibility("default"))) gtls_module;
}
APLOG_USE_MODULE(gtls);
