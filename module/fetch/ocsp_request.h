// Building an OCSP request for a leaf, and what a responder must echo back.
#pragma once

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <span>
#include <string>
#include <vector>

namespace gtls {

struct OcspRequest {
    std::vector<unsigned char> der;
    std::vector<unsigned char> nonce;  // empty when the request carries none
};

// An OCSPRequest for `leaf` issued by `issuer` (both borrowed), its CertID hashed
// with `digest` (SHA-1 is what responders and clients match most widely), with a
// random 32-byte nonce when `with_nonce`. Throws std::runtime_error.
OcspRequest build_ocsp_request(gnutls_x509_crt_t leaf, gnutls_x509_crt_t issuer, gnutls_digest_algorithm_t digest,
                               bool with_nonce);

// The leaf's OCSP responder from its Authority Information Access extension,
// or "" when it names none.
std::string responder_url(gnutls_x509_crt_t leaf);

// The URL of an RFC 5019 (section 5) GET for `request`: the base64 DER,
// URL-encoded, appended to `url`; "" when that would exceed 255 bytes (then the
// request must be POSTed).
std::string get_url(const std::string& url, std::span<const unsigned char> request);

// Whether `response` (DER, already validated) answers a request with `nonce`:
// a response that carries a nonce must carry this one; a response without one
// is accepted (RFC 5019 responders precompute and send none).
bool nonce_matches(std::span<const unsigned char> response, std::span<const unsigned char> nonce);

}  // namespace gtls
