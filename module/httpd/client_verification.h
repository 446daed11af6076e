// Verifying client certificates (GnuTLSClientVerify request|require) against
// the vhost's GnuTLSClientCAFile and GnuTLSClientCRLFile: during the handshake,
// and per request for <Directory>/<Location>/.htaccess settings, asking for the
// certificate after the handshake when it did not.
#pragma once

#include "core/owned.h"
#include "httpd/httpd.h"

#include <gnutls/gnutls.h>

#include <string>
#include <vector>

namespace gtls {

// The certificate the client sent (the leaf, not its chain), or nullptr when
// it sent none or it cannot be read.
OwnedCrt peer_certificate(gnutls_session_t session);

// GnuTLS's verify function for credentials with client CAs: records
// SSL_CLIENT_VERIFY's value on the connection. It never fails the handshake:
// under `require` a certificate that does not verify gets 403 per request
// (check_client_certificate), as mod_gnutls answers; a missing one fails the
// handshake through GnuTLS itself.
int verify_client_certificate(gnutls_session_t session) noexcept;

// SSL_CLIENT_VERIFY for the session's peer certificate, as mod_ssl spells it:
// "NONE" (none sent), "SUCCESS", or "FAILED:reason". The certificate must also
// be fit for every extended key usage in `key_purposes` (GnuTLSClientKeyPurpose;
// a certificate without that extension, or with anyExtendedKeyUsage, is).
std::string client_certificate_verdict(gnutls_session_t session, const std::vector<std::string>& key_purposes);

// check_access hook: a request under `require` (the directory's setting, else
// the connection's vhost's) without a verified certificate gets 403; under
// `request` or `require`, a certificate the handshake did not ask for is asked
// for now by TLS 1.3 post-handshake authentication.
int check_client_certificate(request_rec* r);

}  // namespace gtls
