// A client's connection: vhost/protocol selection from the ClientHello (whose
// extensions core/client_hello.cc reads), resumption, asking for a client
// certificate after the handshake, and the handshake's failures in log lines.
#include "httpd/incoming_tls_connection.h"

#include "core/client_hello.h"
#include "httpd/guard.h"
#include "httpd/pool_own.h"
#include "httpd/server_config.h"
#include "httpd/session_cache.h"
#include "httpd/vhost_tls.h"

#include <http_ssl.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace gtls {

namespace {

int client_hello_hook(gnutls_session_t session, unsigned, unsigned, unsigned, const gnutls_datum_t* message) {
    auto* connection = static_cast<IncomingTlsConnection*>(gnutls_session_get_ptr(session));
    return guard(connection->conn()->base_server, "ClientHello hook", GNUTLS_E_INTERNAL_ERROR,
                 [&] { return connection->on_client_hello(message); });
}

// Only with a CA to verify against does GnuTLS keep the handshake transcript
// that asking for a certificate later needs, for clients that offer it.
unsigned incoming_session_flags(server_rec* s) {
    return GNUTLS_SERVER | (global_config(s).offer_post_handshake_auth ? unsigned{GNUTLS_POST_HANDSHAKE_AUTH} : 0u);
}

}  // namespace

IncomingTlsConnection::IncomingTlsConnection(conn_rec* c, VhostTls& default_vhost)
    : TlsConnection(c, incoming_session_flags(c->base_server)), vhost_(&default_vhost) {
    bound_handshake_input_ = true;
    gnutls_handshake_set_max_packet_length(session_.get(), kMaxHandshakeTranscript);
}

IncomingTlsConnection* IncomingTlsConnection::attach(conn_rec* c, VhostTls& default_vhost) {
    auto* connection = pool_own(c->pool, std::make_unique<IncomingTlsConnection>(c, default_vhost));
    gnutls_session_t session = connection->session();
    connection->register_with_connection();
    // Until the ClientHello names a vhost, the address's default vhost answers.
    connection->select_vhost(default_vhost);
    gnutls_handshake_set_hook_function(session, GNUTLS_HANDSHAKE_CLIENT_HELLO, GNUTLS_HOOK_PRE, client_hello_hook);
    attach_session_cache(*connection, c->base_server);
    connection->add_filters();
    return connection;
}

IncomingTlsConnection* IncomingTlsConnection::of(conn_rec* c) {
    if (c == nullptr || c->outgoing) return nullptr;
    return static_cast<IncomingTlsConnection*>(TlsConnection::of(c));
}

const char* IncomingTlsConnection::log_name() const { return vhost_->id().c_str(); }

void IncomingTlsConnection::on_handshake_done() {
    remember_variables();
    if (APLOGcdebug(c_)) {
        // Two events at debug level, as mod_gnutls logs them: a resumed
        // session first, then the open connection.
        const bool resumed = gnutls_session_is_resumed(session_.get());
        if (resumed) {
            ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c_, "GTLS0215: %s: TLS session resumed.", vhost_->id().c_str());
        }
        char* description = gnutls_session_get_desc(session_.get());
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c_, "GTLS0200: %s: TLS connection opened. %s, SNI '%s'",
                      vhost_->id().c_str(), description ? description : "", ap_escape_logitem(c_->pool, sni_.c_str()));
        free_gnutls_memory(description);
    }
}

server_rec* IncomingTlsConnection::server() const { return vhost_->server(); }

unsigned IncomingTlsConnection::session_lifetime_seconds() const { return vhost_->session_lifetime_seconds(); }

