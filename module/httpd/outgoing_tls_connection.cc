#include "httpd/outgoing_tls_connection.h"

#include "httpd/guard.h"
#include "httpd/pool_own.h"
#include "httpd/proxy_tls.h"

#include <arpa/inet.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace gtls {

namespace {

// The notes mod_proxy (proxy_util.c, mod_proxy_http2) leaves on a backend
// connection for the TLS module, as mod_ssl reads them.
constexpr const char* kHostnameNote = "proxy-request-hostname";
constexpr const char* kAlpnNote = "proxy-request-alpn-protos";

bool is_ip_literal(const std::string& name) {
    unsigned char address[16];
    return inet_pton(AF_INET, name.c_str(), address) == 1 || inet_pton(AF_INET6, name.c_str(), address) == 1;
}

// mod_proxy writes the protocols separated by commas or spaces.
std::vector<std::string_view> split_protocols(std::string_view list) {
    std::vector<std::string_view> protocols;
    while (!list.empty()) {
        const std::size_t end = list.find_first_of(", ");
        if (end != 0) protocols.push_back(list.substr(0, end));
        if (end == std::string_view::npos) break;
        list.remove_prefix(end + 1);
    }
    return protocols;
}

void throw_on_error(int rc, const char* what) {
    if (rc < 0) throw std::runtime_error(std::string(what) + ": " + gnutls_strerror(rc));
}

}  // namespace

OutgoingTlsConnection::OutgoingTlsConnection(conn_rec* c, ProxyTls& proxy) : TlsConnection(c, GNUTLS_CLIENT), proxy_(proxy) {}

OutgoingTlsConnection* OutgoingTlsConnection::bind(conn_rec* c, ProxyTls& proxy) {
    if (OutgoingTlsConnection* bound = of(c); bound != nullptr && &bound->proxy_ == &proxy) return bound;
    auto* connection = pool_own(c->pool, std::make_unique<OutgoingTlsConnection>(c, proxy));
    connection->register_with_connection();
    return connection;
}

void OutgoingTlsConnection::unbind(conn_rec* c) {
    if (of(c) != nullptr) ap_set_module_config(c->conn_config, &gtls_module, nullptr);
}

OutgoingTlsConnection* OutgoingTlsConnection::of(conn_rec* c) {
    if (c == nullptr || !c->outgoing) return nullptr;
    return static_cast<OutgoingTlsConnection*>(TlsConnection::of(c));
}

const char* OutgoingTlsConnection::log_name() const { return proxy_.id().c_str(); }

void OutgoingTlsConnection::start() {
    if (started_) return;
    // Until prepare_handshake() knows the backend's name.
    backend_ = std::string(c_->client_ip) + ":" + std::to_string(c_->client_addr != nullptr ? c_->client_addr->port : 0);
    add_filters();
    started_ = true;
}

void OutgoingTlsConnection::prepare_handshake() {
    gnutls_session_t session = session_.get();
    const char* hostname = apr_table_get(c_->notes, kHostnameNote);
    hostname_ = hostname != nullptr ? hostname : "";
    const std::string address = backend_;
    if (!hostname_.empty()) backend_ = hostname_ + " (" + address + ")";
    session_key_ = hostname_ + "@" + address;

    throw_on_error(gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, proxy_.credentials()), "gnutls_credentials_set");
    throw_on_error(gnutls_priority_set(session, proxy_.priorities()), "gnutls_priority_set");
    // RFC 6066 section 3: SNI carries host names only, never an address.
    if (!hostname_.empty() && !is_ip_literal(hostname_)) {
        throw_on_error(gnutls_server_name_set(session, GNUTLS_NAME_DNS, hostname_.data(), hostname_.size()),
                       "gnutls_server_name_set");
    }
    // The handshake fails (bad_certificate) unless the backend's chain leads
    // to a trusted CA, is in date, is not revoked by a loaded CRL and, unless
    // GnuTLSProxyCheckPeerName is Off, names the host mod_proxy connects to
    // (an address is matched against the certificate's IP addresses).
    // GnuTLS keeps the pointer, not a copy: the name lives as long as the session.
    if (hostname_.empty()) hostname_ = c_->client_ip;
    gnutls_session_set_verify_cert(session, proxy_.check_peer_name() ? hostname_.c_str() : nullptr, 0);

    if (const char* alpn = apr_table_get(c_->notes, kAlpnNote); alpn != nullptr && *alpn != '\0') {
        alpn_wanted_ = alpn;
        std::vector<gnutls_datum_t> protocols;
        for (std::string_view protocol : split_protocols(alpn_wanted_)) {
            protocols.push_back({reinterpret_cast<unsigned char*>(const_cast<char*>(protocol.data())),
                                 static_cast<unsigned>(protocol.size())});
        }
        throw_on_error(gnutls_alpn_set_protocols(session, protocols.data(), static_cast<unsigned>(protocols.size()), 0),
                       "gnutls_alpn_set_protocols");
    }

    if (std::shared_ptr<const SessionData> resumable = proxy_.sessions().find(session_key_)) {
        const std::vector<unsigned char>& bytes = resumable->bytes();
        if (gnutls_session_set_data(session, bytes.data(), bytes.size()) < 0) {
            ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c_, "GTLS0254: %s: stored session for backend %s not usable",
                          log_name(), backend_.c_str());
        }
    }
    // TLS 1.3 servers send their tickets after the handshake.
    gnutls_handshake_set_hook_function(session, GNUTLS_HANDSHAKE_NEW_SESSION_TICKET, GNUTLS_HOOK_POST,
                                       new_session_ticket_hook);
}

