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
    char common_name[1024];
    size_t common_name_size = sizeof(common_name);
    if (gnutls_x509_crt_get_dn_by_oid(certificate, GNUTLS_OID_X520_COMMON_NAME, 0, 0, common_name,
                                      &common_name_size) == 0) {
        facts.subject_cn.assign(common_name, common_name_size);
    }

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
    facts.not_after = format_certificate_time(gnutls_x509_crt_get_expiration_time(certificate));
    auto key = static_cast<gnutls_pk_algorithm_t>(gnutls_x509_crt_get_pk_algorithm(certificate, nullptr));
    if (const char* name = gnutls_pk_algorithm_get_name(key)) facts.key_algorithm = name;
    auto signature = static_cast<gnutls_sign_algorithm_t>(gnutls_x509_crt_get_signature_algorithm(certificate));
    if (const char* name = gnutls_sign_get_name(signature)) facts.signature_algorithm = name;
    return facts;
}

}  // namespace gtls