void IncomingTlsConnection::select_vhost(VhostTls& vhost) {
    vhost_ = &vhost;
    gnutls_session_t session = session_.get();
    int rc = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, vhost.credentials());
    if (rc < 0) throw std::runtime_error(std::string("gnutls_credentials_set: ") + gnutls_strerror(rc));
    rc = gnutls_priority_set(session, vhost.priorities());
    if (rc < 0) throw std::runtime_error(std::string("gnutls_priority_set: ") + gnutls_strerror(rc));
    switch (vhost.client_verify()) {
        case ClientVerify::Ignore: gnutls_certificate_server_set_request(session, GNUTLS_CERT_IGNORE); break;
        case ClientVerify::Request: gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUEST); break;
        case ClientVerify::Require: gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE); break;
    }
}

// GnuTLS starts a server session with tickets disabled and reads the ticket
// (TLS 1.2 session_ticket, TLS 1.3 pre_shared_key) only after this hook, so
// enabling them here, for the vhost SNI chose, gives each vhost its own key
// and policy: a ticket made for one vhost never decrypts on another, and a
// vhost with tickets off neither issues nor accepts one.
void IncomingTlsConnection::enable_resumption() {
    if (resumption_settled_) return;
    resumption_settled_ = true;
    const unsigned lifetime = vhost_->session_lifetime_seconds();
    if (lifetime == 0) return;
    gnutls_db_set_cache_expiration(session_.get(), static_cast<int>(lifetime));
    if (const gnutls_datum_t* key = vhost_->ticket_key()) {
        if (int rc = gnutls_session_ticket_enable_server(session_.get(), key); rc < 0) {
            ap_log_cerror(APLOG_MARK, APLOG_WARNING, 0, c_, "GTLS0230: %s: session tickets unavailable for this connection: %s",
                          vhost_->id().c_str(), gnutls_strerror(rc));
        }
    }
}

int IncomingTlsConnection::on_client_hello(const gnutls_datum_t* message) {
    ClientHelloExtensions extensions = read_client_hello_extensions(*message);

    if (!extensions.server_name.empty() && !vhost_from_sni_) {
        sni_ = extensions.server_name;
        if (VhostTls* found = global_config(c_->base_server).sni_vhosts.find(c_, sni_)) {
            vhost_from_sni_ = true;
            if (found != vhost_) select_vhost(*found);
        } else {
            ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c_, "GTLS0205: SNI '%s' names no vhost here; using %s",
                          ap_escape_logitem(c_->pool, sni_.c_str()), vhost_->id().c_str());
        }
    }
    if (!extensions.alpn.empty() && !protocol_chosen_) {
        protocol_chosen_ = true;
        select_protocol(extensions.alpn);
        answer_challenge_if_asked();
    }
    if (!answers_challenge_) enable_resumption();
    return 0;
}

// ACME's tls-alpn-01 (RFC 8737): a ClientHello whose ALPN chose a challenge
// protocol (mod_md's acme-tls/1, which `Protocols` must allow) for a name
// mod_md is validating gets mod_md's challenge certificate, for this
// handshake only: no resumption, no client certificate, no request served.
void IncomingTlsConnection::answer_challenge_if_asked() {
    const char* protocol = ap_get_protocol(c_);
    if (sni_.empty() || std::strcmp(protocol, "h2") == 0 || std::strcmp(protocol, "http/1.1") == 0) return;
    const char* certificate_pem = nullptr;
    const char* key_pem = nullptr;
    if (!ap_ssl_answer_challenge(c_, sni_.c_str(), &certificate_pem, &key_pem) || certificate_pem == nullptr ||
        key_pem == nullptr) {
        return;
    }
    gnutls_certificate_credentials_t credentials = nullptr;
    if (int rc = gnutls_certificate_allocate_credentials(&credentials); rc < 0) {
        throw std::runtime_error(std::string("challenge credentials: ") + gnutls_strerror(rc));
    }
    own_credentials_.reset(credentials);
    const gnutls_datum_t certificate{reinterpret_cast<unsigned char*>(const_cast<char*>(certificate_pem)),
                                     static_cast<unsigned>(std::strlen(certificate_pem))};
    const gnutls_datum_t key{reinterpret_cast<unsigned char*>(const_cast<char*>(key_pem)),
                             static_cast<unsigned>(std::strlen(key_pem))};
    if (int rc = gnutls_certificate_set_x509_key_mem2(credentials, &certificate, &key, GNUTLS_X509_FMT_PEM, nullptr, 0);
        rc < 0) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, 0, c_, "GTLS0216: %s: mod_md's %s challenge certificate for '%s' is unusable: %s",
                      vhost_->id().c_str(), protocol, ap_escape_logitem(c_->pool, sni_.c_str()), gnutls_strerror(rc));
        own_credentials_.reset();
        return;
    }
    if (int rc = gnutls_credentials_set(session_.get(), GNUTLS_CRD_CERTIFICATE, credentials); rc < 0) {
        throw std::runtime_error(std::string("gnutls_credentials_set: ") + gnutls_strerror(rc));
    }
    gnutls_certificate_server_set_request(session_.get(), GNUTLS_CERT_IGNORE);
    answers_challenge_ = true;
    ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c_, "GTLS0216: %s: answering the %s challenge for '%s'",
                  vhost_->id().c_str(), protocol, ap_escape_logitem(c_->pool, sni_.c_str()));
}

