// The OpenSSL RSA signer (core/rsa_signer) against GnuTLS: every signature it
// makes verifies with GnuTLS, for each padding, hash and key size, with keys
// generated here.
#include "core/rsa_signer.h"

#include <gnutls/crypto.h>
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace gtls {
namespace {

OwnedPrivkey generate(gnutls_pk_algorithm_t algorithm, unsigned bits) {
    gnutls_x509_privkey_t key = nullptr;
    EXPECT_EQ(gnutls_x509_privkey_init(&key), 0);
    OwnedPrivkey owned(key);
    EXPECT_EQ(gnutls_x509_privkey_generate(key, algorithm, bits, 0), 0);
    return owned;
}

// One RSA key per size for the whole suite: a 4096-bit key takes seconds to make.
gnutls_x509_privkey_t rsa_key(unsigned bits) {
    static std::map<unsigned, OwnedPrivkey> keys;
    OwnedPrivkey& key = keys[bits];
    if (!key) key = generate(GNUTLS_PK_RSA, bits);
    return key.get();
}

OwnedAbstractPrivkey gnutls_privkey_of(gnutls_x509_privkey_t key) {
    gnutls_privkey_t privkey = nullptr;
    EXPECT_EQ(gnutls_privkey_init(&privkey), 0);
    OwnedAbstractPrivkey owned(privkey);
    EXPECT_EQ(gnutls_privkey_import_x509(privkey, key, GNUTLS_PRIVKEY_IMPORT_COPY), 0);
    return owned;
}

OwnedPubkey public_key_of(gnutls_x509_privkey_t key) {
    OwnedAbstractPrivkey privkey = gnutls_privkey_of(key);
    gnutls_pubkey_t pubkey = nullptr;
    EXPECT_EQ(gnutls_pubkey_init(&pubkey), 0);
    OwnedPubkey owned(pubkey);
    EXPECT_EQ(gnutls_pubkey_import_privkey(pubkey, privkey.get(), 0, 0), 0);
    return owned;
}

const gnutls_datum_t kMessage{const_cast<unsigned char*>(reinterpret_cast<const unsigned char*>("TLS 1.3, server CertificateVerify")), 33};

class RsaSignerTest : public ::testing::TestWithParam<std::tuple<unsigned, gnutls_sign_algorithm_t>> {
protected:
    void SetUp() override {
        if (!openssl_rsa_signer_available()) GTEST_SKIP() << "built without libcrypto";
    }
};

TEST_P(RsaSignerTest, SignaturesVerifyWithGnuTLS) {
    const auto [bits, algorithm] = GetParam();
    gnutls_x509_privkey_t key = rsa_key(bits);
    OwnedAbstractPrivkey signer = make_openssl_rsa_privkey(key, nullptr);
    unsigned reported_bits = 0;
    EXPECT_EQ(gnutls_privkey_get_pk_algorithm(signer.get(), &reported_bits), GNUTLS_PK_RSA);
    EXPECT_EQ(reported_bits, bits);

    OwnedDatum signature;
    ASSERT_EQ(gnutls_privkey_sign_data2(signer.get(), algorithm, 0, &kMessage, signature.out()), 0);
    EXPECT_EQ(signature.size(), bits / 8);
    OwnedPubkey pubkey = public_key_of(key);
    const bool pss = gnutls_sign_get_pk_algorithm(algorithm) == GNUTLS_PK_RSA_PSS;
    // TLS 1.3 requires the salt to be as long as the hash (RFC 8446 4.2.3).
    EXPECT_EQ(gnutls_pubkey_verify_data2(pubkey.get(), algorithm, pss ? GNUTLS_VERIFY_RSA_PSS_FIXED_SALT_LENGTH : 0,
                                         &kMessage, &signature.get()),
              0);

    // The hash-signing entry point GnuTLS's TLS 1.2 code does not use, checked
    // the same way.
    unsigned char digest[64];
    const auto hash = static_cast<gnutls_digest_algorithm_t>(gnutls_sign_get_hash_algorithm(algorithm));
    ASSERT_EQ(gnutls_hash_fast(hash, kMessage.data, kMessage.size, digest), 0);
    const gnutls_datum_t digest_datum{digest, gnutls_hash_get_len(hash)};
    OwnedDatum hash_signature;
    ASSERT_EQ(gnutls_privkey_sign_hash2(signer.get(), algorithm, 0, &digest_datum, hash_signature.out()), 0);
    EXPECT_EQ(gnutls_pubkey_verify_hash2(pubkey.get(), algorithm, pss ? GNUTLS_VERIFY_RSA_PSS_FIXED_SALT_LENGTH : 0,
                                         &digest_datum, &hash_signature.get()),
              0);

    if (!pss) {
        // PKCS #1 v1.5 is deterministic: byte for byte what nettle makes.
        OwnedAbstractPrivkey nettle = gnutls_privkey_of(key);
        OwnedDatum expected;
        ASSERT_EQ(gnutls_privkey_sign_data2(nettle.get(), algorithm, 0, &kMessage, expected.out()), 0);
        ASSERT_EQ(expected.size(), signature.size());
        EXPECT_EQ(std::memcmp(expected.data(), signature.data(), signature.size()), 0);
    }
}

TEST_P(RsaSignerTest, SignaturesVerifiedBySignerToo) {
    const auto [bits, algorithm] = GetParam();
    OwnedAbstractPrivkey signer = make_openssl_rsa_privkey(rsa_key(bits), public_key_of(rsa_key(bits)));
    OwnedDatum signature;
    ASSERT_EQ(gnutls_privkey_sign_data2(signer.get(), algorithm, 0, &kMessage, signature.out()), 0);
    const bool pss = gnutls_sign_get_pk_algorithm(algorithm) == GNUTLS_PK_RSA_PSS;
    EXPECT_EQ(gnutls_pubkey_verify_data2(public_key_of(rsa_key(bits)).get(), algorithm,
                                         pss ? GNUTLS_VERIFY_RSA_PSS_FIXED_SALT_LENGTH : 0, &kMessage, &signature.get()),
              0);
}

std::string name_of(const ::testing::TestParamInfo<RsaSignerTest::ParamType>& info) {
    std::string name = "RSA" + std::to_string(std::get<0>(info.param)) + "_" + gnutls_sign_get_name(std::get<1>(info.param));
    for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    return name;
}

INSTANTIATE_TEST_SUITE_P(
    AllPaddingsHashesAndSizes, RsaSignerTest,
    ::testing::Combine(::testing::Values(2048u, 3072u, 4096u),
                       ::testing::Values(GNUTLS_SIGN_RSA_SHA256, GNUTLS_SIGN_RSA_SHA384, GNUTLS_SIGN_RSA_SHA512,
                                         GNUTLS_SIGN_RSA_PSS_RSAE_SHA256, GNUTLS_SIGN_RSA_PSS_RSAE_SHA384,
                                         GNUTLS_SIGN_RSA_PSS_RSAE_SHA512)),
    name_of);

class RsaSignerBehaviourTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!openssl_rsa_signer_available()) GTEST_SKIP() << "built without libcrypto";
    }
};

