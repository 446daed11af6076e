#include "httpd/client_verification.h"

#include "core/certificate_facts.h"
#include "core/owned.h"
#include "httpd/guard.h"
#include "httpd/server_config.h"
#include "httpd/incoming_tls_connection.h"
#include "httpd/vhost_tls.h"

namespace gtls {

namespace {

// Request data a client may send while it is asked for its certificate (held
// until the request reads it), as mod_ssl's SSLRenegBufferSize default.
constexpr apr_size_t kMaxHeldDuringReauth = 128 * 1024;

// The first of `wanted` the certificate is not fit for, or "" when it is fit for all.
std::string missing_key_purpose(gnutls_x509_crt_t certificate, const std::vector<std::string>& wanted) {
    for (const std::string& purpose : wanted) {
        if (gnutls_x509_crt_check_key_purpose(certificate, purpose.c_str(), 0) == 0) return purpose;
    }
    return "";
}

// "subject (serial S, issuer I)" of the client's certificate, for log lines,
// spelled as SSL_CLIENT_S_DN, _M_SERIAL and _I_DN are.
std::string describe_peer(gnutls_session_t session) {
    const OwnedCrt certificate = peer_certificate(session);
    if (!certificate) return "unreadable";
    try {
        const CertificateFacts facts = describe_certificate(certificate.get());
        return facts.subject_dn + " (serial " + facts.serial_hex + ", issuer " + facts.issuer_dn + ")";
    } catch (const std::runtime_error&) {
        return "unreadable";
    }
}

// The reason a request under `require` is refused, or nullptr when it may go on.
const char* refusal(const std::string& verdict) {
    if (verdict == "SUCCESS") return nullptr;
    if (verdict.empty() || verdict == "NONE") return "the client sent no certificate";
    return verdict.c_str() + sizeof("FAILED:") - 1;
}

// Why the connection cannot be asked for a certificate now, or nullptr.
const char* cannot_ask(const IncomingTlsConnection& connection) {
    if (!connection.vhost()->verifies_clients()) return "no GnuTLSClientCAFile names the CAs to trust";
    if (gnutls_protocol_get_version(connection.session()) != GNUTLS_TLS1_3) {
        return "the connection is TLS 1.2, whose renegotiation mod_gtls refuses";
    }
    if ((gnutls_session_get_flags(connection.session()) & GNUTLS_SFLAGS_POST_HANDSHAKE_AUTH) == 0) {
        return "the client did not offer TLS 1.3 post-handshake authentication";
    }
    return nullptr;
}

int forbid(request_rec* r, const IncomingTlsConnection& connection, const char* reason) {
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "GTLS0242: %s: %s needs a verified client certificate: %s; answering 403",
                  connection.vhost()->id().c_str(), ap_escape_logitem(r->pool, r->uri), reason);
    return HTTP_FORBIDDEN;
}

}  // namespace

OwnedCrt peer_certificate(gnutls_session_t session) {
    unsigned count = 0;
    const gnutls_datum_t* peers = gnutls_certificate_get_peers(session, &count);
    if (peers == nullptr || count == 0) return nullptr;
    gnutls_x509_crt_t raw = nullptr;
    if (gnutls_x509_crt_init(&raw) < 0) return nullptr;
    OwnedCrt certificate(raw);
    if (gnutls_x509_crt_import(raw, &peers[0], GNUTLS_X509_FMT_DER) < 0) return nullptr;
    return certificate;
}

std::string client_certificate_verdict(gnutls_session_t session, const std::vector<std::string>& key_purposes) {
    unsigned count = 0;
    if (gnutls_certificate_get_peers(session, &count) == nullptr || count == 0) return "NONE";
    unsigned status = 0;
    if (int rc = gnutls_certificate_verify_peers2(session, &status); rc < 0) {
        return std::string("FAILED:") + gnutls_strerror(rc);
    }
    if (status == 0) {
        const OwnedCrt certificate = peer_certificate(session);
        const std::string missing = certificate ? missing_key_purpose(certificate.get(), key_purposes)
                                                : key_purposes.empty() ? "" : key_purposes.front();
        return missing.empty() ? "SUCCESS" : "FAILED:the certificate lacks key purpose " + missing;
    }
    OwnedDatum reason;
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, reason.out(), 0) < 0) {
        return "FAILED:verification failed";
    }
    std::string text(reinterpret_cast<const char*>(reason.data()), reason.size());
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return "FAILED:" + text;
}