void IncomingTlsConnection::select_protocol(const std::vector<std::string>& client_protocols) {
    auto* offered = apr_array_make(c_->pool, static_cast<int>(client_protocols.size()), sizeof(char*));
    for (const auto& name : client_protocols) {
        APR_ARRAY_PUSH(offered, const char*) = apr_pstrmemdup(c_->pool, name.data(), name.size());
    }
    const char* chosen = ap_select_protocol(c_, nullptr, server(), offered);
    if (chosen == nullptr) chosen = ap_get_protocol(c_);
    gnutls_datum_t protocol{reinterpret_cast<unsigned char*>(const_cast<char*>(chosen)),
                            static_cast<unsigned>(std::strlen(chosen))};
    gnutls_alpn_set_protocols(session_.get(), &protocol, 1, GNUTLS_ALPN_SERVER_PRECEDENCE);
    if (std::strcmp(chosen, ap_get_protocol(c_)) != 0) {
        apr_status_t rv = ap_switch_protocol(c_, nullptr, server(), chosen);
        if (rv != APR_SUCCESS) {
            throw std::runtime_error(std::string("switching to ALPN protocol '") + chosen + "' failed");
        }
    }
}

bool IncomingTlsConnection::client_was_asked() const {
    return asked_after_handshake_ || vhost_->client_verify() != ClientVerify::Ignore;
}

IncomingTlsConnection::AskOutcome IncomingTlsConnection::ask_for_client_certificate(apr_size_t max_held) {
    gnutls_session_t session = session_.get();
    asked_after_handshake_ = true;
    gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUEST);
    client_verify_result_.clear();
    const apr_size_t held_before = plain_end_ - plain_begin_;
    transport_block_ = APR_BLOCK_READ;
    int rc = GNUTLS_E_AGAIN;
    for (unsigned round = 0; round < kMaxHandshakeRounds; ++round) {
        transport_read_status_ = APR_SUCCESS;
        rc = gnutls_reauth(session, 0);
        if (rc == GNUTLS_E_SUCCESS) {
            // SSL_CLIENT_* now describe the certificate (or its absence).
            remember_variables();
            return AskOutcome::Answered;
        }
        if (rc == GNUTLS_E_GOT_APPLICATION_DATA) {
            // Sent before the client read our request (RFC 8446 section 4.6.2
            // lets it): typically the request body, which stays the request's,
            // in order, after whatever was already decrypted.
            if (plain_end_ - plain_begin_ - held_before >= max_held) return AskOutcome::TooMuchData;
            make_room_for_record();
            ssize_t n = gnutls_record_recv(session, plain_.data() + plain_end_, plain_.size() - plain_end_);
            if (n > 0) {
                plain_end_ += static_cast<apr_size_t>(n);
                continue;
            }
            rc = n == 0 ? GNUTLS_E_PREMATURE_TERMINATION : static_cast<int>(n);
        }
        if (!gnutls_error_is_fatal(rc)) continue;
        break;
    }
    ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c_,
                  "GTLS0245: %s: asking client %s for its certificate after the handshake failed: %s; closing the connection",
                  vhost_->id().c_str(), c_->client_ip,
                  transport_read_status_ != APR_SUCCESS ? "the client went away or timed out" : gnutls_strerror(rc));
    if (transport_read_status_ == APR_SUCCESS && gnutls_error_is_fatal(rc)) send_fatal_alert(rc);
    abort_connection();
    return AskOutcome::Failed;
}