// TLS 1.0/1.1's RSA signature: PKCS #1 v1.5 over MD5+SHA-1 without a DigestInfo.
TEST_F(RsaSignerBehaviourTest, SignsRawPkcs1ForTls10) {
    OwnedAbstractPrivkey signer = make_openssl_rsa_privkey(rsa_key(2048), nullptr);
    unsigned char raw[36];
    std::memset(raw, 0x42, sizeof raw);
    const gnutls_datum_t input{raw, sizeof raw};
    OwnedDatum signature;
    ASSERT_EQ(gnutls_privkey_sign_hash(signer.get(), GNUTLS_DIG_SHA1, GNUTLS_PRIVKEY_SIGN_FLAG_TLS1_RSA, &input,
                                       signature.out()),
              0);
    EXPECT_EQ(gnutls_pubkey_verify_hash2(public_key_of(rsa_key(2048)).get(), GNUTLS_SIGN_UNKNOWN,
                                         GNUTLS_PUBKEY_VERIFY_FLAG_TLS1_RSA, &input, &signature.get()),
              0);
}

// A signature that does not verify (here: checked against another key, as a
// fault in the CRT computation would make it) never leaves the signer.
TEST_F(RsaSignerBehaviourTest, DropsASignatureThatDoesNotVerify) {
    OwnedPrivkey other = generate(GNUTLS_PK_RSA, 2048);
    OwnedAbstractPrivkey signer = make_openssl_rsa_privkey(rsa_key(2048), public_key_of(other.get()));
    for (gnutls_sign_algorithm_t algorithm : {GNUTLS_SIGN_RSA_SHA256, GNUTLS_SIGN_RSA_PSS_RSAE_SHA256}) {
        OwnedDatum signature;
        EXPECT_EQ(gnutls_privkey_sign_data2(signer.get(), algorithm, 0, &kMessage, signature.out()), GNUTLS_E_PK_SIGN_FAILED)
            << gnutls_sign_get_name(algorithm);
        EXPECT_EQ(signature.data(), nullptr);
    }
}

