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
