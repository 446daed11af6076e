// Deciding whether an OCSP response file may be stapled for a certificate.
#pragma once

#include "core/clock.h"
#include "core/owned.h"

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gtls {

// Response files larger than this are refused without parsing.
inline constexpr std::size_t kMaxOcspResponseSize = 64 * 1024;
// thisUpdate may be this far in the future (clock skew between responder and us).
inline constexpr std::chrono::minutes kMaxOcspClockSkew{5};

// Why a response file may or may not be stapled; verdict_name() gives each a stable
// name. Checks run in this order, the first failing one decides: size, empty, parse,
// response status, first SingleResponse is the leaf's (hash algorithm usable, serial
// and issuer name hash, then issuer key hash), signer, signature, thisUpdate,
// nextUpdate present, nextUpdate not passed, certificate status. So Revoked and
// Unknown name responses that are otherwise valid (signed, for this certificate,
// current): the truth about the certificate, which a StapleSource acts on.
enum class OcspVerdictCode {
    Good,                   // "good": may be stapled
    TooLarge,               // "too-large": more than kMaxOcspResponseSize bytes
    Empty,                  // "empty": zero bytes
    Unparsable,             // "unparsable": neither a DER nor a PEM OCSPResponse (e.g. truncated)
    NotSuccessful,          // "not-successful": responseStatus is not successful (tryLater, ...)
    NoSingleResponse,       // "no-single-response": a BasicOCSPResponse without any SingleResponse
    WrongCertificate,       // "wrong-certificate": first SingleResponse has another serial or issuer name
    WrongIssuerKey,         // "wrong-issuer-key": same serial and issuer name, another issuer key
    UntrustedSigner,        // "untrusted-signer": signer is neither the issuer nor its OCSP responder
    BadSignature,           // "bad-signature": the signature does not verify
    Revoked,                // "revoked": a valid response, certStatus revoked
    Unknown,                // "unknown": a valid response, certStatus unknown
    NotYetValid,            // "not-yet-valid": thisUpdate more than kMaxOcspClockSkew after now
    NoNextUpdate,           // "no-next-update": nextUpdate absent
    Expired,                // "expired": nextUpdate <= now
    UnsupportedCertIdHash,  // "unsupported-certid-hash": CertID hash algorithm GnuTLS cannot compute
};

// Stable lower-case name for logs and the status page ("revoked", "wrong-issuer-key", ...).
// Returns a view of a static string; any thread.
std::string_view verdict_name(OcspVerdictCode code) noexcept;

// certStatus of the first SingleResponse (RFC 6960 section 4.2.1), known once
// the signature is verified.
enum class OcspCertStatus { NotChecked, Good, Revoked, Unknown };

struct OcspVerdict {
    OcspVerdictCode code = OcspVerdictCode::Unparsable;
    std::string reason;                  // for the admin: what is wrong (empty when good)
    std::vector<unsigned char> der;      // the response as DER, set when it parsed
    TimePoint this_update{};
    TimePoint next_update{};             // set when present
    bool has_next_update = false;
    // Set once the signature verified: also on a response rejected for its times
    // (an expired response saying revoked is still news for the admin).
    OcspCertStatus cert_status = OcspCertStatus::NotChecked;
    TimePoint revocation_time{};         // set when cert_status is Revoked
    std::vector<std::string> warnings;   // acceptable but worth saying (e.g. SHA-256 CertID)

    bool good() const { return code == OcspVerdictCode::Good; }
};

// Validates `bytes` (DER, or PEM "-----BEGIN OCSP RESPONSE-----") as the OCSP
// response for `leaf`, issued by `issuer`, at time `now`. Pure: no I/O, no global
// state; any thread; `leaf` and `issuer` are borrowed for the call only. Accepts
// only a successful response whose first SingleResponse is the leaf's (serial,
// issuer name hash and issuer key hash), signed by the issuer or by a responder
// certificate included in the response that the issuer issued with
// id-kp-OCSPSigning, thisUpdate at most kMaxOcspClockSkew ahead of `now`, a
// nextUpdate after `now`, and status good (Good), revoked (Revoked) or unknown
// (Unknown). Only the first SingleResponse counts,
// because clients look at no other. A CertID hashed with anything but SHA-1 is
// accepted with a warning. A response without nextUpdate is refused
// (NoNextUpdate) unless `lifetime_without_next_update` is given: then its
// next_update is thisUpdate plus that lifetime (has_next_update stays false).
// The returned verdict owns its copy of the DER bytes.
// Throws only std::bad_alloc. Caveat: GnuTLS checks a delegated signer's
// certificate validity against the system clock, not `now`.
OcspVerdict validate_ocsp_response(std::span<const unsigned char> bytes, gnutls_x509_crt_t leaf,
                                   gnutls_x509_crt_t issuer, TimePoint now,
                                   std::optional<std::chrono::seconds> lifetime_without_next_update = std::nullopt);

}  // namespace gtls
