#include "httpd/status_page.h"

#include "httpd/guard.h"
#include "httpd/ocsp_fetcher.h"
#include "httpd/provided_staple.h"
#include "httpd/server_config.h"
#include "httpd/incoming_tls_connection.h"
#include "httpd/vhost_tls.h"

#include <mod_status.h>
#include <unistd.h>

namespace gtls {

namespace {

std::string time_or_dash(const std::shared_ptr<const Staple>& staple, bool next) {
    if (!staple) return "-";
    return format_utc(next ? staple->next_update : staple->this_update);
}

// The lines mod_gnutls's page has, with its labels, so that monitoring written
// for it keeps working: the library versions and the TLS session of the
// request that asked for the page.
void print_library_and_session(request_rec* r, bool short_form) {
    const char* running = gnutls_check_version(nullptr);
    TlsConnection* connection = TlsConnection::of(r->connection);
    char* description = connection != nullptr ? gnutls_session_get_desc(connection->session()) : nullptr;
    if (short_form) {
        ap_rprintf(r, "Using GnuTLS version: %s\nBuilt against GnuTLS version: %s\n", running, GNUTLS_VERSION);
        if (description != nullptr) ap_rprintf(r, "Current TLS session: %s\n", description);
    } else {
        ap_rputs("<hr>\n<h2>mod_gtls</h2>\n<dl>\n", r);
        ap_rprintf(r, "<dt>Using GnuTLS version:</dt><dd>%s</dd>\n", ap_escape_html(r->pool, running));
        ap_rputs("<dt>Built against GnuTLS version:</dt><dd>" GNUTLS_VERSION "</dd>\n", r);
        ap_rprintf(r, "<dt>Using TLS:</dt><dd>%s</dd>\n", connection != nullptr ? "yes" : "no");
        if (description != nullptr) {
            ap_rprintf(r, "<dt>Current TLS session:</dt><dd>%s</dd>\n", ap_escape_html(r->pool, description));
        }
        ap_rputs("</dl>\n", r);
    }
    gnutls_free(description);
}

// What the fetcher last did, for certificates whose response mod_gtls fetches.
void print_fetch_states(request_rec* r, bool short_form) {
    bool any = false;
    for (server_rec* s = ap_server_conf; s != nullptr; s = s->next) {
        const VhostTls* tls = server_config(s).tls;
        if (tls == nullptr) continue;
        for (const FetchedStaple& fetched : tls->fetched_staples()) {
            FetchState state;
            state.responder = fetched.responder;  // until the fetcher first ran
            if (auto written = read_fetch_state(fetched.response_file)) state = *written;
            const char* error = state.error.empty() ? "-" : state.error.c_str();
            if (short_form) {
                ap_rprintf(r, "GTLSStapleFetch: %s responder=%s last_contact=%s next_check=%s result=%s error=%s\n",
                           fetched.id.c_str(), state.responder.c_str(), state.last_contact.c_str(),
                           state.next_check.c_str(), state.result.c_str(), ap_escape_logitem(r->pool, error));
                continue;
            }
            if (!any) {
                ap_rputs("<h3>mod_gtls OCSP fetching</h3>\n<table border=\"1\"><tr><th>certificate</th>"
                         "<th>responder</th><th>last contact</th><th>next check</th><th>result</th>"
                         "<th>last error</th></tr>\n", r);
            }
            any = true;
            ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                       ap_escape_html(r->pool, fetched.id.c_str()), ap_escape_html(r->pool, state.responder.c_str()),
                       state.last_contact.c_str(), state.next_check.c_str(), state.result.c_str(),
                       ap_escape_html(r->pool, state.error.c_str()));
        }
    }
    if (any) ap_rputs("</table>\n", r);
}

// A staple mod_md keeps, in the terms of a response file's: its "file" is
// mod_md (md-status has the details of its fetching).
StapleStatus status_of(ProvidedStaple& provided, conn_rec* c) {
    StapleStatus status;
    status.path = "mod_md";
    status.staple = provided.current(c);
    status.serving = status.staple != nullptr;
    status.last_problem = provided.last_problem();
    status.served = provided.served();
    return status;
}

// Which certificate each chain serves and where it comes from, so that a
// renewal (mod_md's or a new file after a graceful restart) can be checked.
void print_certificates(request_rec* r, bool short_form) {
    bool any = false;
    for (server_rec* s = ap_server_conf; s != nullptr; s = s->next) {
        const VhostTls* tls = server_config(s).tls;
        if (tls == nullptr) continue;
        for (std::size_t index = 0; index < tls->chains().size(); ++index) {
            const ServedChain& chain = tls->chains()[index];
            const CertificateFacts& leaf = chain.leaf_facts;
            const std::string id = tls->certificate_id(index);
            if (short_form) {
                ap_rprintf(r, "GTLSCertificate: %s source=%s key=%s serial=%s file=%s not_after=%s\n", id.c_str(),
                           chain_origin_name(tls->origin()), leaf.key_algorithm.c_str(), leaf.serial_hex.c_str(),
                           chain.chain_path.c_str(), leaf.not_after.c_str());
                continue;
            }
            if (!any) {
                ap_rputs("<h3>mod_gtls certificates</h3>\n<table border=\"1\"><tr><th>certificate</th><th>source</th>"
                         "<th>key</th><th>serial</th><th>not after</th><th>file</th></tr>\n", r);
            }
            any = true;
            ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                       ap_escape_html(r->pool, id.c_str()), chain_origin_name(tls->origin()),
                       ap_escape_html(r->pool, leaf.key_algorithm.c_str()), leaf.serial_hex.c_str(),
                       ap_escape_html(r->pool, leaf.not_after.c_str()), ap_escape_html(r->pool, chain.chain_path.c_str()));
        }
    }
    if (any) ap_rputs("</table>\n", r);
}

int gtls_status_hook(request_rec* r, int flags) {
    return guard(r->server, "status hook", OK, [&] {
        const bool short_form = flags & AP_STATUS_SHORT;
        print_library_and_session(r, short_form);
        print_certificates(r, short_form);
        bool any = false;
        for (server_rec* s = ap_server_conf; s != nullptr; s = s->next) {
            VhostTls* tls = server_config(s).tls;
            if (tls == nullptr) continue;
            for (std::size_t index = 0; index < tls->staples().size(); ++index) {
                const auto& source = tls->staples()[index];
                ProvidedStaple* provided = tls->provided_staples()[index].get();
                if (!source && provided == nullptr) continue;
                if (!any && !short_form) {
                    ap_rputs("<h3>mod_gtls OCSP stapling</h3>\n<p>As seen by worker process ", r);
                    ap_rprintf(r, "%" APR_PID_T_FMT ".</p>\n", getpid());
                    ap_rputs("<table border=\"1\"><tr><th>certificate</th><th>response file</th><th>stapling</th>"
                             "<th>thisUpdate</th><th>nextUpdate</th><th>staples served</th>"
                             "<th>last rejection</th></tr>\n", r);
                }
                any = true;
                StapleStatus status = provided != nullptr ? status_of(*provided, r->connection) : source->status();
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
        print_fetch_states(r, short_form);
        return OK;
    });
}

}  // namespace

void register_status_page() {
    APR_OPTIONAL_HOOK(ap, status_hook, gtls_status_hook, nullptr, nullptr, APR_HOOK_MIDDLE);
}

}  // namespace gtls
