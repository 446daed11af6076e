#include "httpd/client_verification.h"

#include "core/owned.h"
#include "httpd/guard.h"
#include "httpd/tls_connection.h"
#include "httpd/vhost_tls.h"

namespace gtls {

std::string client_certificate_verdict(gnutls_session_t session) {
    unsigned count = 0;
    const gnutls_datum_t* peers = gnutls_certificate_get_peers(session, &count);
    if (peers == nullptr || count == 0) return "NONE";
    unsigned status = 0;
    if (int rc = gnutls_certificate_verify_peers2(session, &status); rc < 0) {
        return std::string("FAILED:") + gnutls_strerror(rc);
    }
    if (status == 0) return "SUCCESS";
    OwnedDatum reason;
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, reason.out(), 0) < 0) {
        return "FAILED:verification failed";
    }
    std::string text(reinterpret_cast<const char*>(reason.data()), reason.size());
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return "FAILED:" + text;
}

int verify_client_certificate(gnutls_session_t session) noexcept {
    auto* connection = static_cast<TlsConnection*>(gnutls_session_get_ptr(session));
    return guard(connection->conn()->base_server, "client certificate verification", GNUTLS_E_CERTIFICATE_ERROR, [&] {
        std::string verdict = client_certificate_verdict(session);
        const bool required = connection->vhost()->client_verify() == ClientVerify::Require;
        if (verdict.starts_with("FAILED")) {
            ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, connection->conn(),
                          "GTLS0240: %s: client certificate %s: %s", connection->vhost()->id().c_str(),
                          required ? "refused" : "not verified, served anyway (GnuTLSClientVerify request)",
                          verdict.c_str() + 7);
        }
        connection->set_client_verify_result(std::move(verdict));
        return required && connection->client_verify_result() != "SUCCESS" ? GNUTLS_E_CERTIFICATE_ERROR : 0;
    });
}

}  // namespace gtls
