#include "core/ocsp_response.h"

#include <cstring>
#include <optional>

namespace gtls {

namespace {

OcspVerdict reject(OcspVerdict verdict, OcspVerdictCode code, std::string reason) {
    verdict.code = code;
    verdict.reason = std::move(reason);
    return verdict;
}

bool same(const gnutls_datum_t& a, const gnutls_datum_t& b) {
    return a.size == b.size && (a.size == 0 || std::memcmp(a.data, b.data, a.size) == 0);
}

bool looks_like_pem(std::span<const unsigned char> bytes) {
    static constexpr char kMarker[] = "-----BEGIN";
    std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    auto first = text.find_first_not_of(" \t\r\n");
    return first != std::string_view::npos && text.substr(first).starts_with(kMarker);
}

// One SingleResponse's CertID and status, as gnutls_ocsp_resp_get_single gives them.
struct SingleResponse {
    gnutls_digest_algorithm_t digest = GNUTLS_DIG_UNKNOWN;
    OwnedDatum issuer_name_hash;
    OwnedDatum issuer_key_hash;
    OwnedDatum serial;
    unsigned status = 0;
    time_t this_update = -1;
    time_t next_update = -1;
    time_t revocation_time = -1;
    unsigned revocation_reason = 0;
};

bool read_single(gnutls_ocsp_resp_t resp, unsigned index, SingleResponse& out) {
    return gnutls_ocsp_resp_get_single(resp, index, &out.digest, out.issuer_name_hash.out(),
                                       out.issuer_key_hash.out(), out.serial.out(), &out.status,
                                       &out.this_update, &out.next_update, &out.revocation_time,
                                       &out.revocation_reason) == GNUTLS_E_SUCCESS;
}

// The CertID GnuTLS computes for (issuer, leaf) with `digest`: the same hashes a
// responder puts in its answer (RFC 6960 section 4.1.1).
struct ExpectedCertId {
    OwnedDatum issuer_name_hash;
    OwnedDatum issuer_key_hash;
    OwnedDatum serial;
    bool valid = false;
};

ExpectedCertId expected_cert_id(gnutls_digest_algorithm_t digest, gnutls_x509_crt_t issuer, gnutls_x509_crt_t leaf) {
    ExpectedCertId id;
    gnutls_ocsp_req_t raw = nullptr;
    if (gnutls_ocsp_req_init(&raw) < 0) return id;
    OwnedOcspReq request(raw);
    if (gnutls_ocsp_req_add_cert(raw, digest, issuer, leaf) < 0) return id;
    gnutls_digest_algorithm_t ignored;
    id.valid = gnutls_ocsp_req_get_cert_id(raw, 0, &ignored, id.issuer_name_hash.out(), id.issuer_key_hash.out(),
                                           id.serial.out()) == GNUTLS_E_SUCCESS;
    return id;
}

enum class Match { Yes, WrongCertificate, WrongIssuerKey, UnsupportedHash };

// RFC 6960 section 4.1.1: CertID ::= SEQUENCE { hashAlgorithm, issuerNameHash (hash of
// the issuer's DN), issuerKeyHash (hash of the issuer's public key BIT STRING content,
// without tag, length and unused-bits octet), serialNumber }. GnuTLS's request
// builder computes exactly these with the CertID's own hash algorithm; all three are
// compared (gnutls_ocsp_resp_check_crt would skip the key hash).
Match matches(const SingleResponse& single, gnutls_x509_crt_t leaf, gnutls_x509_crt_t issuer) {
    ExpectedCertId expected = expected_cert_id(single.digest, issuer, leaf);
    if (!expected.valid) return Match::UnsupportedHash;
    if (!same(single.serial.get(), expected.serial.get()) ||
        !same(single.issuer_name_hash.get(), expected.issuer_name_hash.get())) {
        return Match::WrongCertificate;
    }
    if (!same(single.issuer_key_hash.get(), expected.issuer_key_hash.get())) return Match::WrongIssuerKey;
    return Match::Yes;
}

// RFC 6960 section 4.2.1: ResponderID ::= CHOICE { byName [1] Name, byKey [2] KeyHash },
// KeyHash being the SHA-1 of the responder's public key BIT STRING content, the same
// value as a SHA-1 CertID's issuerKeyHash. True when the response names `issuer`.
bool responder_is_issuer(gnutls_ocsp_resp_t resp, gnutls_x509_crt_t issuer, gnutls_x509_crt_t leaf) {
    OwnedDatum id;
    if (gnutls_ocsp_resp_get_responder_raw_id(resp, GNUTLS_OCSP_RESP_ID_DN, id.out()) == GNUTLS_E_SUCCESS) {
        OwnedDatum dn;
        return gnutls_x509_crt_get_raw_dn(issuer, dn.out()) == GNUTLS_E_SUCCESS && same(id.get(), dn.get());
    }
    if (gnutls_ocsp_resp_get_responder_raw_id(resp, GNUTLS_OCSP_RESP_ID_KEY, id.out()) == GNUTLS_E_SUCCESS) {
        ExpectedCertId sha1 = expected_cert_id(GNUTLS_DIG_SHA1, issuer, leaf);
        return sha1.valid && same(id.get(), sha1.issuer_key_hash.get());
    }
    return false;
}

unsigned included_certificate_count(gnutls_ocsp_resp_t resp) {
    gnutls_x509_crt_t* certs = nullptr;
    std::size_t count = 0;
    if (gnutls_ocsp_resp_get_certs(resp, &certs, &count) < 0) return 0;
    for (std::size_t i = 0; i < count; ++i) gnutls_x509_crt_deinit(certs[i]);
    free_gnutls_memory(certs);
    return static_cast<unsigned>(count);
}

// RFC 6960 section 4.2.1: OCSPResponseStatus.
std::string response_status_name(int status) {
    switch (status) {
        case GNUTLS_OCSP_RESP_MALFORMEDREQUEST: return "malformedRequest (1)";
        case GNUTLS_OCSP_RESP_INTERNALERROR: return "internalError (2)";
        case GNUTLS_OCSP_RESP_TRYLATER: return "tryLater (3)";
        case GNUTLS_OCSP_RESP_SIGREQUIRED: return "sigRequired (5)";
        case GNUTLS_OCSP_RESP_UNAUTHORIZED: return "unauthorized (6)";
        default: return std::to_string(status);
    }
}

std::string describe_verify_failure(unsigned verify) {
    std::string text;
    auto add = [&](unsigned bit, const char* what) {
        if (verify & bit) text += text.empty() ? what : std::string(", ") + what;
    };
    add(GNUTLS_OCSP_VERIFY_SIGNER_NOT_FOUND, "the signer certificate is not in the response");
    add(GNUTLS_OCSP_VERIFY_SIGNER_KEYUSAGE_ERROR, "the signer certificate lacks the OCSP signing purpose");
    add(GNUTLS_OCSP_VERIFY_UNTRUSTED_SIGNER, "the signer certificate was not issued by the certificate's issuer");
    add(GNUTLS_OCSP_VERIFY_INSECURE_ALGORITHM, "the signature uses an insecure algorithm");
    add(GNUTLS_OCSP_VERIFY_SIGNATURE_FAILURE, "the signature does not verify");
    add(GNUTLS_OCSP_VERIFY_CERT_NOT_ACTIVATED, "the signer certificate is not valid yet");
    add(GNUTLS_OCSP_VERIFY_CERT_EXPIRED, "the signer certificate has expired");
    return text.empty() ? "verification failed" : text;
}

}  // namespace

std::string_view verdict_name(OcspVerdictCode code) noexcept {
    switch (code) {
        case OcspVerdictCode::Good: return "good";
        case OcspVerdictCode::TooLarge: return "too-large";
        case OcspVerdictCode::Empty: return "empty";
        case OcspVerdictCode::Unparsable: return "unparsable";
        case OcspVerdictCode::NotSuccessful: return "not-successful";
        case OcspVerdictCode::NoSingleResponse: return "no-single-response";
        case OcspVerdictCode::WrongCertificate: return "wrong-certificate";
        case OcspVerdictCode::WrongIssuerKey: return "wrong-issuer-key";
        case OcspVerdictCode::UntrustedSigner: return "untrusted-signer";
        case OcspVerdictCode::BadSignature: return "bad-signature";
        case OcspVerdictCode::Revoked: return "revoked";
        case OcspVerdictCode::Unknown: return "unknown";
        case OcspVerdictCode::NotYetValid: return "not-yet-valid";
        case OcspVerdictCode::NoNextUpdate: return "no-next-update";
        case OcspVerdictCode::Expired: return "expired";
        case OcspVerdictCode::UnsupportedCertIdHash: return "unsupported-certid-hash";
    }
    return "invalid";
}

OcspVerdict validate_ocsp_response(std::span<const unsigned char> bytes, gnutls_x509_crt_t leaf,
                                   gnutls_x509_crt_t issuer, TimePoint now,
                                   std::optional<std::chrono::seconds> lifetime_without_next_update) {
    OcspVerdict verdict;
    if (bytes.size() > kMaxOcspResponseSize) {
        return reject(std::move(verdict), OcspVerdictCode::TooLarge,
                      "the file has " + std::to_string(bytes.size()) + " bytes; at most " +
                          std::to_string(kMaxOcspResponseSize) + " are accepted");
    }
    if (bytes.empty()) return reject(std::move(verdict), OcspVerdictCode::Empty, "the file is empty");

    gnutls_ocsp_resp_t raw = nullptr;
    if (int rc = gnutls_ocsp_resp_init(&raw); rc < 0) {
        return reject(std::move(verdict), OcspVerdictCode::Unparsable, gnutls_strerror(rc));
    }
    OwnedOcspResp resp(raw);
    gnutls_datum_t data{const_cast<unsigned char*>(bytes.data()), static_cast<unsigned>(bytes.size())};
    const bool pem = looks_like_pem(bytes);
    int rc = gnutls_ocsp_resp_import2(raw, &data, pem ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER);
    if (rc < 0) {
        return reject(std::move(verdict), OcspVerdictCode::Unparsable,
                      std::string("not an OCSP response (") + (pem ? "PEM" : "DER") + "): " + gnutls_strerror(rc));
    }
    OwnedDatum der;
    if (gnutls_ocsp_resp_export2(raw, der.out(), GNUTLS_X509_FMT_DER) < 0) {
        return reject(std::move(verdict), OcspVerdictCode::Unparsable, "the response cannot be re-encoded as DER");
    }
    verdict.der.assign(der.data(), der.data() + der.size());

    if (int status = gnutls_ocsp_resp_get_status(raw); status != GNUTLS_OCSP_RESP_SUCCESSFUL) {
        return reject(std::move(verdict), OcspVerdictCode::NotSuccessful,
                      "the responder answered with error status " + response_status_name(status) +
                          " instead of a certificate status");
    }

    // A response may carry several SingleResponses. Clients (GnuTLS among them) look
    // at the first only, so the first must be the leaf's; when it is not, the reason
    // says whether a later one would have been.
    SingleResponse first;
    if (!read_single(raw, 0, first)) {
        return reject(std::move(verdict), OcspVerdictCode::NoSingleResponse, "the response holds no SingleResponse");
    }
    if (Match match = matches(first, leaf, issuer); match != Match::Yes) {
        if (match == Match::UnsupportedHash) {
            const char* name = gnutls_digest_get_name(first.digest);
            return reject(std::move(verdict), OcspVerdictCode::UnsupportedCertIdHash,
                          std::string("the CertID uses a hash algorithm that cannot be checked (") +
                              (name ? name : "unknown") + ")");
        }
        if (match == Match::WrongIssuerKey) {
            return reject(std::move(verdict), OcspVerdictCode::WrongIssuerKey,
                          "the response names the certificate's serial and issuer name but another issuer key");
        }
        std::string reason = "the response is for another certificate (serial or issuer name differ)";
        unsigned count = 1;
        std::optional<unsigned> found;
        for (SingleResponse other; read_single(raw, count, other); ++count) {
            if (!found && matches(other, leaf, issuer) == Match::Yes) found = count;
        }
        if (found) {
            reason = "the response is for another certificate first: this certificate's status is SingleResponse " +
                     std::to_string(*found + 1) + " of " + std::to_string(count) +
                     ", and clients only use the first";
        } else if (count > 1) {
            reason += "; none of its " + std::to_string(count) + " SingleResponses is for this certificate";
        }
        return reject(std::move(verdict), OcspVerdictCode::WrongCertificate, reason);
    }

    // RFC 6960 section 4.2.2.2: "The key used to sign the response MUST belong to one
    // of the following: - the CA who issued the certificate in question - a Trusted
    // Responder whose public key is trusted by the requestor - a CA Designated
    // Responder (Authorized Responder ...) who holds a specially marked certificate
    // issued directly by the CA". There is no locally trusted responder here.
    // gnutls_ocsp_resp_verify_direct finds the signer certificate among those the
    // response includes (else takes `issuer`), checks that `issuer` issued it and that
    // it has id-kp-OCSPSigning, then checks the signature. Its return code only says
    // whether it could run; the verdict is in `verify`.
    // Caveat: GnuTLS checks a delegated signer certificate's validity period against
    // the system clock, not against `now`.
    unsigned verify = 0;
    rc = gnutls_ocsp_resp_verify_direct(raw, issuer, &verify, 0);
    if (rc >= 0 && verify == GNUTLS_OCSP_VERIFY_SIGNATURE_FAILURE && !responder_is_issuer(raw, issuer, leaf)) {
        // GnuTLS found no certificate for the named responder and tried the issuer's key.
        return reject(std::move(verdict), OcspVerdictCode::UntrustedSigner,
                      "the response is signed by a responder other than the issuer whose certificate is not in the "
                      "response (" + std::to_string(included_certificate_count(raw)) + " certificates included)");
    }
    if (rc < 0 || verify != 0) {
        const bool signer_problem = verify & (GNUTLS_OCSP_VERIFY_SIGNER_NOT_FOUND | GNUTLS_OCSP_VERIFY_SIGNER_KEYUSAGE_ERROR |
                                              GNUTLS_OCSP_VERIFY_UNTRUSTED_SIGNER | GNUTLS_OCSP_VERIFY_CERT_NOT_ACTIVATED |
                                              GNUTLS_OCSP_VERIFY_CERT_EXPIRED);
        return reject(std::move(verdict), signer_problem ? OcspVerdictCode::UntrustedSigner : OcspVerdictCode::BadSignature,
                      rc < 0 ? std::string("signature check failed: ") + gnutls_strerror(rc)
                             : describe_verify_failure(verify));
    }

    verdict.this_update = from_time_t(first.this_update);
    verdict.has_next_update = first.next_update != static_cast<time_t>(-1);
    if (verdict.has_next_update) verdict.next_update = from_time_t(first.next_update);
    verdict.cert_status = first.status == GNUTLS_OCSP_CERT_GOOD      ? OcspCertStatus::Good
                          : first.status == GNUTLS_OCSP_CERT_REVOKED ? OcspCertStatus::Revoked
                                                                     : OcspCertStatus::Unknown;
    if (verdict.cert_status == OcspCertStatus::Revoked) verdict.revocation_time = from_time_t(first.revocation_time);
    // A response rejected for its times still says what it says.
    const std::string saying = verdict.cert_status == OcspCertStatus::Revoked
                                   ? "; it says the certificate is REVOKED (since " + format_utc(verdict.revocation_time) + ")"
                               : verdict.cert_status == OcspCertStatus::Unknown ? "; it says the certificate is unknown"
                                                                                : "";

    // RFC 6960 section 4.2.2.1: "Responses whose nextUpdate value is earlier than the
    // local system time value SHOULD be considered unreliable. Responses whose
    // thisUpdate time is later than the local system time SHOULD be considered
    // unreliable." thisUpdate is allowed kMaxOcspClockSkew of responder clock skew.
    if (verdict.this_update > now + kMaxOcspClockSkew) {
        return reject(std::move(verdict), OcspVerdictCode::NotYetValid,
                      "thisUpdate " + format_utc(verdict.this_update) + " is in the future (more than " +
                          std::to_string(kMaxOcspClockSkew.count()) + " minutes after now, " + format_utc(now) + ")" +
                          saying);
    }
    // Section 2.4: "If nextUpdate is not set, the responder is indicating that newer
    // revocation information is available all the time." Such a response has no end
    // of validity, so it is stapled only for a lifetime the admin chose.
    if (!verdict.has_next_update) {
        if (!lifetime_without_next_update) {
            return reject(std::move(verdict), OcspVerdictCode::NoNextUpdate,
                          "the response has no nextUpdate, so nobody can tell when it goes stale" + saying);
        }
        verdict.next_update = verdict.this_update + *lifetime_without_next_update;
    }
    if (verdict.next_update <= now) {
        return reject(std::move(verdict), OcspVerdictCode::Expired,
                      "nextUpdate " + format_utc(verdict.next_update) + " has passed" + saying);
    }
    // Section 2.2: 'The "revoked" state indicates that the certificate has been
    // revoked' and 'The "unknown" state indicates that the responder doesn't know
    // about the certificate being requested'. Either is the current truth.
    if (verdict.cert_status == OcspCertStatus::Revoked) {
        return reject(std::move(verdict), OcspVerdictCode::Revoked,
                      "the certificate is REVOKED (since " + format_utc(verdict.revocation_time) + ")");
    }
    if (verdict.cert_status != OcspCertStatus::Good) {
        return reject(std::move(verdict), OcspVerdictCode::Unknown, "the responder does not know the certificate");
    }
    if (first.digest != GNUTLS_DIG_SHA1) {
        const char* name = gnutls_digest_get_name(first.digest);
        verdict.warnings.push_back(std::string("the CertID uses ") + (name ? name : "an unnamed hash") +
                                   "; some clients only match SHA-1 CertIDs");
    }
    verdict.code = OcspVerdictCode::Good;
    return verdict;
}

}  // namespace gtls
