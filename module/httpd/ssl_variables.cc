// mod_ssl's SSL_* variable names, answered from the GnuTLS session, so
// mod_rewrite, mod_headers, mod_log_config and CGI see a mod_gtls connection
// the way they see a mod_ssl one.
#include "core/owned.h"
#include "httpd/client_verification.h"
#include "httpd/pool_own.h"
#include "httpd/incoming_tls_connection.h"
#include "httpd/vhost_tls.h"

#include <cstring>
#include <iterator>
#include <string>
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

// The facts of the client's certificate, kept in the connection's pool; nullptr
// when the client sent none.
const CertificateFacts* client_certificate(gnutls_session_t session, apr_pool_t* pool) {
    const OwnedCrt certificate = peer_certificate(session);
    if (!certificate) return nullptr;
    return pool_own(pool, std::make_unique<CertificateFacts>(describe_certificate(certificate.get())));
}

// The strings live as long as the facts: the configuration generation for the
// server's, the connection for the client's.
const char* certificate_variable(const CertificateFacts& facts, const char* field) {
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

constexpr const char* kCertificateTooLarge = "GNUTLS_CERTIFICATE_SIZE_LIMIT_EXCEEDED";

using Compute = const char* (*)(const IncomingTlsConnection&, apr_pool_t*);

const char* cipher_key_bits(const IncomingTlsConnection& connection, apr_pool_t* pool) {
    return apr_itoa(pool, static_cast<int>(gnutls_cipher_get_key_size(gnutls_cipher_get(connection.session())) * 8));
}

struct Variable {
    const char* name;
    // In mod_ssl's StdEnvVars set, which CGI and SSI see (mod_gnutls exports it always).
    bool exported;
    bool needs_handshake;
    Compute compute;
    // Or, for SSL_SERVER_* and SSL_CLIENT_*: the field of that certificate's facts.
    const char* certificate_field = nullptr;
    bool client_certificate = false;
};

// Values depend on the session only, so after the handshake they never change.
const Variable kVariables[] = {
    {"HTTPS", true, false, [](const IncomingTlsConnection&, apr_pool_t*) -> const char* { return "on"; }},
    {"SSL_VERSION_LIBRARY", true, false,
     [](const IncomingTlsConnection&, apr_pool_t*) -> const char* {
         static const std::string library = std::string("GnuTLS/") + gnutls_check_version(nullptr);
         return library.c_str();
     }},
    {"SSL_VERSION_INTERFACE", true, false,
     [](const IncomingTlsConnection&, apr_pool_t*) -> const char* { return "mod_gtls/" GTLS_VERSION; }},
    // sni() is set by the ClientHello and lives as long as the connection.
    {"SSL_TLS_SNI", true, false,
     [](const IncomingTlsConnection& connection, apr_pool_t*) -> const char* {
         return connection.sni().empty() ? nullptr : connection.sni().c_str();
     }},
    {"SSL_CLIENT_VERIFY", true, false,
     [](const IncomingTlsConnection& connection, apr_pool_t*) -> const char* {
         return connection.client_verify_result().empty() ? "NONE" : connection.client_verify_result().c_str();
     }},
    {"SSL_COMPRESS_METHOD", true, false, [](const IncomingTlsConnection&, apr_pool_t*) -> const char* { return "NULL"; }},
    {"SSL_PROTOCOL", true, true,
     [](const IncomingTlsConnection& connection, apr_pool_t*) -> const char* {
         return protocol_name(gnutls_protocol_get_version(connection.session()));
     }},
    {"SSL_CIPHER", true, true,
     [](const IncomingTlsConnection& connection, apr_pool_t*) -> const char* {
         return gnutls_ciphersuite_get(connection.session());
     }},
    {"SSL_CIPHER_USEKEYSIZE", true, true, cipher_key_bits},
    {"SSL_CIPHER_ALGKEYSIZE", true, true, cipher_key_bits},
    {"SSL_CIPHER_EXPORT", true, true, [](const IncomingTlsConnection&, apr_pool_t*) -> const char* { return "false"; }},
    {"SSL_SESSION_ID", true, true,
     [](const IncomingTlsConnection& connection, apr_pool_t* pool) -> const char* {
         unsigned char id[GNUTLS_MAX_SESSION_ID_SIZE];
         size_t size = sizeof(id);
         if (gnutls_session_get_id(connection.session(), id, &size) < 0 || size == 0) return nullptr;
         char* hex = static_cast<char*>(apr_palloc(pool, size * 2 + 1));
         ap_bin2hex(id, size, hex);
         return hex;
     }},
    {"SSL_SESSION_RESUMED", true, true,
     [](const IncomingTlsConnection& connection, apr_pool_t*) -> const char* {
         return gnutls_session_is_resumed(connection.session()) ? "Resumed" : "Initial";
     }},
    {"SSL_SECURE_RENEG", true, true,
     [](const IncomingTlsConnection& connection, apr_pool_t*) -> const char* {
         return gnutls_safe_renegotiation_status(connection.session()) ? "true" : "false";
     }},
    {"SSL_SERVER_S_DN", true, true, nullptr, "S_DN"},
    {"SSL_SERVER_I_DN", true, true, nullptr, "I_DN"},
    {"SSL_SERVER_M_SERIAL", true, true, nullptr, "M_SERIAL"},
    {"SSL_SERVER_M_VERSION", true, true, nullptr, "M_VERSION"},
    {"SSL_SERVER_V_START", true, true, nullptr, "V_START"},
    {"SSL_SERVER_V_END", true, true, nullptr, "V_END"},
    {"SSL_SERVER_A_KEY", true, true, nullptr, "A_KEY"},
    {"SSL_SERVER_A_SIG", true, true, nullptr, "A_SIG"},
    // mod_ssl exports the certificate only with ExportCertData.
    {"SSL_SERVER_CERT", false, true, nullptr, "CERT"},
    {"SSL_CLIENT_S_DN", true, true, nullptr, "S_DN", true},
    {"SSL_CLIENT_I_DN", true, true, nullptr, "I_DN", true},
    {"SSL_CLIENT_M_SERIAL", true, true, nullptr, "M_SERIAL", true},
    {"SSL_CLIENT_M_VERSION", true, true, nullptr, "M_VERSION", true},
    {"SSL_CLIENT_V_START", true, true, nullptr, "V_START", true},
    {"SSL_CLIENT_V_END", true, true, nullptr, "V_END", true},
    {"SSL_CLIENT_A_KEY", true, true, nullptr, "A_KEY", true},
    {"SSL_CLIENT_A_SIG", true, true, nullptr, "A_SIG", true},
    {"SSL_CLIENT_CERT", false, true, nullptr, "CERT", true},
};

}  // namespace

