// Priority strings: what the module reads out of a compiled one.
#include "core/priorities.h"

#include <gtest/gtest.h>

namespace gtls {
namespace {

// The OpenSSL RSA signer only signs; a vhost whose priorities let the key
// decrypt (TLS_RSA_* suites) keeps GnuTLS's signer.
TEST(Priorities, TellWhetherRsaKeyExchangeIsOn) {
    EXPECT_FALSE(offers_rsa_key_exchange(compile_priorities(std::string(kDefaultPriorities)).get()));
    EXPECT_TRUE(offers_rsa_key_exchange(compile_priorities("NORMAL:+RSA").get()));
    EXPECT_FALSE(offers_rsa_key_exchange(compile_priorities("NORMAL:-RSA").get()));
}

}  // namespace
}  // namespace gtls
