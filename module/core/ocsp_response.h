// Deciding whether an OCSP response file may be stapled for a certificate.
#pragma once

#include "core/clock.h"
#include "core/owned.h"

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gtls {

// Response files larger than this are refused without parsing.
inline constexpr std::size_t kMaxOcspResponseSize = 64 * 1024;
// thisUpdate may be this far in the future (clock skew between responder and us).
inline constexpr std::chrono::minutes kMaxOcspClockSkew{5};

enum class OcspVerdictCode {
    Good,
    TooLarge,
    Empty,
    Unparsable,
    NotSuccessful,
    NoSingleResponse,
    WrongCertificate,
    WrongIssuerKey,
    UntrustedSigner,
    BadSignature,
    Revoked,
    Unknown,
    NotYetValid,
    NoNextUpdate,
    Expired,
};

// Stable lower-case name for logs and the status page ("revoked", "wrong-issuer-key", ...).
std::string_view verdict_name(OcspVerdictCode code);

struct OcspVerdict {
    OcspVerdictCode code = OcspVerdictCode::Unparsable;
    std::string reason;                  // for the admin: what is wrong (empty when good)
    std::vector<unsigned char> der;      // the response as DER, set when it parsed
    TimePoint this_update{};
    TimePoint next_update{};             // set when present
    bool has_next_update = false;
    std::vector<std::string> warnings;   // acceptable but worth saying (e.g. SHA-256 CertID)

    bool good() const { return code == OcspVerdictCode::Good; }
};

// Validates `bytes` (DER or PEM) as the OCSP response for `leaf`, issued by
// `issuer`, at time `now`. Pure: no I/O, no global state; any thread. Accepts
// only a successful response whose first SingleResponse is the leaf's (serial,
// issuer name hash and issuer key hash), signed by the issuer or by a responder
// certificate the issuer issued for OCSP signing, with status good, thisUpdate
// at most kMaxOcspClockSkew ahead of `now` and a nextUpdate after `now`.
OcspVerdict validate_ocsp_response(std::span<const unsigned char> bytes, gnutls_x509_crt_t leaf,
                                   gnutls_x509_crt_t issuer, TimePoint now);

}  // namespace gtls
