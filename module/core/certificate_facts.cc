#include "core/certificate_facts.h"

#include "core/owned.h"

#include <ctime>
#include <stdexcept>

namespace gtls {

namespace {

std::string text_of(const gnutls_datum_t& datum) {
    return std::string(reinterpret_cast<const char*>(datum.data), datum.size);
}

template <typename Getter>
std::string dn_of(gnutls_x509_crt_t certificate, Getter getter, const char* what) {
    OwnedDatum dn;
    if (int rc = getter(certificate, dn.out(), 0); rc < 0) {
        throw std::runtime_error(std::string("cannot read the certificate's ") + what + ": " + gnutls_strerror(rc));
    }
    return text_of(dn.get());
}

// The DN components mod_ssl names (SSL_*_S_DN_x509), by OID.
constexpr std::pair<const char*, const char*> kDnComponents[] = {
    {"C", "2.5.4.6"},   {"ST", "2.5.4.8"},   {"L", "2.5.4.7"},   {"O", "2.5.4.10"},  {"OU", "2.5.4.11"},
    {"CN", "2.5.4.3"},  {"T", "2.5.4.12"},   {"I", "2.5.4.43"},  {"G", "2.5.4.42"},  {"S", "2.5.4.4"},
    {"D", "2.5.4.13"},  {"UID", "0.9.2342.19200300.100.1.1"},     {"Email", "1.2.840.113549.1.9.1"},
};

using DnByOid = int (*)(gnutls_x509_crt_t, const char*, unsigned, unsigned, void*, size_t*);

// Each component of a DN as "PREFIX_NAME" (the first), "PREFIX_NAME_1" (the
// second) and so on, as mod_ssl numbers repeated components.
void add_dn_parts(gnutls_x509_crt_t certificate, DnByOid get, const std::string& prefix,
                  std::vector<std::pair<std::string, std::string>>& parts) {
    for (const auto& [name, oid] : kDnComponents) {
        for (unsigned index = 0;; ++index) {
            char value[1024];
            size_t size = sizeof(value);
            if (get(certificate, oid, index, 0, value, &size) != 0) break;
            parts.emplace_back(prefix + name + (index ? "_" + std::to_string(index) : ""), std::string(value, size));
        }
    }
}

void add_san_parts(gnutls_x509_crt_t certificate, std::vector<std::pair<std::string, std::string>>& parts) {
    unsigned dns = 0, email = 0;
    for (unsigned sequence = 0;; ++sequence) {
        char value[1024];
        size_t size = sizeof(value);
        int type = gnutls_x509_crt_get_subject_alt_name(certificate, sequence, value, &size, nullptr);
        if (type < 0 && type != GNUTLS_E_SHORT_MEMORY_BUFFER) break;
        if (type == GNUTLS_SAN_DNSNAME) parts.emplace_back("SAN_DNS_" + std::to_string(dns++), std::string(value, size));
        if (type == GNUTLS_SAN_RFC822NAME) {
            parts.emplace_back("SAN_Email_" + std::to_string(email++), std::string(value, size));
        }
        // mod_gnutls's S_ANn: every name in order, its type spelled out.
        const char* label = type == GNUTLS_SAN_DNSNAME ? "DNSNAME:" : type == GNUTLS_SAN_RFC822NAME ? "RFC822NAME:"
                            : type == GNUTLS_SAN_URI                                      ? "URI:"
                                                                                          : nullptr;
        parts.emplace_back("S_AN" + std::to_string(sequence),
                           label != nullptr ? label + std::string(value, size) : std::string("UNSUPPORTED"));
    }
}

}  // namespace

std::string format_certificate_time(time_t t) {
    struct tm tm {};
    gmtime_r(&t, &tm);
    char text[64];
    std::strftime(text, sizeof(text), "%b %e %H:%M:%S %Y GMT", &tm);
    return text;
}

CertificateFacts describe_certificate(gnutls_x509_crt_t certificate) {
    CertificateFacts facts;
    OwnedDatum der;
    if (int rc = gnutls_x509_crt_export2(certificate, GNUTLS_X509_FMT_DER, der.out()); rc < 0) {
        throw std::runtime_error(std::string("cannot export the certificate: ") + gnutls_strerror(rc));
    }
    facts.der = text_of(der.get());
    OwnedDatum pem;
    if (int rc = gnutls_pem_base64_encode2("CERTIFICATE", &der.get(), pem.out()); rc < 0) {
        throw std::runtime_error(std::string("cannot encode the certificate as PEM: ") + gnutls_strerror(rc));
    }
    facts.pem = text_of(pem.get());
    facts.subject_dn = dn_of(certificate, gnutls_x509_crt_get_dn3, "subject");
    facts.issuer_dn = dn_of(certificate, gnutls_x509_crt_get_issuer_dn3, "issuer");

    unsigned char serial[64];
    size_t size = sizeof(serial);
    if (int rc = gnutls_x509_crt_get_serial(certificate, serial, &size); rc < 0) {
        throw std::runtime_error(std::string("cannot read the certificate's serial number: ") + gnutls_strerror(rc));
    }
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < size; ++i) {
        facts.serial_hex += kHex[serial[i] >> 4];
        facts.serial_hex += kHex[serial[i] & 0xf];
    }
    facts.version = std::to_string(gnutls_x509_crt_get_version(certificate));
    facts.not_before = format_certificate_time(gnutls_x509_crt_get_activation_time(certificate));
    facts.expires = gnutls_x509_crt_get_expiration_time(certificate);
    facts.not_after = format_certificate_time(facts.expires);
    auto key = static_cast<gnutls_pk_algorithm_t>(gnutls_x509_crt_get_pk_algorithm(certificate, nullptr));
    if (const char* name = gnutls_pk_algorithm_get_name(key)) facts.key_algorithm = name;
    auto signature = static_cast<gnutls_sign_algorithm_t>(gnutls_x509_crt_get_signature_algorithm(certificate));
    if (const char* name = gnutls_sign_get_name(signature)) facts.signature_algorithm = name;
    add_dn_parts(certificate, gnutls_x509_crt_get_dn_by_oid, "S_DN_", facts.parts);
    add_dn_parts(certificate, gnutls_x509_crt_get_issuer_dn_by_oid, "I_DN_", facts.parts);
    add_san_parts(certificate, facts.parts);
    return facts;
}

}  // namespace gtls
