// The TLS client side of one server's proxying (GnuTLSProxy* directives) for
// one configuration generation: credentials with the CAs and CRLs that judge
// backends and the certificate we show them, the priorities, what is checked,
// and the sessions kept for resuming.
#pragma once

#include "core/backend_sessions.h"
#include "core/owned.h"
#include "httpd/httpd.h"

#include <memory>
#include <string>

namespace gtls {

struct ServerConfig;

class ProxyTls {
public:
    // Loads the files GnuTLSProxyCAFile (else the system's trusted CAs),
    // GnuTLSProxyCRLFile and GnuTLSProxyCertificateFile/KeyFile name and compiles
    // GnuTLSProxyPriorities. Throws std::runtime_error naming the directive and
    // the reason. Runs in check_config, as root (the client key is read there).
    static std::unique_ptr<ProxyTls> build(server_rec* s, const ServerConfig& config);

    ProxyTls(const ProxyTls&) = delete;
    ProxyTls& operator=(const ProxyTls&) = delete;

    // "ServerName:port" of the proxying server, for log lines.
    const std::string& id() const { return id_; }
    gnutls_certificate_credentials_t credentials() const { return credentials_.get(); }
    gnutls_priority_t priorities() const { return priorities_.get(); }
    // GnuTLSProxyCheckPeerName: the backend's certificate must be for the name
    // mod_proxy connects to.
    bool check_peer_name() const { return check_peer_name_; }
    // What the trust anchors are, for log lines ("CAs of FILE" or "the system's CAs").
    const std::string& trust_description() const { return trust_description_; }
    BackendSessions& sessions() { return sessions_; }

private:
    ProxyTls() = default;

    std::string id_;
    OwnedCredentials credentials_;
    OwnedPriority priorities_;
    bool check_peer_name_ = true;
    std::string trust_description_;
    BackendSessions sessions_;
};

// Builds the ProxyTls of every server whose proxying may use TLS with
// mod_gtls (GnuTLSProxyEngine On in it or one of its sections) and stores it
// in its ServerConfig (owned by pconf). Logs each problem; false if any failed.
bool build_all_proxy_tls(server_rec* main_server, apr_pool_t* pconf);

// ssl_bind_outgoing hook: claims a backend connection mod_proxy wants secured
// when GnuTLSProxyEngine is On for it (its <Proxy>/<Location>, else its
// server), so exactly one TLS module handles it.
int bind_outgoing_connection(conn_rec* c, ap_conf_vector_t* dir_conf, int enable_tls);

}  // namespace gtls