int OutgoingTlsConnection::new_session_ticket_hook(gnutls_session_t session, unsigned, unsigned, unsigned,
                                                   const gnutls_datum_t*) {
    auto* connection = static_cast<OutgoingTlsConnection*>(gnutls_session_get_ptr(session));
    // Never fails the connection: without the ticket the next one does a full handshake.
    return guard(connection->c_->base_server, "NewSessionTicket hook", 0, [&] {
        connection->keep_session();
        return 0;
    });
}

void OutgoingTlsConnection::keep_session() {
    OwnedDatum data;
    if (gnutls_session_get_data2(session_.get(), data.out()) < 0 || data.size() == 0) return;
    std::vector<unsigned char> bytes(data.data(), data.data() + data.size());
    gnutls_memset(const_cast<unsigned char*>(data.data()), 0, data.size());
    proxy_.sessions().store(session_key_, std::move(bytes));
}

void OutgoingTlsConnection::on_handshake_done() {
    gnutls_session_t session = session_.get();
    if (!alpn_wanted_.empty()) {
        gnutls_datum_t selected{nullptr, 0};
        bool agreed = false;
        if (gnutls_alpn_get_selected_protocol(session, &selected) == 0) {
            const std::string_view chosen(reinterpret_cast<const char*>(selected.data), selected.size);
            for (std::string_view wanted : split_protocols(alpn_wanted_)) agreed = agreed || wanted == chosen;
        }
        if (!agreed) {
            // mod_proxy_http2 must not speak h2 to a backend that did not agree to it.
            ap_log_cerror(APLOG_MARK, APLOG_ERR, 0, c_,
                          "GTLS0252: %s: backend %s did not agree to any of the protocols [%s] asked for by ALPN; "
                          "closing the connection",
                          log_name(), backend_.c_str(), alpn_wanted_.c_str());
            send_fatal_alert(GNUTLS_E_NO_APPLICATION_PROTOCOL);
            abort_connection();
            return;
        }
    }
    const bool resumed = gnutls_session_is_resumed(session);
    // TLS 1.2 sessions (and tickets) are complete now; TLS 1.3 tickets come later.
    if (gnutls_protocol_get_version(session) != GNUTLS_TLS1_3 && !resumed) keep_session();
    if (APLOGcdebug(c_)) {
        char* description = gnutls_session_get_desc(session);
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c_, "GTLS0253: %s: TLS connection to backend %s opened: %s%s",
                      log_name(), backend_.c_str(), description ? description : "", resumed ? ", resumed" : "");
        free_gnutls_memory(description);
    }
}

void OutgoingTlsConnection::log_handshake_failure(int gnutls_error) {
    std::string reason;
    if (gnutls_error == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
        OwnedDatum status_text;
        const unsigned status = gnutls_session_get_verify_cert_status(session_.get());
        reason = "its certificate is not accepted";
        if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, status_text.out(), 0) == 0) {
            reason += ": " + std::string(reinterpret_cast<const char*>(status_text.data()), status_text.size());
        }
        if (status & GNUTLS_CERT_UNEXPECTED_OWNER) reason += " (it is not for '" + hostname_ + "')";
        reason += " (trusting " + proxy_.trust_description() + ")";
    } else if (gnutls_error == GNUTLS_E_FATAL_ALERT_RECEIVED) {
        reason = std::string("the backend sent alert '") + gnutls_alert_get_name(gnutls_alert_get(session_.get())) + "'";
    } else if (APR_STATUS_IS_TIMEUP(transport_read_status_)) {
        reason = "timed out";
    } else if (APR_STATUS_IS_EOF(transport_read_status_) || gnutls_error == GNUTLS_E_PREMATURE_TERMINATION) {
        reason = "the backend closed the connection";
    } else {
        reason = gnutls_strerror(gnutls_error);
    }
    ap_log_cerror(APLOG_MARK, APLOG_ERR, 0, c_, "GTLS0251: %s: TLS handshake with backend %s failed: %s",
                  log_name(), backend_.c_str(), reason.c_str());
}

// mod_proxy answers a request it could not send with a bare 502, and one whose
// response it could not read with its "Proxy Error" page naming the failure,
// as mod_gnutls has it behave: the request is dropped here, and the read that
// follows reports the aborted connection.
apr_status_t OutgoingTlsConnection::write_after_failed_handshake(apr_status_t handshake_status) {
    if (failure_reported_) return handshake_status;
    failure_reported_ = true;
    return APR_SUCCESS;
}

}  // namespace gtls
