#include "httpd/certificate_providers.h"

#include "httpd/guard.h"
#include "httpd/incoming_tls_connection.h"
#include "httpd/provided_staple.h"
#include "httpd/server_config.h"
#include "httpd/vhost_tls.h"

#include <http_ssl.h>

#include <string>
#include <vector>

namespace gtls {

namespace {

std::vector<std::string> strings_of(const apr_array_header_t* array) {
    std::vector<std::string> values;
    for (int i = 0; i < array->nelts; ++i) values.emplace_back(APR_ARRAY_IDX(array, i, const char*));
    return values;
}

// The files a provider hook added, judged by how the arrays grew: httpd
// reports a provider that answered as a failure (its DONE becomes
// APR_EGENERAL), one that declined as success.
template <typename AskProviders>
bool ask_providers(AskProviders ask, server_rec* s, apr_pool_t* pconf, ServerConfig& config, ChainOrigin origin) {
    apr_array_header_t* certificates = apr_array_make(pconf, 2, sizeof(const char*));
    apr_array_header_t* keys = apr_array_make(pconf, 2, sizeof(const char*));
    ask(s, pconf, certificates, keys);
    if (certificates->nelts == 0) return false;
    config.provided_certificate_files = strings_of(certificates);
    config.provided_key_files = strings_of(keys);
    config.provided_origin = origin;
    return true;
}

std::string joined(const std::vector<std::string>& files) {
    std::string text;
    for (const std::string& file : files) text += (text.empty() ? "" : ", ") + file;
    return text;
}

}  // namespace

bool certificate_providers_hooked() {
    const apr_array_header_t* hooks = ap_hook_get_ssl_add_cert_files();
    return hooks != nullptr && hooks->nelts > 0;
}

bool add_provided_certificates(server_rec* main_server, apr_pool_t* pconf) {
    if (!certificate_providers_hooked()) return true;
    bool all_served = true;
    for (server_rec* s = main_server; s != nullptr; s = s->next) {
        ServerConfig& config = server_config(s);
        if (!config.is_enabled()) continue;
        // Asked for every TLS vhost, also those with certificates: mod_md
        // learns from this call which vhosts do TLS (for its tls-alpn-01
        // challenges and MDRequireHttps).
        const bool managed = ask_providers(ap_ssl_add_cert_files, s, pconf, config, ChainOrigin::Managed);
        const bool fallback = !managed && config.tls == nullptr &&
                              ask_providers(ap_ssl_add_fallback_cert_files, s, pconf, config, ChainOrigin::Fallback);
        if (!managed && !fallback) {
            // A vhost left for the providers that none served: the error is the build's.
            if (config.tls == nullptr && !install_vhost_tls(s, pconf)) all_served = false;
            continue;
        }
        if (!install_vhost_tls(s, pconf)) {
            all_served = false;
            continue;
        }
        const std::string id = server_name_port(s);
        if (managed) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                         "GTLS0107: %s: serving the %" APR_SIZE_T_FMT " certificate chain(s) mod_md manages: %s%s",
                         id.c_str(), config.provided_certificate_files.size(),
                         joined(config.provided_certificate_files).c_str(),
                         config.certificate_files.empty() ? "" : " (instead of its GnuTLSCertificateFile)");
        } else {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "GTLS0108: %s: mod_md has no certificate for it yet: serving its self-signed fallback "
                         "certificate (%s) and answering every request with 503 until one is issued and httpd "
                         "reloaded",
                         id.c_str(), joined(config.provided_certificate_files).c_str());
        }
    }
    return all_served;
}

void offer_staples_to_providers(server_rec* main_server, apr_pool_t* pconf) {
    if (!staple_providers_hooked()) return;
    for (server_rec* s = main_server; s != nullptr; s = s->next) {
        if (VhostTls* tls = server_config(s).tls) tls->offer_staples_to_providers(pconf);
    }
}

int refuse_requests_on_stand_in_certificates(request_rec* r) {
    return guard(r->server, "post_read_request", HTTP_INTERNAL_SERVER_ERROR, [&] {
        const IncomingTlsConnection* connection = IncomingTlsConnection::of(r->connection);
        if (connection == nullptr) return DECLINED;
        if (connection->vhost()->origin() != ChainOrigin::Fallback && !connection->answers_challenge()) return DECLINED;
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "GTLS0221: %s: the connection got %s: answering 503",
                      connection->vhost()->id().c_str(),
                      connection->answers_challenge() ? "an ACME challenge certificate" : "mod_md's fallback certificate");
        return HTTP_SERVICE_UNAVAILABLE;
    });
}

}  // namespace gtls
