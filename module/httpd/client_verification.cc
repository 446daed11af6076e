#include "httpd/client_verification.h"

#include "core/owned.h"
#include "httpd/guard.h"
#include "httpd/tls_connection.h"
#include "httpd/vhost_tls.h"

#include <algorithm>

namespace gtls {

namespace {

// The first of `wanted` the certificate does not list as an extended key
// usage, or "" when it has them all.
std::string missing_key_purpose(const gnutls_datum_t& der, const std::vector<std::string>& wanted) {
    if (wanted.empty()) return "";
    gnutls_x509_crt_t raw = nullptr;
    if (gnutls_x509_crt_init(&raw) < 0) return wanted.front();
    OwnedCrt certificate(raw);
    if (gnutls_x509_crt_import(raw, &der, GNUTLS_X509_FMT_DER) < 0) return wanted.front();
    std::vector<std::string> present;
    for (unsigned index = 0;; ++index) {
        char oid[128];
        size_t size = sizeof(oid);
        if (gnutls_x509_crt_get_key_purpose_oid(raw, index, oid, &size, nullptr) < 0) break;
        present.emplace_back(oid);
    }
    for (const std::string& purpose : wanted) {
        if (std::find(present.begin(), present.end(), purpose) == present.end()) return purpose;
    }
    return "";
}

}  // namespace

std::string client_certificate_verdict(gnutls_session_t session, const std::vector<std::string>& key_purposes) {
    unsigned count = 0;
    const gnutls_datum_t* peers = gnutls_certificate_get_peers(session, &count);
    if (peers == nullptr || count == 0) return "NONE";
    unsigned status = 0;
    if (int rc = gnutls_certificate_verify_peers2(session, &status); rc < 0) {
        return std::string("FAILED:") + gnutls_strerror(rc);
    }
    if (status == 0) {
        const std::string missing = missing_key_purpose(peers[0], key_purposes);
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
    auto* connection = static_cast<TlsConnection*>(gnutls_session_get_ptr(session));
    return guard(connection->conn()->base_server, "client certificate verification", GNUTLS_E_CERTIFICATE_ERROR, [&] {
        std::string verdict = client_certificate_verdict(session, connection->vhost()->client_key_purposes());
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
