// gtls-ocsp-fetch's decisions: when to fetch, what may replace the file, and
// the RFC 5019 GET form of a request.
#include "fetch/ocsp_request.h"
#include "fetch/refresh_policy.h"

#include <gtest/gtest.h>

#include <vector>

namespace gtls {
namespace {

using std::chrono::hours;

OcspVerdict verdict(OcspVerdictCode code, TimePoint this_update, TimePoint next_update) {
    OcspVerdict v;
    v.code = code;
    v.this_update = this_update;
    v.next_update = next_update;
    v.has_next_update = true;
    return v;
}

const TimePoint kThisUpdate = from_time_t(1893456000);  // 2030-01-01
const TimePoint kNextUpdate = kThisUpdate + hours(100);

TEST(RefreshPolicy, FetchesWithoutAGoodFile) {
    EXPECT_TRUE(decide_refresh(nullptr, kThisUpdate, 0.5, 0).fetch);
    auto expired = verdict(OcspVerdictCode::Expired, kThisUpdate, kNextUpdate);
    auto decision = decide_refresh(&expired, kThisUpdate, 0.5, 0);
    EXPECT_TRUE(decision.fetch);
    EXPECT_NE(decision.why.find("expired"), std::string::npos) << decision.why;
}

TEST(RefreshPolicy, ARevokedFileIsAskedAgainWithoutCallingItUnstapled) {
    // httpd staples a valid revoked response; ask again in case it changed.
    auto revoked = verdict(OcspVerdictCode::Revoked, kThisUpdate, kNextUpdate);
    auto decision = decide_refresh(&revoked, kThisUpdate, 0.5, 0);
    EXPECT_TRUE(decision.fetch);
    EXPECT_EQ(decision.why, "the file on disk says the certificate is revoked");
}

TEST(RefreshPolicy, FreshUntilTheFractionOfItsLifeMinusJitter) {
    auto good = verdict(OcspVerdictCode::Good, kThisUpdate, kNextUpdate);
    EXPECT_FALSE(decide_refresh(&good, kThisUpdate + hours(49), 0.5, 0).fetch);
    EXPECT_TRUE(decide_refresh(&good, kThisUpdate + hours(50), 0.5, 0).fetch);
    // 10% jitter moves the refresh 10 hours earlier.
    EXPECT_FALSE(decide_refresh(&good, kThisUpdate + hours(39), 0.5, 0.1).fetch);
    EXPECT_TRUE(decide_refresh(&good, kThisUpdate + hours(40), 0.5, 0.1).fetch);
    auto decision = decide_refresh(&good, kThisUpdate, 0.5, 0);
    EXPECT_EQ(decision.why, "fresh until 2030-01-03T02:00:00Z (next_update 2030-01-05T04:00:00Z)");
}

TEST(RefreshPolicy, OnlyAsGoodOrRevokedAnswersReplaceTheFile) {
    auto current = verdict(OcspVerdictCode::Good, kThisUpdate, kNextUpdate);
    auto newer = verdict(OcspVerdictCode::Good, kThisUpdate + hours(1), kNextUpdate + hours(1));
    auto older = verdict(OcspVerdictCode::Good, kThisUpdate - hours(1), kNextUpdate - hours(1));
    EXPECT_TRUE(may_replace(newer, &current));
    EXPECT_FALSE(may_replace(older, &current));
    EXPECT_TRUE(may_replace(older, nullptr));
    auto expired = verdict(OcspVerdictCode::Expired, kThisUpdate, kNextUpdate);
    EXPECT_TRUE(may_replace(older, &expired));
    EXPECT_TRUE(may_replace(verdict(OcspVerdictCode::Revoked, kThisUpdate, kNextUpdate), &current));
    for (auto code : {OcspVerdictCode::Unknown, OcspVerdictCode::WrongCertificate, OcspVerdictCode::Unparsable,
                      OcspVerdictCode::BadSignature, OcspVerdictCode::Expired}) {
        EXPECT_FALSE(may_replace(verdict(code, kThisUpdate, kNextUpdate), nullptr)) << verdict_name(code);
    }
}

TEST(RefreshPolicy, NewerThisUpdateWinsEvenWithAnEarlierNextUpdate) {
    // The CA shortened its responses' validity: the newer answer ends sooner.
    auto current = verdict(OcspVerdictCode::Good, kThisUpdate, kThisUpdate + hours(7 * 24));
    auto shorter = verdict(OcspVerdictCode::Good, kThisUpdate + hours(1), kThisUpdate + hours(25));
    EXPECT_TRUE(may_replace(shorter, &current));
    // An older answer never wins, however long it claims to be valid.
    auto older_longer = verdict(OcspVerdictCode::Good, kThisUpdate - hours(1), kThisUpdate + hours(30 * 24));
    EXPECT_FALSE(may_replace(older_longer, &current));
    EXPECT_TRUE(may_replace(current, &current)) << "the same thisUpdate is not older";
}

TEST(OcspRequestGet, SmallRequestsAreUrlEncodedBase64AndLargeOnesArePosted) {
    const std::vector<unsigned char> small{0xfb, 0xff, 0x00};  // base64 "+/8A"
    EXPECT_EQ(get_url("http://ocsp.test", small), "http://ocsp.test/%2B%2F8A");
    EXPECT_EQ(get_url("http://ocsp.test/", small), "http://ocsp.test/%2B%2F8A");
    const std::vector<unsigned char> one{0x01};  // base64 "AQ=="
    EXPECT_EQ(get_url("http://ocsp.test/", one), "http://ocsp.test/AQ%3D%3D");
    const std::vector<unsigned char> large(200, 0xab);
    EXPECT_EQ(get_url("http://ocsp.test/", large), "");
}

}  // namespace
}  // namespace gtls
