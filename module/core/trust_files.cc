#include "core/trust_files.h"

#include <stdexcept>

namespace gtls {

namespace {

void check(int count, const char* directive, const std::string& file, const char* what) {
    if (count < 0) throw std::runtime_error(std::string(directive) + " " + file + ": " + gnutls_strerror(count));
    if (count == 0) throw std::runtime_error(std::string(directive) + " " + file + ": holds no PEM " + what);
}

}  // namespace

void load_trusted_cas(gnutls_certificate_credentials_t credentials, const char* directive, const std::string& file) {
    check(gnutls_certificate_set_x509_trust_file(credentials, file.c_str(), GNUTLS_X509_FMT_PEM), directive, file,
          "certificate");
}

void load_crls(gnutls_certificate_credentials_t credentials, const char* directive, const std::string& file) {
    check(gnutls_certificate_set_x509_crl_file(credentials, file.c_str(), GNUTLS_X509_FMT_PEM), directive, file, "CRL");
}

}  // namespace gtls
