// The handshake driver and connection set-up both directions share. The
// byte-moving parts (transport, record I/O, filters) are in io_filters.cc.
#include "httpd/tls_connection.h"

#include "httpd/guard.h"
#include "httpd/incoming_tls_connection.h"
#include "httpd/io_filters.h"
#include "httpd/outgoing_tls_connection.h"
#include "httpd/server_config.h"

#include <stdexcept>

namespace gtls {

TlsConnection::TlsConnection(conn_rec* c, unsigned flags) : c_(c) {
    gnutls_session_t session = nullptr;
    int rc = gnutls_init(&session, flags | GNUTLS_NO_SIGNAL | GNUTLS_NONBLOCK);
    if (rc < 0) throw std::runtime_error(std::string("gnutls_init: ") + gnutls_strerror(rc));
    session_.reset(session);
}

TlsConnection* TlsConnection::of(conn_rec* c) {
    if (c == nullptr) return nullptr;
    if (c->master != nullptr) c = c->master;
    return static_cast<TlsConnection*>(ap_get_module_config(c->conn_config, &gtls_module));
}

void TlsConnection::register_with_connection() {
    gnutls_session_set_ptr(session_.get(), this);
    ap_set_module_config(c_->conn_config, &gtls_module, this);
}

void TlsConnection::add_filters() {
    Transport::install(*this);
    input_filter_ = ap_add_input_filter(kInputFilterName, this, nullptr, c_);
    output_filter_ = ap_add_output_filter(kOutputFilterName, this, nullptr, c_);
}

apr_status_t TlsConnection::handshake(apr_read_type_e block) {
    if (handshake_done_) return APR_SUCCESS;
    if (failed_) return APR_ECONNABORTED;
    if (!handshake_started_) {
        handshake_started_ = true;
        prepare_handshake();
    }
    transport_block_ = block;
    for (unsigned round = 0; round < kMaxHandshakeRounds; ++round) {
        transport_read_status_ = APR_SUCCESS;
        int rc = gnutls_handshake(session_.get());
        if (rc == GNUTLS_E_SUCCESS) {
            handshake_done_ = true;
            tls13_ = gnutls_protocol_get_version(session_.get()) == GNUTLS_TLS1_3;
            on_handshake_done();
            if (failed_) return APR_ECONNABORTED;
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
        // Tell the peer why (RFC 8446 section 6.2), unless it spoke plain HTTP or is gone.
        // A handshake longer than TLS allows is a decode_error: its messages
        // cannot all be within their legal lengths.
        if (transport_read_status_ == kHandshakeTooLarge) {
            transport_read_status_ = APR_SUCCESS;
            rc = GNUTLS_E_HANDSHAKE_TOO_LARGE;
        }
        if (!answer_plain_text_if_spoken() && transport_read_status_ == APR_SUCCESS) send_fatal_alert(rc);
        abort_connection();
        if (transport_read_status_ != APR_SUCCESS && !APR_STATUS_IS_EOF(transport_read_status_)) {
            return transport_read_status_;
        }
        return APR_ECONNABORTED;
    }
    ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c_, "GTLS0206: %s: handshake with %s made no progress; dropping it",
                  log_name(), peer_name());
    abort_connection();
    return APR_ECONNABORTED;
}

void TlsConnection::send_fatal_alert(int gnutls_error) {
    if (transport_write_status_ != APR_SUCCESS || gnutls_error == GNUTLS_E_FATAL_ALERT_RECEIVED) return;
    int rc = gnutls_alert_send_appropriate(session_.get(), gnutls_error);
    if (rc < 0) {
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c_, "GTLS0214: %s: could not send an alert to %s: %s",
                      log_name(), peer_name(), gnutls_strerror(rc));
    }
    pass_ciphertext(true);
}

void TlsConnection::abort_connection() {
    failed_ = true;
    c_->aborted = 1;
    c_->keepalive = AP_CONN_CLOSE;
}

int start_tls_connection(conn_rec* c, void*) {
    if (c->master != nullptr) return DECLINED;  // h2 streams ride on the master's TLS
    if (c->outgoing) {
        OutgoingTlsConnection* outgoing = OutgoingTlsConnection::of(c);
        if (outgoing == nullptr) return DECLINED;
        return guard(c->base_server, "pre_connection", DONE, [&] {
            try {
                outgoing->start();
                return OK;
            } catch (...) {
                // Never talk to the backend in plaintext instead.
                c->aborted = 1;
                throw;
            }
        });
    }
    VhostTls* tls = server_config(c->base_server).tls;
    if (tls == nullptr) return DECLINED;
    return guard(c->base_server, "pre_connection", DONE, [&] {
        try {
            IncomingTlsConnection::attach(c, *tls);
            return OK;
        } catch (...) {
            // Never fall back to plaintext on a TLS address.
            c->aborted = 1;
            throw;
        }
    });
}

}  // namespace gtls