void IncomingTlsConnection::log_handshake_failure(int gnutls_error) {
    const char* vhost = vhost_->id().c_str();
    if (transport_read_status_ == kHandshakeTooLarge && announced_client_hello_ != 0) {
        ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c_,
                      "GTLS0213: %s: client %s announced a ClientHello of %" APR_SIZE_T_FMT " bytes, more than the "
                      "%" APR_SIZE_T_FMT " TLS allows; answering decode_error",
                      vhost, c_->client_ip, announced_client_hello_, kMaxClientHelloBody);
    } else if (transport_read_status_ == kHandshakeTooLarge) {
        ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c_,
                      "GTLS0213: %s: client %s sent %" APR_SIZE_T_FMT " bytes without finishing the TLS handshake, "
                      "more than the %" APR_SIZE_T_FMT " a legal one needs; answering decode_error",
                      vhost, c_->client_ip, handshake_bytes_in_, kMaxHandshakeBytesIn);
    } else if (APR_STATUS_IS_TIMEUP(transport_read_status_)) {
        ap_log_cerror(APLOG_MARK, APLOG_INFO, transport_read_status_, c_,
                      "GTLS0202: %s: TLS handshake with %s timed out", vhost, c_->client_ip);
    } else if (APR_STATUS_IS_EOF(transport_read_status_) || gnutls_error == GNUTLS_E_PREMATURE_TERMINATION) {
        ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c_, "GTLS0203: %s: client %s closed the connection during the TLS handshake",
                      vhost, c_->client_ip);
    } else if (gnutls_error == GNUTLS_E_FATAL_ALERT_RECEIVED) {
        ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c_, "GTLS0201: %s: TLS handshake with %s failed: client sent alert '%s'",
                      vhost, c_->client_ip, gnutls_alert_get_name(gnutls_alert_get(session_.get())));
    } else {
        ap_log_cerror(APLOG_MARK, APLOG_INFO, transport_read_status_, c_, "GTLS0201: %s: TLS handshake with %s failed: %s",
                      vhost, c_->client_ip, gnutls_strerror(gnutls_error));
    }
}

// A browser pointed at http:// on the TLS port gets a readable answer instead of
// an opaque alert, as mod_ssl does.
bool IncomingTlsConnection::answer_plain_text_if_spoken() {
    apr_size_t letters = 0;
    while (letters < first_bytes_length_ && first_bytes_[letters] >= 'A' && first_bytes_[letters] <= 'Z') ++letters;
    if (letters == 0 || letters >= first_bytes_length_ || first_bytes_[letters] != ' ') return false;
    ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c_, "GTLS0207: %s: client %s spoke plain HTTP to the TLS port; answering 400",
                  vhost_->id().c_str(), c_->client_ip);
    apr_brigade_cleanup(ciphertext_out_);
    ciphertext_out_bytes_ = 0;
    static constexpr char kAnswer[] =
        "HTTP/1.1 400 Bad Request\r\n"
        "Content-Type: text/plain\r\n"
        "Connection: close\r\n"
        "Content-Length: 51\r\n"
        "\r\n"
        "This port speaks HTTPS; use an https:// URL here.\r\n";
    APR_BRIGADE_INSERT_TAIL(ciphertext_out_,
                            apr_bucket_immortal_create(kAnswer, sizeof(kAnswer) - 1, c_->bucket_alloc));
    pass_ciphertext(true);
    return true;
}

}  // namespace gtls
