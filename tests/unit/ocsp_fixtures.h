// Access to the OCSP corpus made by tests/fixtures/make-ocsp-fixtures.sh.
#pragma once

#include "core/owned.h"

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace gtls::testing {

inline std::string fixture_path(const std::string& name) { return std::string(GTLS_OCSP_FIXTURES) + "/" + name; }

inline std::vector<unsigned char> fixture_bytes(const std::string& name) {
    std::ifstream in(fixture_path(name), std::ios::binary);
    if (!in) throw std::runtime_error("missing fixture " + name + " (run ctest, which makes them)");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline OwnedCrt fixture_certificate(const std::string& name) {
    auto bytes = fixture_bytes(name + ".pem");
    gnutls_datum_t data{bytes.data(), static_cast<unsigned>(bytes.size())};
    gnutls_x509_crt_t crt = nullptr;
    gnutls_x509_crt_init(&crt);
    OwnedCrt owned(crt);
    if (gnutls_x509_crt_import(crt, &data, GNUTLS_X509_FMT_PEM) < 0) throw std::runtime_error("bad fixture " + name);
    return owned;
}

}  // namespace gtls::testing