static_assert(std::size(kVariables) == IncomingTlsConnection::kVariableCount);

void IncomingTlsConnection::remember_variables() {
    // Which of the vhost's chains was served is looked up once for all SSL_SERVER_*.
    const CertificateFacts* facts = served_certificate(session_.get(), *vhost_);
    const CertificateFacts* client = client_certificate(session_.get(), c_->pool);
    // A resumed session skipped the handshake's verification: judge the
    // certificate it carries now.
    if (client_verify_result_.empty()) {
        client_verify_result_ = client_certificate_verdict(session_.get(), vhost_->client_key_purposes());
    }
    for (std::size_t i = 0; i < std::size(kVariables); ++i) {
        const Variable& v = kVariables[i];
        const CertificateFacts* source = v.client_certificate ? client : facts;
        if (v.compute != nullptr) {
            variables_[i] = v.compute(*this, c_->pool);
        } else {
            variables_[i] = source ? certificate_variable(*source, v.certificate_field) : nullptr;
        }
    }
    // The per-component and per-name variables (SSL_CLIENT_S_DN_CN, ..._SAN_DNS_0).
    certificate_parts_.clear();
    for (const auto& [prefix, source] : {std::pair{"SSL_SERVER_", facts}, std::pair{"SSL_CLIENT_", client}}) {
        if (source == nullptr) continue;
        for (const auto& [suffix, value] : source->parts) {
            certificate_parts_.emplace_back(apr_pstrcat(c_->pool, prefix, suffix.c_str(), nullptr), value.c_str());
        }
    }
    client_chain_.clear();
    unsigned count = 0;
    const gnutls_datum_t* peers = gnutls_certificate_get_peers(session_.get(), &count);
    for (unsigned i = 1; peers != nullptr && i < count; ++i) {
        OwnedDatum pem;
        if (gnutls_pem_base64_encode2("CERTIFICATE", &peers[i], pem.out()) < 0) break;
        client_chain_.emplace_back(apr_psprintf(c_->pool, "SSL_CLIENT_CERT_CHAIN_%u", i - 1),
                                   apr_pstrmemdup(c_->pool, reinterpret_cast<const char*>(pem.data()), pem.size()));
    }
    if (client != nullptr) {
        const long days = static_cast<long>((client->expires - std::time(nullptr)) / 86400);
        certificate_parts_.emplace_back("SSL_CLIENT_V_REMAIN", apr_ltoa(c_->pool, days < 0 ? 0 : days));
    }
}

