// mod_ssl's SSL_* variable names, answered from the GnuTLS session, so
// mod_rewrite, mod_headers, mod_log_config and CGI see a mod_gtls connection
// the way they see a mod_ssl one.
#include "httpd/tls_connection.h"
#include "httpd/vhost_tls.h"

#include <cstring>
#include <string_view>

namespace gtls {

namespace {

const char* protocol_name(gnutls_protocol_t version) {
    switch (version) {
        case GNUTLS_TLS1_0: return "TLSv1";
        case GNUTLS_TLS1_1: return "TLSv1.1";
        case GNUTLS_TLS1_2: return "TLSv1.2";
        case GNUTLS_TLS1_3: return "TLSv1.3";
        default: return gnutls_protocol_get_name(version);
    }
}

// The facts of the certificate GnuTLS sent in this session: one of the vhost's
// chains, whose facts were worked out when it was loaded.
const CertificateFacts* served_certificate(gnutls_session_t session, const VhostTls& vhost) {
    const gnutls_datum_t* ours = gnutls_certificate_get_ours(session);
    if (ours == nullptr) return nullptr;
    const std::string_view sent(reinterpret_cast<const char*>(ours->data), ours->size);
    for (const ServedChain& chain : vhost.chains()) {
        if (chain.leaf_facts.der == sent) return &chain.leaf_facts;
    }
    return nullptr;
}

// The strings live as long as the configuration generation, which outlives
// every connection it serves.
const char* server_certificate_variable(const CertificateFacts& facts, const char* field) {
    if (std::strcmp(field, "CERT") == 0) return facts.pem.c_str();
    if (std::strcmp(field, "S_DN") == 0) return facts.subject_dn.c_str();
    if (std::strcmp(field, "I_DN") == 0) return facts.issuer_dn.c_str();
    if (std::strcmp(field, "M_SERIAL") == 0) return facts.serial_hex.c_str();
    if (std::strcmp(field, "M_VERSION") == 0) return facts.version.c_str();
    if (std::strcmp(field, "V_START") == 0) return facts.not_before.c_str();
    if (std::strcmp(field, "V_END") == 0) return facts.not_after.c_str();
    if (std::strcmp(field, "A_KEY") == 0) return facts.key_algorithm.empty() ? nullptr : facts.key_algorithm.c_str();
    if (std::strcmp(field, "A_SIG") == 0) {
        return facts.signature_algorithm.empty() ? nullptr : facts.signature_algorithm.c_str();
    }
    return nullptr;
}

}  // namespace

const char* TlsConnection::variable(const char* name) {
    if (name == nullptr) return nullptr;
    if (!handshake_done_) return compute_variable(name);
    if (variables_ == nullptr) variables_ = apr_table_make(c_->pool, 24);
    if (const char* cached = apr_table_get(variables_, name)) return cached;
    const char* value = compute_variable(name);
    if (value != nullptr) apr_table_setn(variables_, apr_pstrdup(c_->pool, name), value);
    return value;
}

const char* TlsConnection::compute_variable(const char* name) {
    if (strcasecmp(name, "HTTPS") == 0) return "on";
    if (strncasecmp(name, "SSL_", 4) != 0) return nullptr;
    const char* field = name + 4;
    apr_pool_t* pool = c_->pool;
    gnutls_session_t session = session_.get();

    if (strcasecmp(field, "VERSION_LIBRARY") == 0) return apr_pstrcat(pool, "GnuTLS/", gnutls_check_version(nullptr), nullptr);
    if (strcasecmp(field, "VERSION_INTERFACE") == 0) return "mod_gtls/" GTLS_VERSION;
    if (strcasecmp(field, "TLS_SNI") == 0) return sni_.empty() ? nullptr : apr_pstrdup(pool, sni_.c_str());
    if (strcasecmp(field, "CLIENT_VERIFY") == 0) return "NONE";
    if (strcasecmp(field, "COMPRESS_METHOD") == 0) return "NULL";
    if (!handshake_done_) return nullptr;

    if (strcasecmp(field, "PROTOCOL") == 0) return protocol_name(gnutls_protocol_get_version(session));
    if (strcasecmp(field, "CIPHER") == 0) return gnutls_ciphersuite_get(session);
    if (strcasecmp(field, "CIPHER_USEKEYSIZE") == 0 || strcasecmp(field, "CIPHER_ALGKEYSIZE") == 0) {
        return apr_itoa(pool, static_cast<int>(gnutls_cipher_get_key_size(gnutls_cipher_get(session)) * 8));
    }
    if (strcasecmp(field, "CIPHER_EXPORT") == 0) return "false";
    if (strcasecmp(field, "SESSION_RESUMED") == 0) return gnutls_session_is_resumed(session) ? "Resumed" : "Initial";
    if (strcasecmp(field, "SECURE_RENEG") == 0) return gnutls_safe_renegotiation_status(session) ? "true" : "false";
    if (strcasecmp(field, "SESSION_ID") == 0) {
        unsigned char id[GNUTLS_MAX_SESSION_ID_SIZE];
        size_t size = sizeof(id);
        if (gnutls_session_get_id(session, id, &size) < 0 || size == 0) return nullptr;
        char* hex = static_cast<char*>(apr_palloc(pool, size * 2 + 1));
        ap_bin2hex(id, size, hex);
        return hex;
    }
    if (strncasecmp(field, "SERVER_", 7) == 0) {
        const CertificateFacts* facts = served_certificate(session, *vhost_);
        return facts ? server_certificate_variable(*facts, field + 7) : nullptr;
    }
    return nullptr;
}

}  // namespace gtls
