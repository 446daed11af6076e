// What mod_ssl's SSL_SERVER_* variables say about a server certificate, worked
// out once when the certificate is loaded, so that requests only copy pointers.
#pragma once

#include <gnutls/x509.h>

#include <ctime>
#include <string>
#include <utility>
#include <vector>

namespace gtls {

struct CertificateFacts {
    std::string der;                  // the certificate as sent in handshakes
    std::string pem;                  // SSL_SERVER_CERT
    std::string subject_dn;           // SSL_SERVER_S_DN (RFC 4514)
    std::string issuer_dn;            // SSL_SERVER_I_DN
    std::string serial_hex;           // SSL_SERVER_M_SERIAL, upper-case hex
    std::string version;              // SSL_SERVER_M_VERSION ("3")
    std::string not_before;           // SSL_SERVER_V_START ("Jan  1 00:00:00 2030 GMT")
    std::string not_after;            // SSL_SERVER_V_END
    std::string key_algorithm;        // SSL_SERVER_A_KEY ("RSA", "ECDSA")
    std::string signature_algorithm;  // SSL_SERVER_A_SIG ("ECDSA-SHA256")
    time_t expires = 0;               // for SSL_CLIENT_V_REMAIN
    // mod_ssl's per-component and per-name variables, as (suffix, value):
    // "S_DN_CN", "S_DN_OU_1" (the second OU), "I_DN_O", "SAN_DNS_0", "SAN_Email_0".
    std::vector<std::pair<std::string, std::string>> parts;
};

// Reads the facts of `certificate` (borrowed). Throws std::runtime_error when
// GnuTLS cannot export or describe it. Any thread.
CertificateFacts describe_certificate(gnutls_x509_crt_t certificate);

// mod_ssl's time format for SSL_SERVER_V_START/V_END, in UTC.
std::string format_certificate_time(time_t t);

}  // namespace gtls
