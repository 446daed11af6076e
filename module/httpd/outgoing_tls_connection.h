// mod_proxy's TLS connection to a backend: SNI and ALPN as mod_proxy asks,
// the backend's certificate verified (CAs, CRLs, name, dates) before a byte of
// the request goes out, and the session kept to resume the next connection.
// The session, transport and record I/O are TlsConnection's.
#pragma once

#include "httpd/tls_connection.h"

#include <string>

namespace gtls {

class ProxyTls;

class OutgoingTlsConnection final : public TlsConnection {
public:
    // ssl_bind_outgoing: makes `c` (a backend connection mod_proxy created) a
    // TLS connection by mod_gtls with `proxy`'s settings; a no-op when it is already.
    static OutgoingTlsConnection* bind(conn_rec* c, ProxyTls& proxy);
    // Forgets a binding whose connection has not started (mod_proxy turned TLS off).
    static void unbind(conn_rec* c);
    // The TLS state of backend connection `c`, or nullptr.
    static OutgoingTlsConnection* of(conn_rec* c);

    OutgoingTlsConnection(conn_rec* c, ProxyTls& proxy);

    // pre_connection: adds the filters. The handshake runs with the first write.
    void start();
    bool started() const { return started_; }

private:
    // Reads mod_proxy's notes on the connection (the backend's name; the ALPN
    // protocols mod_proxy_http2 asks for only after pre_connection) and sets
    // SNI, verification, ALPN and a session to resume.
    void prepare_handshake() override;
    void on_handshake_done() override;
    void log_handshake_failure(int gnutls_error) override;
    apr_status_t write_after_failed_handshake(apr_status_t handshake_status) override;
    const char* log_name() const override;
    const char* peer_name() const override { return backend_.c_str(); }
    int failure_log_level() const override { return APLOG_ERR; }

    void keep_session();
    static int new_session_ticket_hook(gnutls_session_t session, unsigned, unsigned, unsigned, const gnutls_datum_t*);

    ProxyTls& proxy_;
    bool started_ = false;
    bool failure_reported_ = false;
    std::string hostname_;     // the name mod_proxy connects to (proxy-request-hostname)
    std::string backend_;      // "hostname (address:port)" in log lines
    std::string session_key_;  // which BackendSessions entry this backend's sessions use
    std::string alpn_wanted_;  // proxy-request-alpn-protos, as mod_proxy wrote it
};

}  // namespace gtls
