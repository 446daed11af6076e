// The module record and hook registration. Each hook is a thin guarded call
// into the file that owns the concern.
#include "httpd/certificate_providers.h"
#include "httpd/client_verification.h"
#include "httpd/directives.h"
#include "httpd/guard.h"
#include "httpd/io_filters.h"
#include "httpd/ocsp_fetcher.h"
#include "httpd/pkcs11_providers.h"
#include "httpd/proxy_tls.h"
#include "httpd/server_config.h"
#include "httpd/session_cache.h"
#include "httpd/ssl_hooks.h"
#include "httpd/staple_refresher.h"
#include "httpd/status_page.h"
#include "httpd/incoming_tls_connection.h"
#include "httpd/vhost_tls.h"

namespace gtls {

namespace {

int gtls_pre_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*) {
    return guard(nullptr, "pre_config", HTTP_INTERNAL_SERVER_ERROR, [&] {
        register_session_cache_mutex(pconf);
        return OK;
    });
}

// Runs for `apachectl -t` too, so every file and value problem fails the test.
int gtls_check_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*, server_rec* s) {
    return guard(s, "check_config", HTTP_INTERNAL_SERVER_ERROR, [&] {
        if (ap_exists_config_define(kDumpOcspBindingsDefine) && ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_CONFIG_TEST) {
            // Paths are all the dump needs: no key is read, so the fetch job
            // asking for it need not run as root.
            dump_ocsp_bindings(s, stdout);
            return OK;
        }
        const bool vhosts_built = build_all_vhost_tls(s, pconf);
        const bool proxies_built = build_all_proxy_tls(s, pconf);
        return vhosts_built && proxies_built ? OK : HTTP_INTERNAL_SERVER_ERROR;
    });
}

int gtls_post_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*, server_rec* s) {
    return guard(s, "post_config", HTTP_INTERNAL_SERVER_ERROR, [&] {
        if (!add_provided_certificates(s, pconf)) return HTTP_INTERNAL_SERVER_ERROR;
        offer_staples_to_providers(s, pconf);
        if (int rc = init_session_cache(s, pconf); rc != OK) return rc;
        // Not in the dry run httpd makes of the configuration before the real start.
        const bool starting = ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG;
        if (starting) fetch_missing_responses(s, pconf);
        load_all_staples(s, pconf);
        if (starting) start_ocsp_fetcher(s, pconf);
        unsigned enabled = 0;
        for (server_rec* vhost = s; vhost != nullptr; vhost = vhost->next) {
            if (server_config(vhost).tls != nullptr) ++enabled;
        }
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "GTLS0100: mod_gtls/%s on GnuTLS/%s: TLS on %u server(s)",
                     GTLS_VERSION, gnutls_check_version(nullptr), enabled);
        if (enabled > 0) log_rsa_signer(s);
        return OK;
    });
}

void gtls_child_init(apr_pool_t* pchild, server_rec* s) {
    guard(s, "child_init", 0, [&] {
        if (global_config(s).uses_tokens) reinitialize_pkcs11_in_child(s);
        init_session_cache_child(s, pchild);
        start_staple_refresher(s, pchild);
        return 0;
    });
}

int gtls_pre_connection(conn_rec* c, void* csd) { return start_tls_connection(c, csd); }

// Handshake before the protocol modules look at the connection, so ALPN (and
// with it mod_http2's switch) is settled when they run. After mod_reqtimeout
// (FIRST), before mod_http2 (LAST) and HTTP/1 (REALLY_LAST).
int gtls_process_connection(conn_rec* c) {
    IncomingTlsConnection* connection = IncomingTlsConnection::of(c);
    if (connection == nullptr || c->master != nullptr || connection->handshake_done()) return DECLINED;
    apr_bucket_brigade* empty = apr_brigade_create(c->pool, c->bucket_alloc);
    ap_get_brigade(c->input_filters, empty, AP_MODE_INIT, APR_BLOCK_READ, 0);
    apr_brigade_destroy(empty);
    return DECLINED;
}

// The connection, not the request's vhost, says whether the client speaks TLS:
// a name-based vhost without GnuTLSEnable still answers over the TLS
// connection of its address's default vhost, and its redirects must say https.
const char* gtls_http_scheme(const request_rec* r) {
    return IncomingTlsConnection::of(r->connection) != nullptr ? "https" : nullptr;
}

apr_port_t gtls_default_port(const request_rec* r) {
    return IncomingTlsConnection::of(r->connection) != nullptr ? 443 : 0;
}

void gtls_register_hooks(apr_pool_t*) {
    ap_hook_pre_config(gtls_pre_config, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_check_config(gtls_check_config, nullptr, nullptr, APR_HOOK_MIDDLE);
    // mod_md runs a post_config hook that sets up the certificates it provides
    // (FIRST since mod_md 2.4.11, MIDDLE before), and one LAST that needs to
    // know which vhosts do TLS: ours, which asks it for certificates, goes in
    // between, whatever the order of the LoadModule lines.
    ap_hook_post_config(gtls_post_config, nullptr, nullptr, APR_HOOK_MIDDLE + 1);
    ap_hook_child_init(gtls_child_init, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_pre_connection(gtls_pre_connection, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_process_connection(gtls_process_connection, nullptr, nullptr, APR_HOOK_MIDDLE);
    // Where mod_ssl checks SSLVerifyClient: before authentication, once per
    // per-directory configuration.
    ap_hook_check_access(check_client_certificate, nullptr, nullptr, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_ssl_bind_outgoing(bind_outgoing_connection, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(refuse_requests_on_stand_in_certificates, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_http_scheme(gtls_http_scheme, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_default_port(gtls_default_port, nullptr, nullptr, APR_HOOK_MIDDLE);
    register_tls_filters();
    register_ssl_hooks();
    register_status_page();
}

}  // namespace

}  // namespace gtls

extern "C" {
module AP_MODULE_DECLARE_DATA __attribute__((visibility("default"))) gtls_module = {
    STANDARD20_MODULE_STUFF,
    gtls::create_directory_config,     // per-directory config creator
    gtls::merge_directory_config,      // per-directory config merger
    gtls::create_server_config,        // per-server config creator
    gtls::merge_server_config,         // per-server config merger
    gtls::kDirectives,                 // directive table
    gtls::gtls_register_hooks,         // hook registration
    AP_MODULE_FLAG_ALWAYS_MERGE,       // flags
};
}
