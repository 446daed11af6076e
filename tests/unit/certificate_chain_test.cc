// CertificateChain against certificates and keys made here with the GnuTLS API.
#include "core/certificate_chain.h"

#include <gnutls/x509-ext.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace gtls {
namespace {

OwnedPrivkey make_key(gnutls_pk_algorithm_t algorithm, unsigned bits) {
    gnutls_x509_privkey_t key = nullptr;
    EXPECT_EQ(gnutls_x509_privkey_init(&key), 0);
    OwnedPrivkey owned(key);
    EXPECT_EQ(gnutls_x509_privkey_generate(key, algorithm, bits, 0), 0);
    return owned;
}

// A certificate for `key`, signed by `issuer_key` (self-signed when null).
OwnedCrt make_certificate(const char* cn, gnutls_x509_privkey_t key, gnutls_x509_crt_t issuer,
                          gnutls_x509_privkey_t issuer_key, bool is_ca, bool must_staple) {
    gnutls_x509_crt_t crt = nullptr;
    EXPECT_EQ(gnutls_x509_crt_init(&crt), 0);
    OwnedCrt owned(crt);
    gnutls_x509_crt_set_version(crt, 3);
    static unsigned char serial = 1;
    ++serial;
    gnutls_x509_crt_set_serial(crt, &serial, 1);
    auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    gnutls_x509_crt_set_activation_time(crt, now - 3600);
    gnutls_x509_crt_set_expiration_time(crt, now + 86400);
    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, static_cast<unsigned>(strlen(cn)));
    gnutls_x509_crt_set_key(crt, key);
    gnutls_x509_crt_set_basic_constraints(crt, is_ca ? 1 : 0, -1);
    if (must_staple) {
        gnutls_x509_tlsfeatures_t features = nullptr;
        gnutls_x509_tlsfeatures_init(&features);
        gnutls_x509_tlsfeatures_add(features, 5);
        EXPECT_EQ(gnutls_x509_crt_set_tlsfeatures(crt, features), 0);
        gnutls_x509_tlsfeatures_deinit(features);
    }
    if (issuer == nullptr) {
        EXPECT_EQ(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), 0);
    } else {
        EXPECT_EQ(gnutls_x509_crt_sign2(crt, issuer, issuer_key, GNUTLS_DIG_SHA256, 0), 0);
    }
    return owned;
}

std::string pem_of(gnutls_x509_crt_t crt) {
    OwnedDatum out;
    EXPECT_EQ(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, out.out()), 0);
    return {reinterpret_cast<const char*>(out.data()), out.size()};
}

std::string pem_of(gnutls_x509_privkey_t key) {
    OwnedDatum out;
    EXPECT_EQ(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, out.out()), 0);
    return {reinterpret_cast<const char*>(out.data()), out.size()};
}

class CertificateChainTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("gtls-chain-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::create_directories(dir_);
        ca_key_ = make_key(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1));
        ca_ = make_certificate("Test CA", ca_key_.get(), nullptr, nullptr, true, false);
        leaf_key_ = make_key(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1));
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string write(const std::string& name, const std::string& text) {
        auto path = dir_ / name;
        std::ofstream(path) << text;
        return path.string();
    }

    std::filesystem::path dir_;
    OwnedPrivkey ca_key_;
    OwnedCrt ca_;
    OwnedPrivkey leaf_key_;
};

TEST_F(CertificateChainTest, LoadsChainWithIssuerAndMatchingKey) {
    auto leaf = make_certificate("a.test", leaf_key_.get(), ca_.get(), ca_key_.get(), false, false);
    auto chain = CertificateChain::load(write("chain.pem", pem_of(leaf.get()) + pem_of(ca_.get())),
                                        write("leaf.key", pem_of(leaf_key_.get())));
    EXPECT_EQ(chain.certificates().size(), 2u);
    ASSERT_NE(chain.issuer(), nullptr);
    EXPECT_EQ(pem_of(chain.issuer()), pem_of(ca_.get()));
    EXPECT_FALSE(chain.must_staple());
    EXPECT_EQ(chain.key_type(), "EC/ECDSA");
    EXPECT_EQ(chain.subject(), "CN=a.test");
}

TEST_F(CertificateChainTest, EllipticCurveKeysRankCheaperThanRsa) {
    auto ecdsa_leaf = make_certificate("a.test", leaf_key_.get(), ca_.get(), ca_key_.get(), false, false);
    auto ecdsa = CertificateChain::load(write("ecdsa.pem", pem_of(ecdsa_leaf.get())), write("ecdsa.key", pem_of(leaf_key_.get())));
    auto rsa_key = make_key(GNUTLS_PK_RSA, 2048);
    auto rsa_leaf = make_certificate("a.test", rsa_key.get(), ca_.get(), ca_key_.get(), false, false);
    auto rsa = CertificateChain::load(write("rsa.pem", pem_of(rsa_leaf.get())), write("rsa.key", pem_of(rsa_key.get())));
    EXPECT_EQ(ecdsa.signing_cost_rank(), 0);
    EXPECT_EQ(rsa.signing_cost_rank(), 1);
}

