#include "httpd/proxy_tls.h"

#include "core/priorities.h"
#include "core/trust_files.h"
#include "httpd/guard.h"
#include "httpd/outgoing_tls_connection.h"
#include "httpd/pool_own.h"
#include "httpd/server_config.h"

#include <stdexcept>

namespace gtls {

namespace {

[[noreturn]] void fail(const std::string& reason) { throw std::runtime_error(reason); }

bool proxy_engine_on(server_rec* s, ap_conf_vector_t* dir_conf) {
    if (dir_conf != nullptr) {
        if (const auto* directory = static_cast<const DirectoryConfig*>(ap_get_module_config(dir_conf, &gtls_module));
            directory != nullptr && directory->proxy_engine) {
            return *directory->proxy_engine;
        }
    }
    return server_config(s).proxy_engine.value_or(false);
}

}  // namespace

std::unique_ptr<ProxyTls> ProxyTls::build(server_rec* s, const ServerConfig& config) {
    std::unique_ptr<ProxyTls> proxy(new ProxyTls);
    proxy->id_ = server_name_port(s);
    proxy->check_peer_name_ = config.proxy_check_peer_name.value_or(true);

    gnutls_certificate_credentials_t credentials = nullptr;
    if (int rc = gnutls_certificate_allocate_credentials(&credentials); rc < 0) fail(gnutls_strerror(rc));
    proxy->credentials_.reset(credentials);

    if (config.proxy_ca_file) {
        load_trusted_cas(credentials, "GnuTLSProxyCAFile", *config.proxy_ca_file);
        proxy->trust_description_ = "the CAs of " + *config.proxy_ca_file;
    } else {
        // Never an unverified backend: without a CA file the system's CAs judge it.
        int count = gnutls_certificate_set_x509_system_trust(credentials);
        if (count <= 0) {
            fail(std::string("GnuTLSProxyEngine On needs CAs to verify backends: no GnuTLSProxyCAFile and ") +
                 (count < 0 ? std::string("the system's CAs cannot be loaded: ") + gnutls_strerror(count)
                            : std::string("the system has no trusted CAs")));
        }
        proxy->trust_description_ = "the system's CAs";
    }
    if (config.proxy_crl_file) load_crls(credentials, "GnuTLSProxyCRLFile", *config.proxy_crl_file);
    if (config.proxy_certificate_file.has_value() != config.proxy_key_file.has_value()) {
        fail(config.proxy_certificate_file ? "GnuTLSProxyCertificateFile needs a GnuTLSProxyKeyFile"
                                           : "GnuTLSProxyKeyFile needs a GnuTLSProxyCertificateFile");
    }
    if (config.proxy_certificate_file) {
        const char* pin = config.pin ? config.pin->c_str() : nullptr;
        int rc = gnutls_certificate_set_x509_key_file2(credentials, config.proxy_certificate_file->c_str(),
                                                       config.proxy_key_file->c_str(), GNUTLS_X509_FMT_PEM, pin, 0);
        if (rc < 0) {
            fail("GnuTLSProxyCertificateFile " + *config.proxy_certificate_file + " with GnuTLSProxyKeyFile " +
                 *config.proxy_key_file + ": " + gnutls_strerror(rc));
        }
    }
    if (!config.proxy_check_peer_expire.value_or(true)) {
        gnutls_certificate_set_verify_flags(credentials,
                                            GNUTLS_VERIFY_DISABLE_TIME_CHECKS | GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS);
    }
    try {
        proxy->priorities_ = compile_priorities(config.proxy_priorities.value_or(std::string(kDefaultPriorities)));
    } catch (const std::exception& e) {
        fail(std::string("GnuTLSProxyPriorities: ") + e.what());
    }
    return proxy;
}

bool build_all_proxy_tls(server_rec* main_server, apr_pool_t* pconf) {
    bool all_built = true;
    for (server_rec* s = main_server; s != nullptr; s = s->next) {
        ServerConfig& config = server_config(s);
        config.proxy_tls = nullptr;
        if (!config.proxy_engine.value_or(false) && !config.directory_enables_proxy) continue;
        try {
            config.proxy_tls = pool_own(pconf, ProxyTls::build(s, config));
        } catch (const std::exception& e) {
            ap_log_error(APLOG_MARK, APLOG_ERR | APLOG_STARTUP, 0, s, "GTLS0250: %s: TLS to proxy backends: %s",
                         describe_server(s).c_str(), e.what());
            all_built = false;
        }
    }
    return all_built;
}

int bind_outgoing_connection(conn_rec* c, ap_conf_vector_t* dir_conf, int enable_tls) {
    return guard(c->base_server, "ssl_bind_outgoing", DECLINED, [&] {
        // mod_proxy binds a pooled connection again on every reuse and release,
        // with whatever section is at hand: one that speaks TLS stays ours.
        if (OutgoingTlsConnection* bound = OutgoingTlsConnection::of(c); bound != nullptr && bound->started()) {
            return enable_tls ? OK : DECLINED;
        }
        if (!enable_tls || !proxy_engine_on(c->base_server, dir_conf)) {
            OutgoingTlsConnection::unbind(c);
            return DECLINED;
        }
        ProxyTls* proxy = server_config(c->base_server).proxy_tls;
        if (proxy == nullptr) return DECLINED;  // not built: check_config refused the configuration
        OutgoingTlsConnection::bind(c, *proxy);
        return OK;
    });
}

}  // namespace gtls
