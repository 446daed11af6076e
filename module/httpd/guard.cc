#include "httpd/guard.h"

namespace gtls {

void log_boundary_exception(server_rec* s, const char* where, const char* what) noexcept {
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "GTLS0001: internal error in %s: %s", where, what);
}

}  // namespace gtls
