// Verifying client certificates (GnuTLSClientVerify request|require) during
// the handshake, against the vhost's GnuTLSClientCAFile and GnuTLSClientCRLFile.
#pragma once

#include "httpd/httpd.h"

#include <gnutls/gnutls.h>

#include <string>
#include <vector>

namespace gtls {

// GnuTLS's verify function for credentials that ask for client certificates:
// records SSL_CLIENT_VERIFY's value on the connection and, under `require`,
// fails the handshake (bad_certificate) for a certificate that does not verify.
int verify_client_certificate(gnutls_session_t session) noexcept;

// SSL_CLIENT_VERIFY for the session's peer certificate, as mod_ssl spells it:
// "NONE" (none sent), "SUCCESS", or "FAILED:reason". The certificate must also
// carry every extended key usage in `key_purposes` (GnuTLSClientKeyPurpose).
std::string client_certificate_verdict(gnutls_session_t session, const std::vector<std::string>& key_purposes);

}  // namespace gtls
