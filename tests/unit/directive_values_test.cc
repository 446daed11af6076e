#include "core/directive_values.h"
#include "core/priorities.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace gtls {
namespace {

TEST(DirectiveValues, OnOffIsCaseInsensitive) {
    EXPECT_EQ(parse_on_off("On").value, true);
    EXPECT_EQ(parse_on_off("oFF").value, false);
    auto bad = parse_on_off("yes");
    EXPECT_FALSE(bad);
    EXPECT_NE(bad.error.find("'yes'"), std::string::npos);
}

TEST(DirectiveValues, SecondsWithinRange) {
    EXPECT_EQ(parse_seconds("300", 0, 604800).value, 300);
    EXPECT_EQ(parse_seconds("0", 0, 10).value, 0);
    EXPECT_FALSE(parse_seconds("-1", 0, 10));
    EXPECT_FALSE(parse_seconds("11", 0, 10));
    EXPECT_FALSE(parse_seconds("5s", 0, 10));
    EXPECT_FALSE(parse_seconds("", 0, 10));
    EXPECT_NE(parse_seconds("11", 0, 10).error.find("between 0 and 10"), std::string::npos);
}

TEST(DirectiveValues, SessionCacheForms) {
    EXPECT_EQ(parse_session_cache("none").value, SessionCacheSpec{});
    EXPECT_EQ(parse_session_cache("NONE").value, SessionCacheSpec{});
    EXPECT_EQ(parse_session_cache("shmcb").value, (SessionCacheSpec{"shmcb", ""}));
    EXPECT_EQ(parse_session_cache("shmcb:/run/c(512000)").value, (SessionCacheSpec{"shmcb", "/run/c(512000)"}));
    // mod_gnutls's two-argument form.
    EXPECT_EQ(parse_session_cache("dbm", "/var/cache/gtls").value, (SessionCacheSpec{"dbm", "/var/cache/gtls"}));
    EXPECT_EQ(parse_session_cache("gdbm", "/var/cache/gtls").value, (SessionCacheSpec{"dbm", "/var/cache/gtls"}));
    EXPECT_FALSE(parse_session_cache("shmcb:/x", "/y"));
    EXPECT_FALSE(parse_session_cache("none", "/y"));
    EXPECT_FALSE(parse_session_cache(""));
    EXPECT_FALSE(parse_session_cache("sh/mcb"));
}

TEST(Priorities, DefaultCompilesAndBadStringNamesTheProblem) {
    EXPECT_NE(compile_priorities(std::string(kDefaultPriorities)), nullptr);
    EXPECT_NE(compile_priorities("NORMAL"), nullptr);
    try {
        compile_priorities("NORMAL:+NO-SUCH-THING");
        FAIL() << "accepted a bad priority string";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("NO-SUCH-THING"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace gtls

namespace gtls {
namespace {

TEST(CertificatePreference, AcceptsCostAndOrderInAnyCase) {
    EXPECT_EQ(parse_certificate_preference("cost").value, CertificatePreference::Cost);
    EXPECT_EQ(parse_certificate_preference("ORDER").value, CertificatePreference::Order);
    auto bad = parse_certificate_preference("rsa");
    EXPECT_FALSE(bad);
    EXPECT_NE(bad.error.find("'rsa'"), std::string::npos);
}

TEST(RsaSigner, AcceptsGnutlsAndOpensslInAnyCase) {
    EXPECT_EQ(parse_rsa_signer("gnutls").value, RsaSigner::GnuTLS);
    EXPECT_EQ(parse_rsa_signer("OpenSSL").value, RsaSigner::OpenSSL);
    auto bad = parse_rsa_signer("nettle");
    EXPECT_FALSE(bad);
    EXPECT_NE(bad.error.find("'nettle'"), std::string::npos);
}

}  // namespace
}  // namespace gtls

namespace gtls {
namespace {

TEST(WholeNumber, NamesItsUnitInErrors) {
    EXPECT_EQ(*parse_whole_number("4096", 0, 1048576, "bytes").value, 4096);
    EXPECT_EQ(parse_whole_number("4k", 0, 1048576, "bytes").error, "must be a whole number of bytes, not '4k'");
    EXPECT_EQ(parse_whole_number("2000000", 0, 1048576, "bytes").error,
              "must be between 0 and 1048576 bytes, not 2000000");
}

}  // namespace
}  // namespace gtls
