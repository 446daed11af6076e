// mod_ssl's SSL_* variable names, answered from the GnuTLS session, so
// mod_rewrite, mod_headers, mod_log_config and CGI see a mod_gtls connection
// the way they see a mod_ssl one.
#include "httpd/tls_connection.h"
#include "httpd/vhost_tls.h"

#include <cstring>
#include <ctime>

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

// mod_ssl's time format for SSL_SERVER_V_START/V_END: "Jan  1 00:00:00 2030 GMT".
const char* format_time(apr_pool_t* pool, time_t t) {
    struct tm tm {};
    gmtime_r(&t, &tm);
    char text[64];
    std::strftime(text, sizeof(text), "%b %e %H:%M:%S %Y GMT", &tm);
    return apr_pstrdup(pool, text);
}

const char* server_certificate_variable(apr_pool_t* pool, gnutls_session_t session, const char* field) {
    const gnutls_datum_t* ours = gnutls_certificate_get_ours(session);
    if (ours == nullptr) return nullptr;
    if (std::strcmp(field, "CERT") == 0) {
        OwnedDatum pem;
        if (gnutls_pem_base64_encode2("CERTIFICATE", ours, pem.out()) < 0) return nullptr;
        return apr_pstrmemdup(pool, reinterpret_cast<const char*>(pem.data()), pem.size());
    }
    gnutls_x509_crt_t raw = nullptr;
    if (gnutls_x509_crt_init(&raw) < 0) return nullptr;
    OwnedCrt crt(raw);
    if (gnutls_x509_crt_import(raw, ours, GNUTLS_X509_FMT_DER) < 0) return nullptr;
    OwnedDatum text;
    if (std::strcmp(field, "S_DN") == 0) {
        if (gnutls_x509_crt_get_dn3(raw, text.out(), 0) < 0) return nullptr;
    } else if (std::strcmp(field, "I_DN") == 0) {
        if (gnutls_x509_crt_get_issuer_dn3(raw, text.out(), 0) < 0) return nullptr;
    } else if (std::strcmp(field, "M_SERIAL") == 0) {
        unsigned char serial[64];
        size_t size = sizeof(serial);
        if (gnutls_x509_crt_get_serial(raw, serial, &size) < 0) return nullptr;
        char* hex = static_cast<char*>(apr_palloc(pool, size * 2 + 1));
        ap_bin2hex(serial, size, hex);
        ap_str_toupper(hex);
        return hex;
    } else if (std::strcmp(field, "M_VERSION") == 0) {
        return apr_itoa(pool, gnutls_x509_crt_get_version(raw));
    } else if (std::strcmp(field, "V_START") == 0) {
        return format_time(pool, gnutls_x509_crt_get_activation_time(raw));
    } else if (std::strcmp(field, "V_END") == 0) {
        return format_time(pool, gnutls_x509_crt_get_expiration_time(raw));
    } else if (std::strcmp(field, "A_KEY") == 0) {
        return gnutls_pk_algorithm_get_name(
            static_cast<gnutls_pk_algorithm_t>(gnutls_x509_crt_get_pk_algorithm(raw, nullptr)));
    } else if (std::strcmp(field, "A_SIG") == 0) {
        return gnutls_sign_get_name(static_cast<gnutls_sign_algorithm_t>(gnutls_x509_crt_get_signature_algorithm(raw)));
    } else {
        return nullptr;
    }
    return apr_pstrmemdup(pool, reinterpret_cast<const char*>(text.data()), text.size());
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
    if (strncasecmp(field, "SERVER_", 7) == 0) return server_certificate_variable(pool, session, field + 7);
    return nullptr;
}

}  // namespace gtls