TEST_F(RsaSignerBehaviourTest, RefusesKeysThatAreNotRsa) {
    OwnedPrivkey ecdsa = generate(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1));
    EXPECT_FALSE(openssl_rsa_signer_accepts(ecdsa.get()));
    EXPECT_TRUE(openssl_rsa_signer_accepts(rsa_key(2048)));
    EXPECT_THROW(make_openssl_rsa_privkey(ecdsa.get(), nullptr), std::runtime_error);
}

// What GnuTLS asks before choosing the key for a handshake: RSA signatures yes,
// anything else no.
TEST_F(RsaSignerBehaviourTest, OffersOnlyRsaSignatureAlgorithms) {
    OwnedAbstractPrivkey signer = make_openssl_rsa_privkey(rsa_key(2048), nullptr);
    for (gnutls_sign_algorithm_t algorithm : {GNUTLS_SIGN_ECDSA_SECP256R1_SHA256, GNUTLS_SIGN_EDDSA_ED25519,
                                              GNUTLS_SIGN_RSA_PSS_RSAE_SHA256, GNUTLS_SIGN_RSA_SHA256}) {
        const bool rsa = algorithm == GNUTLS_SIGN_RSA_PSS_RSAE_SHA256 || algorithm == GNUTLS_SIGN_RSA_SHA256;
        OwnedDatum signature;
        const int rc = gnutls_privkey_sign_data2(signer.get(), algorithm, 0, &kMessage, signature.out());
        EXPECT_EQ(rc == 0, rsa) << gnutls_sign_get_name(algorithm) << ": " << gnutls_strerror(rc);
    }
}

// Credentials accept the signer (GnuTLS signs with it to check it matches the
// certificate) and hand back the certificate index as with a file key.
TEST_F(RsaSignerBehaviourTest, CredentialsTakeTheSigner) {
    gnutls_x509_privkey_t key = rsa_key(2048);
    gnutls_x509_crt_t crt = nullptr;
    ASSERT_EQ(gnutls_x509_crt_init(&crt), 0);
    OwnedCrt owned_crt(crt);
    gnutls_x509_crt_set_version(crt, 3);
    const unsigned char serial = 7;
    gnutls_x509_crt_set_serial(crt, &serial, 1);
    const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    gnutls_x509_crt_set_activation_time(crt, now - 60);
    gnutls_x509_crt_set_expiration_time(crt, now + 3600);
    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "signer", 6);
    gnutls_x509_crt_set_key(crt, key);
    ASSERT_EQ(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), 0);

    gnutls_certificate_credentials_t raw = nullptr;
    ASSERT_EQ(gnutls_certificate_allocate_credentials(&raw), 0);
    OwnedCredentials credentials(raw);
    gnutls_certificate_set_flags(raw, GNUTLS_CERTIFICATE_API_V2);
    for (int expected_index : {0, 1}) {
        gnutls_pcert_st pcert;
        ASSERT_EQ(gnutls_pcert_import_x509(&pcert, crt, 0), 0);
        OwnedAbstractPrivkey signer = make_openssl_rsa_privkey(key, nullptr);
        ASSERT_EQ(gnutls_certificate_set_key(raw, nullptr, 0, &pcert, 1, signer.get()), expected_index);
        (void)signer.release();  // the credentials own it and the certificate now
    }

    // A key that is not the certificate's is refused.
    OwnedPrivkey other = generate(GNUTLS_PK_RSA, 2048);
    gnutls_pcert_st pcert;
    ASSERT_EQ(gnutls_pcert_import_x509(&pcert, crt, 0), 0);
    OwnedAbstractPrivkey wrong = make_openssl_rsa_privkey(other.get(), nullptr);
    EXPECT_LT(gnutls_certificate_set_key(raw, nullptr, 0, &pcert, 1, wrong.get()), 0);
    gnutls_pcert_deinit(&pcert);
}

// Handshakes sign on many threads at once with one key.
TEST_F(RsaSignerBehaviourTest, SignsOnSeveralThreadsAtOnce) {
    OwnedAbstractPrivkey signer = make_openssl_rsa_privkey(rsa_key(2048), public_key_of(rsa_key(2048)));
    std::vector<int> failures(4, 0);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < failures.size(); ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 10; ++i) {
                OwnedDatum signature;
                if (gnutls_privkey_sign_data2(signer.get(), i % 2 ? GNUTLS_SIGN_RSA_PSS_RSAE_SHA256 : GNUTLS_SIGN_RSA_SHA256,
                                              0, &kMessage, signature.out()) != 0) {
                    ++failures[t];
                }
            }
        });
    }
    for (std::thread& thread : threads) thread.join();
    for (int failed : failures) EXPECT_EQ(failed, 0);
}

}  // namespace
}  // namespace gtls