TEST_F(CertificateChainTest, LeafFactsAreMadeAtLoadTime) {
    auto leaf = make_certificate("a.test", leaf_key_.get(), ca_.get(), ca_key_.get(), false, false);
    auto chain = CertificateChain::load(write("chain.pem", pem_of(leaf.get()) + pem_of(ca_.get())),
                                        write("leaf.key", pem_of(leaf_key_.get())));
    const CertificateFacts& facts = chain.leaf_facts();
    OwnedDatum der;
    ASSERT_EQ(gnutls_x509_crt_export2(leaf.get(), GNUTLS_X509_FMT_DER, der.out()), 0);
    EXPECT_EQ(facts.der, std::string(reinterpret_cast<const char*>(der.data()), der.size()));
    EXPECT_EQ(facts.pem, pem_of(leaf.get()));
    EXPECT_EQ(facts.subject_dn, "CN=a.test");
    EXPECT_EQ(facts.issuer_dn, "CN=Test CA");
    unsigned char serial[8];
    size_t serial_size = sizeof(serial);
    ASSERT_EQ(gnutls_x509_crt_get_serial(leaf.get(), serial, &serial_size), 0);
    ASSERT_EQ(serial_size, 1u);
    char expected_serial[3];
    std::snprintf(expected_serial, sizeof(expected_serial), "%02X", serial[0]);
    EXPECT_EQ(facts.serial_hex, expected_serial);
    EXPECT_EQ(facts.version, "3");
    EXPECT_EQ(facts.not_before, format_certificate_time(gnutls_x509_crt_get_activation_time(leaf.get())));
    EXPECT_EQ(facts.not_after, format_certificate_time(gnutls_x509_crt_get_expiration_time(leaf.get())));
    EXPECT_EQ(facts.key_algorithm, "EC/ECDSA");
    EXPECT_EQ(facts.signature_algorithm, "ECDSA-SHA256");
}

TEST(CertificateTime, UsesModSslFormatInUtc) {
    EXPECT_EQ(format_certificate_time(1893456000), "Jan  1 00:00:00 2030 GMT");
    EXPECT_EQ(format_certificate_time(1900000000), "Mar 17 17:46:40 2030 GMT");
}

TEST_F(CertificateChainTest, ChainWithoutIssuerHasNoIssuer) {
    auto leaf = make_certificate("a.test", leaf_key_.get(), ca_.get(), ca_key_.get(), false, false);
    auto chain = CertificateChain::load(write("chain.pem", pem_of(leaf.get())), write("leaf.key", pem_of(leaf_key_.get())));
    EXPECT_EQ(chain.issuer(), nullptr);
}

TEST_F(CertificateChainTest, DetectsMustStaple) {
    auto leaf = make_certificate("a.test", leaf_key_.get(), ca_.get(), ca_key_.get(), false, true);
    auto chain = CertificateChain::load(write("chain.pem", pem_of(leaf.get()) + pem_of(ca_.get())),
                                        write("leaf.key", pem_of(leaf_key_.get())));
    EXPECT_TRUE(chain.must_staple());
}

TEST_F(CertificateChainTest, RejectsKeyOfAnotherCertificate) {
    auto leaf = make_certificate("a.test", leaf_key_.get(), ca_.get(), ca_key_.get(), false, false);
    auto other_key = make_key(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1));
    try {
        CertificateChain::load(write("chain.pem", pem_of(leaf.get())), write("other.key", pem_of(other_key.get())));
        FAIL() << "accepted a key that does not match";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("does not match"), std::string::npos) << e.what();
    }
}

std::string encrypted_pkcs8_of(gnutls_x509_privkey_t key, const char* passphrase) {
    OwnedDatum out;
    EXPECT_EQ(gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, passphrase, GNUTLS_PKCS_PBES2_AES_256,
                                                out.out()),
              0);
    return std::string(reinterpret_cast<const char*>(out.data()), out.size());
}

TEST_F(CertificateChainTest, EncryptedKeyNeedsItsPassphrase) {
    auto leaf = make_certificate("a.test", leaf_key_.get(), ca_.get(), ca_key_.get(), false, false);
    const auto chain_path = write("chain.pem", pem_of(leaf.get()));
    const auto key_path = write("encrypted.key", encrypted_pkcs8_of(leaf_key_.get(), "pass phrase"));
    const std::string right = "pass phrase", wrong = "pass word";
    auto chain = CertificateChain::load(chain_path, key_path, &right);
    EXPECT_NE(chain.key(), nullptr);
    for (const std::string* pin : {static_cast<const std::string*>(nullptr), &wrong}) {
        try {
            CertificateChain::load(chain_path, key_path, pin);
            FAIL() << "loaded an encrypted key " << (pin ? "with the wrong passphrase" : "without a passphrase");
        } catch (const ChainLoadError& e) {
            EXPECT_EQ(e.file(), ChainLoadError::File::Key);
            EXPECT_NE(std::string(e.what()).find(pin ? "GnuTLSPIN is not its passphrase" : "no GnuTLSPIN"),
                      std::string::npos)
                << e.what();
        }
    }
}

TEST_F(CertificateChainTest, UnencryptedKeyIgnoresThePin) {
    auto leaf = make_certificate("a.test", leaf_key_.get(), ca_.get(), ca_key_.get(), false, false);
    const std::string pin = "1234";  // for a token elsewhere in the same vhost
    auto chain = CertificateChain::load(write("chain.pem", pem_of(leaf.get())), write("leaf.key", pem_of(leaf_key_.get())),
                                        &pin);
    EXPECT_NE(chain.key(), nullptr);
}

TEST_F(CertificateChainTest, MissingAndGarbageFilesNameTheFile) {
    auto key_path = write("leaf.key", pem_of(leaf_key_.get()));
    try {
        CertificateChain::load((dir_ / "missing.pem").string(), key_path);
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("missing.pem"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
    }
    try {
        CertificateChain::load(write("garbage.pem", "not a certificate\n"), key_path);
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("no certificate"), std::string::npos) << e.what();
    }
    auto leaf = make_certificate("a.test", leaf_key_.get(), ca_.get(), ca_key_.get(), false, false);
    try {
        CertificateChain::load(write("chain.pem", pem_of(leaf.get())), write("garbage.key", "nope"));
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("no private key"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace gtls