int verify_client_certificate(gnutls_session_t session) noexcept {
    auto* connection = static_cast<IncomingTlsConnection*>(gnutls_session_get_ptr(session));
    return guard(connection->conn()->base_server, "client certificate verification", GNUTLS_E_CERTIFICATE_ERROR, [&] {
        std::string verdict = client_certificate_verdict(session, connection->vhost()->client_key_purposes());
        if (verdict.starts_with("FAILED")) {
            ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, connection->conn(),
                          "GTLS0240: %s: client certificate %s does not verify: %s", connection->vhost()->id().c_str(),
                          describe_peer(session).c_str(), verdict.c_str() + sizeof("FAILED:") - 1);
        }
        connection->set_client_verify_result(std::move(verdict));
        return 0;
    });
}

int check_client_certificate(request_rec* r) {
    return guard(r->server, "client certificate check", HTTP_INTERNAL_SERVER_ERROR, [&] {
        const std::optional<ClientVerify>& in_directory = directory_config(r).client_verify;
        IncomingTlsConnection* connection = IncomingTlsConnection::of(r->connection);
        if (connection == nullptr) {
            // Never served without a certificate just because it came over plain HTTP.
            if (in_directory != ClientVerify::Require) return DECLINED;
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          "GTLS0242: %s needs a verified client certificate: the request did not come over TLS; "
                          "answering 403", ap_escape_logitem(r->pool, r->uri));
            return HTTP_FORBIDDEN;
        }
        const ClientVerify wanted = in_directory.value_or(connection->vhost()->client_verify());
        if (wanted == ClientVerify::Ignore) return DECLINED;
        if (!connection->client_was_asked()) {
            if (const char* why = cannot_ask(*connection)) {
                if (wanted == ClientVerify::Request) return DECLINED;
                return forbid(r, *connection, why);
            }
            if (r->connection->master != nullptr) {
                // mod_http2 turns this note and the 403 into HTTP_1_1_REQUIRED:
                // the client asks again over HTTP/1.1, where the handshake messages
                // cannot land in the middle of other streams.
                ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                              "GTLS0243: %s: %s needs a client certificate, which HTTP/2 cannot ask for after the "
                              "handshake; telling the client to use HTTP/1.1",
                              connection->vhost()->id().c_str(), ap_escape_logitem(r->pool, r->uri));
                apr_table_setn(r->notes, "ssl-renegotiate-forbidden", "verify-client");
                return HTTP_FORBIDDEN;
            }
            switch (connection->ask_for_client_certificate(kMaxHeldDuringReauth)) {
                case IncomingTlsConnection::AskOutcome::Answered: break;
                case IncomingTlsConnection::AskOutcome::TooMuchData:
                    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                                  "GTLS0244: %s: the client sent more than %" APR_SIZE_T_FMT " bytes of request data "
                                  "before answering the request for its certificate; answering 413",
                                  connection->vhost()->id().c_str(), kMaxHeldDuringReauth);
                    r->connection->keepalive = AP_CONN_CLOSE;
                    return HTTP_REQUEST_ENTITY_TOO_LARGE;
                case IncomingTlsConnection::AskOutcome::Failed:
                    // Logged (GTLS0245) and the connection closed by the connection itself.
                    return HTTP_FORBIDDEN;
            }
        }
        if (wanted == ClientVerify::Request) return DECLINED;
        if (const char* why = refusal(connection->client_verify_result())) return forbid(r, *connection, why);
        return DECLINED;
    });
}

}  // namespace gtls
