// validate_ocsp_response over the generated corpus: each case asserts the exact
// verdict and that the reason names the problem.
#include "core/ocsp_response.h"
#include "ocsp_fixtures.h"

#include <gtest/gtest.h>

#include <set>

namespace gtls {
namespace {

using namespace std::chrono_literals;
using testing::fixture_bytes;
using testing::fixture_certificate;

class OcspResponseTest : public ::testing::Test {
protected:
    OcspVerdict check(const std::string& file, const char* leaf = "leaf-ecdsa", TimePoint now = {},
                      const char* issuer_name = "intermediate") {
        return check_bytes(fixture_bytes(file), leaf, now, issuer_name);
    }
    OcspVerdict check_bytes(const std::vector<unsigned char>& bytes, const char* leaf = "leaf-ecdsa",
                            TimePoint now = {}, const char* issuer_name = "intermediate") {
        auto certificate = fixture_certificate(leaf);
        auto issuer = fixture_certificate(issuer_name);
        return validate_ocsp_response(bytes, certificate.get(), issuer.get(),
                                      now == TimePoint{} ? std::chrono::system_clock::now() : now);
    }
};

TEST_F(OcspResponseTest, GoodIssuerSignedResponses) {
    auto ecdsa = check("good-ecdsa.der");
    EXPECT_EQ(ecdsa.code, OcspVerdictCode::Good) << ecdsa.reason;
    EXPECT_EQ(ecdsa.der, fixture_bytes("good-ecdsa.der"));
    EXPECT_TRUE(ecdsa.has_next_update);
    EXPECT_GT(ecdsa.next_update, ecdsa.this_update);
    EXPECT_TRUE(ecdsa.warnings.empty());
    EXPECT_EQ(check("good-no-certs.der").code, OcspVerdictCode::Good);
    auto rsa = check("good-rsa.der", "leaf-rsa");
    EXPECT_EQ(rsa.code, OcspVerdictCode::Good) << rsa.reason;
}

TEST_F(OcspResponseTest, PemIsConvertedToDer) {
    auto verdict = check("good-ecdsa.pem");
    EXPECT_EQ(verdict.code, OcspVerdictCode::Good) << verdict.reason;
    EXPECT_EQ(verdict.der, fixture_bytes("good-ecdsa.der"));
}

TEST_F(OcspResponseTest, DelegatedResponderWithOcspSigning) {
    auto verdict = check("delegated.der");
    EXPECT_EQ(verdict.code, OcspVerdictCode::Good) << verdict.reason;
}

TEST_F(OcspResponseTest, DelegatedResponderWithoutOcspSigningIsRejected) {
    auto verdict = check("delegated-no-eku.der");
    EXPECT_EQ(verdict.code, OcspVerdictCode::UntrustedSigner);
    EXPECT_NE(verdict.reason.find("OCSP signing"), std::string::npos) << verdict.reason;
}

TEST_F(OcspResponseTest, ResponderFromAnotherCaIsRejected) {
    auto verdict = check("foreign-signer.der");
    EXPECT_EQ(verdict.code, OcspVerdictCode::UntrustedSigner) << verdict.reason;
    EXPECT_NE(verdict.reason.find("not issued by the certificate's issuer"), std::string::npos) << verdict.reason;
}

TEST_F(OcspResponseTest, DelegatedResponderWhoseCertificateIsLeftOut) {
    auto verdict = check("delegated-no-certs.der");
    EXPECT_EQ(verdict.code, OcspVerdictCode::UntrustedSigner);
    EXPECT_NE(verdict.reason.find("certificate is not in the response"), std::string::npos) << verdict.reason;
}

TEST_F(OcspResponseTest, ResponderIdByKey) {
    auto direct = check("key-id.der");
    EXPECT_EQ(direct.code, OcspVerdictCode::Good) << direct.reason;
    auto delegated = check("delegated-key-id.der");
    EXPECT_EQ(delegated.code, OcspVerdictCode::Good) << delegated.reason;
    // Named by key, signed with a broken signature: the issuer's signature is bad,
    // not some missing responder's.
    auto broken = check("key-id-bad-signature.der");
    EXPECT_EQ(broken.code, OcspVerdictCode::BadSignature);
    EXPECT_NE(broken.reason.find("signature does not verify"), std::string::npos) << broken.reason;
}

TEST_F(OcspResponseTest, RsaIssuerSignature) {
    auto verdict = check("rsa-signed.der", "leaf-rsa-issued", {}, "rsa-ca");
    EXPECT_EQ(verdict.code, OcspVerdictCode::Good) << verdict.reason;
    // The same response checked against the wrong issuer certificate.
    auto wrong = check("rsa-signed.der", "leaf-rsa-issued", {}, "intermediate");
    EXPECT_EQ(wrong.code, OcspVerdictCode::WrongIssuerKey) << wrong.reason;
}

TEST_F(OcspResponseTest, IssuerCertificateWithTheRightNameButAnotherKey) {
    // The response is right, the issuer given is an impostor with the same DN.
    auto verdict = check("good-ecdsa.der", "leaf-ecdsa", {}, "impostor");
    EXPECT_EQ(verdict.code, OcspVerdictCode::WrongIssuerKey);
    EXPECT_NE(verdict.reason.find("another issuer key"), std::string::npos) << verdict.reason;
}

TEST_F(OcspResponseTest, ResponderErrorStatus) {
    auto verdict = check("try-later.der");
    EXPECT_EQ(verdict.code, OcspVerdictCode::NotSuccessful);
    EXPECT_NE(verdict.reason.find("tryLater"), std::string::npos) << verdict.reason;
}

TEST_F(OcspResponseTest, RevokedAndUnknown) {
    auto revoked = check("revoked.der");
    EXPECT_EQ(revoked.code, OcspVerdictCode::Revoked);
    EXPECT_NE(revoked.reason.find("REVOKED"), std::string::npos) << revoked.reason;
    auto unknown = check("unknown.der");
    EXPECT_EQ(unknown.code, OcspVerdictCode::Unknown);
    EXPECT_NE(unknown.reason.find("does not know"), std::string::npos) << unknown.reason;
}

TEST_F(OcspResponseTest, RevokedOrUnknownOnlyForCurrentResponses) {
    auto revoked = check("revoked.der");
    EXPECT_EQ(revoked.cert_status, OcspCertStatus::Revoked);
    EXPECT_EQ(format_utc(revoked.revocation_time), "2026-01-01T00:00:00Z");
    // Past its nextUpdate it is judged expired, and still says what it says.
    auto expired = check("revoked.der", "leaf-ecdsa", revoked.next_update + 1s);
    EXPECT_EQ(expired.code, OcspVerdictCode::Expired);
    EXPECT_EQ(expired.cert_status, OcspCertStatus::Revoked);
    EXPECT_NE(expired.reason.find("it says the certificate is REVOKED"), std::string::npos) << expired.reason;
    auto early = check("unknown.der", "leaf-ecdsa", revoked.this_update - 1h);
    EXPECT_EQ(early.code, OcspVerdictCode::NotYetValid);
    EXPECT_EQ(early.cert_status, OcspCertStatus::Unknown);
    EXPECT_EQ(check("good-ecdsa.der").cert_status, OcspCertStatus::Good);
    EXPECT_EQ(check("bad-signature.der").cert_status, OcspCertStatus::NotChecked);
}

TEST_F(OcspResponseTest, ExpiredWhenNextUpdateHasPassed) {
    auto good = check("good-ecdsa.der");
    auto verdict = check("good-ecdsa.der", "leaf-ecdsa", good.next_update + 1s);
    EXPECT_EQ(verdict.code, OcspVerdictCode::Expired);
    EXPECT_NE(verdict.reason.find("nextUpdate"), std::string::npos) << verdict.reason;
    // nextUpdate itself is already too late; one second before it is still good.
    EXPECT_EQ(check("good-ecdsa.der", "leaf-ecdsa", good.next_update).code, OcspVerdictCode::Expired);
    EXPECT_EQ(check("good-ecdsa.der", "leaf-ecdsa", good.next_update - 1s).code, OcspVerdictCode::Good);
}

TEST_F(OcspResponseTest, ThisUpdateInTheFutureBeyondSkew) {
    auto good = check("good-ecdsa.der");
    auto verdict = check("good-ecdsa.der", "leaf-ecdsa", good.this_update - 6min);
    EXPECT_EQ(verdict.code, OcspVerdictCode::NotYetValid);
    EXPECT_NE(verdict.reason.find("thisUpdate"), std::string::npos) << verdict.reason;
    EXPECT_EQ(check("good-ecdsa.der", "leaf-ecdsa", good.this_update - 4min).code, OcspVerdictCode::Good);
    // Exactly the allowed skew ahead is still accepted.
    EXPECT_EQ(check("good-ecdsa.der", "leaf-ecdsa", good.this_update - kMaxOcspClockSkew).code, OcspVerdictCode::Good);
}

TEST_F(OcspResponseTest, NextUpdateInYear9999IsClampedAndAccepted) {
    // Converting year 9999 to nanoseconds would overflow (undefined behaviour;
    // in practice a negative time, so "expired").
    auto verdict = check("far-future.der");
    EXPECT_EQ(verdict.code, OcspVerdictCode::Good) << verdict.reason;
    EXPECT_EQ(verdict.next_update, TimePoint::max());
    EXPECT_GT(verdict.next_update, verdict.this_update);
    EXPECT_EQ(format_utc(verdict.next_update), "2262-04-11T23:47:16Z");
}

TEST_F(OcspResponseTest, MissingNextUpdate) {
    auto verdict = check("no-next-update.der");
    EXPECT_EQ(verdict.code, OcspVerdictCode::NoNextUpdate);
    EXPECT_NE(verdict.reason.find("nextUpdate"), std::string::npos) << verdict.reason;
}

TEST_F(OcspResponseTest, ResponseForAnotherCertificate) {
    auto verdict = check("other-certificate.der");
    EXPECT_EQ(verdict.code, OcspVerdictCode::WrongCertificate);
    EXPECT_NE(verdict.reason.find("another certificate"), std::string::npos) << verdict.reason;
    // The RSA leaf's response does not fit the ECDSA leaf either.
    EXPECT_EQ(check("good-rsa.der").code, OcspVerdictCode::WrongCertificate);
}

TEST_F(OcspResponseTest, SameIssuerNameOtherIssuerKey) {
    auto verdict = check("wrong-issuer-key.der");
    EXPECT_EQ(verdict.code, OcspVerdictCode::WrongIssuerKey);
    EXPECT_NE(verdict.reason.find("issuer key"), std::string::npos) << verdict.reason;
}

TEST_F(OcspResponseTest, BrokenSignature) {
    auto verdict = check("bad-signature.der");
    EXPECT_EQ(verdict.code, OcspVerdictCode::BadSignature);
    EXPECT_NE(verdict.reason.find("signature"), std::string::npos) << verdict.reason;
}

TEST_F(OcspResponseTest, TruncatedEmptyAndOversized) {
    auto truncated = check("truncated.der");
    EXPECT_EQ(truncated.code, OcspVerdictCode::Unparsable);
    EXPECT_NE(truncated.reason.find("not an OCSP response"), std::string::npos) << truncated.reason;
    auto empty = check("empty.der");
    EXPECT_EQ(empty.code, OcspVerdictCode::Empty);
    auto oversized = check("oversized.der");
    EXPECT_EQ(oversized.code, OcspVerdictCode::TooLarge);
    EXPECT_NE(oversized.reason.find("65536"), std::string::npos) << oversized.reason;
    EXPECT_TRUE(oversized.der.empty());
}

TEST_F(OcspResponseTest, SizeCapBoundary) {
    // At the cap the bytes are parsed (and fail as garbage); one more is refused unparsed.
    std::vector<unsigned char> at_cap(kMaxOcspResponseSize, 0x30);
    EXPECT_EQ(check_bytes(at_cap).code, OcspVerdictCode::Unparsable);
    at_cap.push_back(0x30);
    EXPECT_EQ(check_bytes(at_cap).code, OcspVerdictCode::TooLarge);
}

TEST_F(OcspResponseTest, PemOfAnotherKindOrGarbage) {
    auto certificate = check("intermediate.pem");
    EXPECT_EQ(certificate.code, OcspVerdictCode::Unparsable);
    EXPECT_NE(certificate.reason.find("not an OCSP response (PEM)"), std::string::npos) << certificate.reason;
    EXPECT_TRUE(certificate.der.empty());
    std::string text = "-----BEGIN OCSP RESPONSE-----\n!!!!\n-----END OCSP RESPONSE-----\n";
    auto garbage = check_bytes(std::vector<unsigned char>(text.begin(), text.end()));
    EXPECT_EQ(garbage.code, OcspVerdictCode::Unparsable) << garbage.reason;
}

TEST_F(OcspResponseTest, MultiResponseUsesTheFirstSingleResponse) {
    EXPECT_EQ(check("multi-first-leaf.der").code, OcspVerdictCode::Good);
    auto verdict = check("multi-first-other.der");
    EXPECT_EQ(verdict.code, OcspVerdictCode::WrongCertificate);
    EXPECT_NE(verdict.reason.find("SingleResponse 2 of 2"), std::string::npos) << verdict.reason;
    auto none = check("multi-none.der");
    EXPECT_EQ(none.code, OcspVerdictCode::WrongCertificate);
    EXPECT_NE(none.reason.find("none of its 2 SingleResponses"), std::string::npos) << none.reason;
}

TEST_F(OcspResponseTest, Sha256CertIdIsAcceptedWithAWarning) {
    auto verdict = check("sha256-certid.der");
    EXPECT_EQ(verdict.code, OcspVerdictCode::Good) << verdict.reason;
    ASSERT_EQ(verdict.warnings.size(), 1u);
    EXPECT_NE(verdict.warnings[0].find("SHA256"), std::string::npos) << verdict.warnings[0];
}

TEST(OcspVerdictNames, AreDistinctAndNamed) {
    std::set<std::string_view> names;
    const auto last = static_cast<int>(OcspVerdictCode::UnsupportedCertIdHash);
    for (int code = 0; code <= last; ++code) {
        auto name = verdict_name(static_cast<OcspVerdictCode>(code));
        EXPECT_NE(name, "invalid") << code;
        EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz-"), std::string_view::npos) << name;
        names.insert(name);
    }
    EXPECT_EQ(names.size(), static_cast<std::size_t>(last + 1));
    EXPECT_EQ(verdict_name(static_cast<OcspVerdictCode>(last + 1)), "invalid");
}

TEST(OcspVerdictNames, AreStable) {
    EXPECT_EQ(verdict_name(OcspVerdictCode::Expired), "expired");
    EXPECT_EQ(verdict_name(OcspVerdictCode::UntrustedSigner), "untrusted-signer");
    EXPECT_EQ(verdict_name(OcspVerdictCode::Good), "good");
    EXPECT_EQ(verdict_name(OcspVerdictCode::Revoked), "revoked");
    EXPECT_EQ(verdict_name(OcspVerdictCode::WrongIssuerKey), "wrong-issuer-key");
    EXPECT_EQ(verdict_name(OcspVerdictCode::NoNextUpdate), "no-next-update");
}

}  // namespace
}  // namespace gtls