const char* IncomingTlsConnection::variable(const char* name, apr_pool_t* pool) const {
    if (name == nullptr) return nullptr;
    for (std::size_t i = 0; i < std::size(kVariables); ++i) {
        const Variable& v = kVariables[i];
        if (strcasecmp(v.name, name) != 0) continue;
        if (handshake_done_) return variables_[i];
        // Before the handshake only session-independent values (all with a compute) exist.
        return v.needs_handshake ? nullptr : v.compute(*this, pool);
    }
    for (const auto* list : {&certificate_parts_, &client_chain_}) {
        for (const auto& [part, value] : *list) {
            if (strcasecmp(part, name) == 0) return value;
        }
    }
    return nullptr;
}

void IncomingTlsConnection::export_variables(apr_table_t* env) const {
    if (!handshake_done_) return;
    // apr_table_setn compares a new key with each present key that has the same
    // first four letters, and ours all start "SSL_". Into a table that has none
    // of them yet (the usual case), adding skips those comparisons.
    bool present = false;
    const apr_array_header_t* entries = apr_table_elts(env);
    const auto* entry = reinterpret_cast<const apr_table_entry_t*>(entries->elts);
    for (int i = 0; i < entries->nelts && !present; ++i) {
        present = entry[i].key != nullptr &&
                  (strncasecmp(entry[i].key, "SSL_", 4) == 0 || strcasecmp(entry[i].key, "HTTPS") == 0);
    }
    const auto add = [&](const char* name, const char* value) {
        if (present) {
            apr_table_setn(env, name, value);
        } else {
            apr_table_addn(env, name, value);
        }
    };
    // The PEM certificates go out only with GnuTLSExportCertificates; one
    // larger than its size is never cut short: mod_gnutls's marker, which
    // scripts written for it test for, stands in for it.
    const std::size_t limit = vhost_->export_certificates_size();
    const auto add_certificate = [&](const char* name, const char* value) {
        if (limit == 0) return;
        if (const std::size_t size = std::strlen(value); size > limit) {
            ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c_,
                          "GTLS0241: %s is %" APR_SIZE_T_FMT " bytes, more than GnuTLSExportCertificates allows "
                          "(%" APR_SIZE_T_FMT "); exported as %s", name, size, limit, kCertificateTooLarge);
            value = kCertificateTooLarge;
        }
        add(name, value);
    };
    for (std::size_t i = 0; i < std::size(kVariables); ++i) {
        if (variables_[i] == nullptr) continue;
        if (kVariables[i].exported) {
            add(kVariables[i].name, variables_[i]);
        } else {
            add_certificate(kVariables[i].name, variables_[i]);
        }
    }
    for (const auto& [part, value] : certificate_parts_) add(part, value);
    for (const auto& [name, value] : client_chain_) add_certificate(name, value);
}

}  // namespace gtls
