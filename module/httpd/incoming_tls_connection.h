// A client's TLS connection to us: the vhost chosen by SNI, the protocol by
// ALPN, tickets, client certificates (also asked for after the handshake) and
// the SSL_* variables requests see. The session, transport and record I/O are
// TlsConnection's (tls_connection.h).
#pragma once

#include "httpd/tls_connection.h"

#include <array>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace gtls {

class VhostTls;

// A client's connection to one of our TLS addresses.
class IncomingTlsConnection final : public TlsConnection {
public:
    // Creates the TLS state for `c` (whose address selected `default_vhost`),
    // registers it in c->conn_config, adds the filters. Throws on GnuTLS failure.
    static IncomingTlsConnection* attach(conn_rec* c, VhostTls& default_vhost);

    // The TLS state of a client connection `c` (or of its master connection,
    // for HTTP/2 streams); nullptr for backend connections and plain ones.
    static IncomingTlsConnection* of(conn_rec* c);

    IncomingTlsConnection(conn_rec* c, VhostTls& default_vhost);

    // The vhost whose credentials the handshake uses (the SNI match, else the
    // address's default).
    VhostTls* vhost() const { return vhost_; }
    server_rec* server() const;
    const std::string& sni() const { return sni_; }
    unsigned session_lifetime_seconds() const;

    // An SSL_* variable (mod_ssl's names) for this connection, or nullptr. The
    // values are worked out once, when the handshake is done, in c->pool; one
    // asked for earlier is computed in `pool`. Nothing here writes to the
    // connection after the handshake, so h2 stream threads may call it at once.
    const char* variable(const char* name, apr_pool_t* pool) const;
    // Adds mod_ssl's StdEnvVars set to `env` (a request's subprocess_env).
    void export_variables(apr_table_t* env) const;
    static constexpr std::size_t kVariableCount = 32;

    // SSL_CLIENT_VERIFY, as the handshake's verification found it ("" until
    // then; a resumed session is judged when its variables are worked out).
    const std::string& client_verify_result() const { return client_verify_result_; }
    void set_client_verify_result(std::string verdict) { client_verify_result_ = std::move(verdict); }

    // Whether the client was asked for a certificate: by the handshake (its
    // vhost's GnuTLSClientVerify) or afterwards.
    bool client_was_asked() const;

    enum class AskOutcome { Answered, TooMuchData, Failed };
    // TLS 1.3 post-handshake authentication (RFC 8446 section 4.6.2): asks the
    // client for its certificate and waits, in the request's thread, for the
    // answer; then SSL_CLIENT_* describe it. Request data the client sends
    // meanwhile is decrypted and held for the request, up to `max_held` bytes.
    // The caller has checked the session allows it (TLS 1.3, client offered
    // post_handshake_auth). Failed: the connection is closed (logged).
    AskOutcome ask_for_client_certificate(apr_size_t max_held);

    // ClientHello hook: picks the vhost by SNI and the protocol by ALPN.
    int on_client_hello(const gnutls_datum_t* message);

    // Whether this handshake answers an ACME tls-alpn-01 challenge (with
    // mod_md's certificate): no request is served on it.
    bool answers_challenge() const { return answers_challenge_; }

private:
    void on_handshake_done() override;
    void log_handshake_failure(int gnutls_error) override;
    // Answers 400 in plain text when the client spoke HTTP.
    bool answer_plain_text_if_spoken() override;
    const char* log_name() const override;
    const char* peer_name() const override { return c_->client_ip; }

    void remember_variables();
    void select_vhost(VhostTls& vhost);
    // Turns on tickets and the cache lifetime of the vhost the first ClientHello chose.
    void enable_resumption();
    void select_protocol(const std::vector<std::string>& client_protocols);
    void answer_challenge_if_asked();

    VhostTls* vhost_;
    std::string sni_;
    bool vhost_from_sni_ = false;
    bool protocol_chosen_ = false;
    bool resumption_settled_ = false;
    bool asked_after_handshake_ = false;
    bool answers_challenge_ = false;

    // SSL_* values, in the order of ssl_variables.cc's table, from the handshake
    // on (worked out again when a certificate is asked for after it).
    std::array<const char*, kVariableCount> variables_{};
    // SSL_{SERVER,CLIENT}_{S,I}_DN_*, _SAN_*, SSL_CLIENT_V_REMAIN: (name, value) in c->pool.
    std::vector<std::pair<const char*, const char*>> certificate_parts_;
    // SSL_CLIENT_CERT_CHAIN_n: the PEM of the certificates the client sent after
    // its own, exported like SSL_CLIENT_CERT (GnuTLSExportCertificates).
    std::vector<std::pair<const char*, const char*>> client_chain_;
    std::string client_verify_result_;
};

}  // namespace gtls
