// Session setup, vhost/protocol selection from the ClientHello (whose
// extensions core/client_hello.cc reads), and the handshake driver. The
// byte-moving parts (transport and filters) are in io_filters.cc.
#include "httpd/tls_connection.h"

#include "core/client_hello.h"
#include "httpd/guard.h"
#include "httpd/io_filters.h"
#include "httpd/pool_own.h"
#include "httpd/server_config.h"
#include "httpd/session_cache.h"
#include "httpd/vhost_tls.h"

#include <cstring>
#include <memory>
#include <stdexcept>

namespace gtls {

namespace {

constexpr unsigned kMaxHandshakeRounds = 10000;

int client_hello_hook(gnutls_session_t session, unsigned, unsigned, unsigned, const gnutls_datum_t* message) {
    auto* connection = static_cast<TlsConnection*>(gnutls_session_get_ptr(session));
    return guard(connection->conn()->base_server, "ClientHello hook", GNUTLS_E_INTERNAL_ERROR,
                 [&] { return connection->on_client_hello(message); });
}

}  // namespace

TlsConnection::TlsConnection(conn_rec* c, VhostTls& default_vhost) : c_(c), vhost_(&default_vhost) {
    gnutls_session_t session = nullptr;
    unsigned flags = GNUTLS_SERVER | GNUTLS_NO_SIGNAL | GNUTLS_NONBLOCK;
    // Only then does GnuTLS keep the handshake transcript that asking for a
    // certificate later needs, for clients that offer it.
    if (global_config(c->base_server).offer_post_handshake_auth) flags |= GNUTLS_POST_HANDSHAKE_AUTH;
    int rc = gnutls_init(&session, flags);
    if (rc < 0) throw std::runtime_error(std::string("gnutls_init: ") + gnutls_strerror(rc));
    session_.reset(session);
    gnutls_handshake_set_max_packet_length(session, kMaxHandshakeTranscript);
}

TlsConnection* TlsConnection::attach(conn_rec* c, VhostTls& default_vhost) {
    auto* connection = pool_own(c->pool, std::make_unique<TlsConnection>(c, default_vhost));
    gnutls_session_t session = connection->session();
    gnutls_session_set_ptr(session, connection);
    // Until the ClientHello names a vhost, the address's default vhost answers.
    connection->select_vhost(default_vhost);
    gnutls_handshake_set_hook_function(session, GNUTLS_HANDSHAKE_CLIENT_HELLO, GNUTLS_HOOK_PRE, client_hello_hook);
    attach_session_cache(*connection, c->base_server);
    Transport::install(*connection);
    ap_set_module_config(c->conn_config, &gtls_module, connection);
    connection->input_filter_ = ap_add_input_filter(kInputFilterName, connection, nullptr, c);
    connection->output_filter_ = ap_add_output_filter(kOutputFilterName, connection, nullptr, c);
    return connection;
}

TlsConnection* TlsConnection::of(conn_rec* c) {
    if (c == nullptr) return nullptr;
    if (c->master != nullptr) c = c->master;
    return static_cast<TlsConnection*>(ap_get_module_config(c->conn_config, &gtls_module));
}

server_rec* TlsConnection::server() const { return vhost_->server(); }

unsigned TlsConnection::session_lifetime_seconds() const { return vhost_->session_lifetime_seconds(); }

void TlsConnection::select_vhost(VhostTls& vhost) {
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
void TlsConnection::enable_resumption() {
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

int TlsConnection::on_client_hello(const gnutls_datum_t* message) {
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
    enable_resumption();
    if (!extensions.alpn.empty() && !protocol_chosen_) {
        protocol_chosen_ = true;
        select_protocol(extensions.alpn);
    }
    return 0;
}

void TlsConnection::select_protocol(const std::vector<std::string>& client_protocols) {
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

apr_status_t TlsConnection::handshake(apr_read_type_e block) {
    if (handshake_done_) return APR_SUCCESS;
    if (failed_) return APR_ECONNABORTED;
    transport_block_ = block;
    for (unsigned round = 0; round < kMaxHandshakeRounds; ++round) {
        transport_read_status_ = APR_SUCCESS;
        int rc = gnutls_handshake(session_.get());
        if (rc == GNUTLS_E_SUCCESS) {
            handshake_done_ = true;
            tls13_ = gnutls_protocol_get_version(session_.get()) == GNUTLS_TLS1_3;
            remember_variables();
            if (APLOGctrace1(c_)) {
                char* description = gnutls_session_get_desc(session_.get());
                ap_log_cerror(APLOG_MARK, APLOG_TRACE1, 0, c_, "GTLS0200: %s: handshake done: %s, SNI '%s'%s",
                              vhost_->id().c_str(), description ? description : "", sni_.c_str(),
                              gnutls_session_is_resumed(session_.get()) ? ", resumed" : "");
                free_gnutls_memory(description);
            }
            return pass_ciphertext(true);
        }
        if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
            if (APR_STATUS_IS_EAGAIN(transport_read_status_)) {
                apr_status_t rv = pass_ciphertext(true);
                return rv == APR_SUCCESS ? APR_EAGAIN : rv;
            }
            continue;
        }
        if (!gnutls_error_is_fatal(rc)) continue;
        log_handshake_failure(rc);
        // Tell the client why (RFC 8446 section 6.2), unless it spoke plain HTTP or is gone.
        // A handshake longer than TLS allows is a decode_error: its messages
        // cannot all be within their legal lengths.
        if (transport_read_status_ == kHandshakeTooLarge) {
            transport_read_status_ = APR_SUCCESS;
            rc = GNUTLS_E_HANDSHAKE_TOO_LARGE;
        }
        if (!answer_plain_http_if_spoken() && transport_read_status_ == APR_SUCCESS) send_fatal_alert(rc);
        abort_connection();
        if (transport_read_status_ != APR_SUCCESS && !APR_STATUS_IS_EOF(transport_read_status_)) {
            return transport_read_status_;
        }
        return APR_ECONNABORTED;
    }
    ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c_, "GTLS0206: %s: handshake with %s made no progress; dropping it",
                  vhost_->id().c_str(), c_->client_ip);
    abort_connection();
    return APR_ECONNABORTED;
}

bool TlsConnection::client_was_asked() const {
    return asked_after_handshake_ || vhost_->client_verify() != ClientVerify::Ignore;
}

TlsConnection::AskOutcome TlsConnection::ask_for_client_certificate(apr_size_t max_held) {
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

void TlsConnection::log_handshake_failure(int gnutls_error) {
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
bool TlsConnection::answer_plain_http_if_spoken() {
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

void TlsConnection::send_fatal_alert(int gnutls_error) {
    if (transport_write_status_ != APR_SUCCESS || gnutls_error == GNUTLS_E_FATAL_ALERT_RECEIVED) return;
    int rc = gnutls_alert_send_appropriate(session_.get(), gnutls_error);
    if (rc < 0) {
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c_, "GTLS0214: %s: could not send an alert to %s: %s",
                      vhost_->id().c_str(), c_->client_ip, gnutls_strerror(rc));
    }
    pass_ciphertext(true);
}

void TlsConnection::abort_connection() {
    failed_ = true;
    c_->aborted = 1;
    c_->keepalive = AP_CONN_CLOSE;
}

int start_tls_connection(conn_rec* c, void*) {
    if (c->master != nullptr || c->outgoing) return DECLINED;  // h2 streams ride on the master's TLS
    VhostTls* tls = server_config(c->base_server).tls;
    if (tls == nullptr) return DECLINED;
    return guard(c->base_server, "pre_connection", DONE, [&] {
        try {
            TlsConnection::attach(c, *tls);
            return OK;
        } catch (...) {
            // Never fall back to plaintext on a TLS address.
            c->aborted = 1;
            throw;
        }
    });
}

}  // namespace gtls
