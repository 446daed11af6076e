// PEM files of CAs and CRLs loaded into credentials, for verifying the peer
// (client certificates, proxy backends), with errors naming the directive.
#pragma once

#include <gnutls/gnutls.h>

#include <string>

namespace gtls {

// Adds the CA certificates of `file` to `credentials`' trust list. Throws
// std::runtime_error "DIRECTIVE FILE: reason" when it cannot be read or holds none.
void load_trusted_cas(gnutls_certificate_credentials_t credentials, const char* directive, const std::string& file);
// Adds the CRLs of `file`; throws like load_trusted_cas.
void load_crls(gnutls_certificate_credentials_t credentials, const char* directive, const std::string& file);

}  // namespace gtls
