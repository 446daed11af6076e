#include "httpd/status_page.h"

#include "httpd/guard.h"
#include "httpd/server_config.h"
#include "httpd/vhost_tls.h"

#include <mod_status.h>
#include <unistd.h>

namespace gtls {

namespace {

std::string time_or_dash(const std::shared_ptr<const Staple>& staple, bool next) {
    if (!staple) return "-";
    return format_utc(next ? staple->next_update : staple->this_update);
}

int gtls_status_hook(request_rec* r, int flags) {
    return guard(r->server, "status hook", OK, [&] {
        const bool short_form = flags & AP_STATUS_SHORT;
        bool any = false;
        for (server_rec* s = ap_server_conf; s != nullptr; s = s->next) {
            VhostTls* tls = server_config(s).tls;
            if (tls == nullptr) continue;
            for (std::size_t index = 0; index < tls->staples().size(); ++index) {
                const auto& source = tls->staples()[index];
                if (!source) continue;
                if (!any && !short_form) {
                    ap_rputs("<hr>\n<h2>mod_gtls OCSP stapling</h2>\n<p>As seen by worker process ", r);
                    ap_rprintf(r, "%" APR_PID_T_FMT ".</p>\n", getpid());
                    ap_rputs("<table border=\"1\"><tr><th>certificate</th><th>response file</th><th>stapling</th>"
                             "<th>thisUpdate</th><th>nextUpdate</th><th>staples served</th>"
                             "<th>last rejection</th></tr>\n", r);
                }
                any = true;
                StapleStatus status = source->status();
                status.id = tls->certificate_id(index);  // the source may serve other vhosts too
                if (short_form) {
                    ap_rprintf(r, "GTLSStaple: %s serving=%s served=%" APR_UINT64_T_FMT " this_update=%s next_update=%s file=%s problem=%s\n",
                               status.id.c_str(), status.serving ? "yes" : "no", static_cast<apr_uint64_t>(status.served),
                               time_or_dash(status.staple, false).c_str(), time_or_dash(status.staple, true).c_str(),
                               status.path.c_str(), status.last_problem.empty() ? "-" : ap_escape_logitem(r->pool, status.last_problem.c_str()));
                } else {
                    ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%" APR_UINT64_T_FMT "</td><td>%s</td></tr>\n",
                               ap_escape_html(r->pool, status.id.c_str()), ap_escape_html(r->pool, status.path.c_str()),
                               status.serving ? "yes" : "no", time_or_dash(status.staple, false).c_str(),
                               time_or_dash(status.staple, true).c_str(), static_cast<apr_uint64_t>(status.served),
                               ap_escape_html(r->pool, status.last_problem.c_str()));
                }
            }
        }
        if (any && !short_form) ap_rputs("</table>\n", r);
        return OK;
    });
}

}  // namespace

void register_status_page() {
    APR_OPTIONAL_HOOK(ap, status_hook, gtls_status_hook, nullptr, nullptr, APR_HOOK_MIDDLE);
}

}  // namespace gtls
