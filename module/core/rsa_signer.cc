#include "core/rsa_signer.h"

#include <stdexcept>
#include <string>

#if GTLS_HAVE_LIBCRYPTO
#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <optional>
#endif

namespace gtls {

bool openssl_rsa_signer_accepts(gnutls_x509_privkey_t key) noexcept {
    return key != nullptr && gnutls_x509_privkey_get_pk_algorithm(key) == GNUTLS_PK_RSA;
}

#if !GTLS_HAVE_LIBCRYPTO

bool openssl_rsa_signer_available() noexcept { return false; }

std::string openssl_rsa_signer_version() { return {}; }

OwnedAbstractPrivkey make_openssl_rsa_privkey(gnutls_x509_privkey_t, OwnedPubkey) {
    throw std::runtime_error("this mod_gtls was built without OpenSSL's libcrypto");
}

#else

bool openssl_rsa_signer_available() noexcept { return true; }

std::string openssl_rsa_signer_version() { return OpenSSL_version(OPENSSL_VERSION_STRING); }

namespace {

struct EvpPkeyFree {
    void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct EvpPkeyCtxFree {
    void operator()(EVP_PKEY_CTX* ctx) const noexcept { EVP_PKEY_CTX_free(ctx); }
};
using OwnedEvpPkey = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
using OwnedEvpPkeyCtx = std::unique_ptr<EVP_PKEY_CTX, EvpPkeyCtxFree>;

// A signature being made: gnutls_malloc'd, as GnuTLS frees it with gnutls_free.
struct GnutlsFree {
    void operator()(unsigned char* p) const noexcept { free_gnutls_memory(p); }
};
using GnutlsBytes = std::unique_ptr<unsigned char, GnutlsFree>;

// What the external key owns: the key in libcrypto and, with
// GnuTLSKeyVerifySignatures, the public key every signature is checked with.
struct OpenSslRsaKey {
    OwnedEvpPkey pkey;
    int bits = 0;
    OwnedPubkey verify_with;
};

// How libcrypto is to sign for one GnuTLS signature algorithm.
struct SignRequest {
    int padding = RSA_PKCS1_PADDING;
    // The hash whose output GnuTLS hands over; nullptr for GNUTLS_SIGN_RSA_RAW,
    // whose input is already the DigestInfo (or TLS 1.0's MD5+SHA-1).
    const EVP_MD* md = nullptr;
    // The algorithm GnuTLS verifies the signature as.
    gnutls_sign_algorithm_t verify_as = GNUTLS_SIGN_UNKNOWN;
};

const EVP_MD* openssl_digest(gnutls_digest_algorithm_t digest) noexcept {
    switch (digest) {
        case GNUTLS_DIG_SHA1: return EVP_sha1();
        case GNUTLS_DIG_SHA224: return EVP_sha224();
        case GNUTLS_DIG_SHA256: return EVP_sha256();
        case GNUTLS_DIG_SHA384: return EVP_sha384();
        case GNUTLS_DIG_SHA512: return EVP_sha512();
        default: return nullptr;
    }
}

// GnuTLS 3.7 (lib/privkey.c, privkey_sign_raw_data) calls the sign_hash
// callback of an external RSA key with GNUTLS_SIGN_RSA_RAW and the PKCS #1
// DigestInfo for every PKCS #1 v1.5 signature (TLS 1.2's rsa_pkcs1_* as well
// as TLS 1.0's MD5+SHA-1), and with the RSA-PSS algorithm itself and the bare
// hash for PSS. Plain RSA_<hash> with a bare hash is accepted too, for callers
// of gnutls_privkey_sign_hash2 that name it.
std::optional<SignRequest> request_for(gnutls_sign_algorithm_t algorithm) noexcept {
    if (algorithm == GNUTLS_SIGN_RSA_RAW) return SignRequest{RSA_PKCS1_PADDING, nullptr, GNUTLS_SIGN_RSA_RAW};
    const auto digest = static_cast<gnutls_digest_algorithm_t>(gnutls_sign_get_hash_algorithm(algorithm));
    switch (gnutls_sign_get_pk_algorithm(algorithm)) {
        case GNUTLS_PK_RSA:
            if (const EVP_MD* md = openssl_digest(digest)) return SignRequest{RSA_PKCS1_PADDING, md, algorithm};
            return std::nullopt;
        case GNUTLS_PK_RSA_PSS:
            // RSA-PSS with an rsaEncryption key (rsa_pss_rsae_*; RFC 8446
            // section 4.2.3: MGF1 with the same hash, salt as long as the hash).
            switch (digest) {
                case GNUTLS_DIG_SHA256: return SignRequest{RSA_PKCS1_PSS_PADDING, EVP_sha256(), GNUTLS_SIGN_RSA_PSS_RSAE_SHA256};
                case GNUTLS_DIG_SHA384: return SignRequest{RSA_PKCS1_PSS_PADDING, EVP_sha384(), GNUTLS_SIGN_RSA_PSS_RSAE_SHA384};
                case GNUTLS_DIG_SHA512: return SignRequest{RSA_PKCS1_PSS_PADDING, EVP_sha512(), GNUTLS_SIGN_RSA_PSS_RSAE_SHA512};
                default: return std::nullopt;
            }
        default:
            return std::nullopt;
    }
}

// libcrypto's signature of `input`, or an empty pointer (its error queue is
// cleared, so other users of libcrypto in httpd, mod_ssl for one, never see
// an error of ours).
GnutlsBytes openssl_sign(const OpenSslRsaKey& key, const SignRequest& request, const gnutls_datum_t& input,
                         size_t& size) {
    OwnedEvpPkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.pkey.get(), nullptr));
    bool ok = ctx && EVP_PKEY_sign_init(ctx.get()) > 0 &&
              EVP_PKEY_CTX_set_rsa_padding(ctx.get(), request.padding) > 0 &&
              (request.md == nullptr || EVP_PKEY_CTX_set_signature_md(ctx.get(), request.md) > 0) &&
              (request.padding != RSA_PKCS1_PSS_PADDING ||
               EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_DIGEST) > 0) &&
              EVP_PKEY_sign(ctx.get(), nullptr, &size, input.data, input.size) > 0;
    GnutlsBytes signature(ok ? static_cast<unsigned char*>(gnutls_malloc(size)) : nullptr);
    if (signature && EVP_PKEY_sign(ctx.get(), signature.get(), &size, input.data, input.size) <= 0) signature.reset();
    if (!signature) ERR_clear_error();
    return signature;
}

// gnutls_privkey_sign_hash_func. Runs in handshakes, on any thread.
int sign_hash(gnutls_privkey_t, gnutls_sign_algorithm_t algorithm, void* userdata, unsigned, const gnutls_datum_t* input,
              gnutls_datum_t* signature) noexcept {
    try {
        const auto& key = *static_cast<const OpenSslRsaKey*>(userdata);
        const std::optional<SignRequest> request = request_for(algorithm);
        if (!request) return GNUTLS_E_UNSUPPORTED_SIGNATURE_ALGORITHM;
        if (request->md != nullptr && input->size != static_cast<unsigned>(EVP_MD_get_size(request->md))) {
            return GNUTLS_E_INVALID_REQUEST;
        }
        size_t size = 0;
        GnutlsBytes made = openssl_sign(key, *request, *input, size);
        if (!made) return GNUTLS_E_PK_SIGN_FAILED;
        const gnutls_datum_t result{made.get(), static_cast<unsigned>(size)};
        if (key.verify_with) {
            const unsigned flags = request->verify_as == GNUTLS_SIGN_RSA_RAW ? GNUTLS_PUBKEY_VERIFY_FLAG_TLS1_RSA
                                   : request->padding == RSA_PKCS1_PSS_PADDING ? GNUTLS_VERIFY_RSA_PSS_FIXED_SALT_LENGTH
                                                                               : 0;
            // A faulty signature (a fault in the CRT computation would reveal a
            // factor of the modulus) is dropped here, never sent.
            if (gnutls_pubkey_verify_hash2(key.verify_with.get(), request->verify_as, flags, input, &result) < 0) {
                return GNUTLS_E_PK_SIGN_FAILED;
            }
        }
        *signature = result;
        (void)made.release();
        return 0;
    } catch (...) {
        return GNUTLS_E_PK_SIGN_FAILED;
    }
}

// gnutls_privkey_info_func: GnuTLS asks at import for the algorithm and the
// size (GnuTLS needs the size for RSA-PSS salt lengths), and during handshakes
// whether the key can make a given signature. GnuTLS 3.7 asks
// GNUTLS_PRIVKEY_INFO_SIGN_ALGO only when HAVE_SIGN_ALGO gets -1, which it
// never does here; unknown questions get -1, as gnutls_privkey_import_ext4
// requires.
int key_info(gnutls_privkey_t, unsigned flags, void* userdata) noexcept {
    const auto& key = *static_cast<const OpenSslRsaKey*>(userdata);
    if ((flags & GNUTLS_PRIVKEY_INFO_HAVE_SIGN_ALGO) != 0) {
        const auto algorithm = static_cast<gnutls_sign_algorithm_t>(GNUTLS_FLAGS_TO_SIGN_ALGO(flags));
        return request_for(algorithm) ? 1 : 0;
    }
    if (flags == GNUTLS_PRIVKEY_INFO_PK_ALGO) return GNUTLS_PK_RSA;
    if (flags == GNUTLS_PRIVKEY_INFO_PK_ALGO_BITS) return key.bits;
    return -1;
}

// gnutls_privkey_deinit_func: gnutls_privkey_deinit calls it (the import sets
// GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE when there is one); the EVP_PKEY frees the
// key's numbers with BN_clear_free.
void release_key(gnutls_privkey_t, void* userdata) noexcept { delete static_cast<OpenSslRsaKey*>(userdata); }

OwnedEvpPkey openssl_copy(gnutls_x509_privkey_t key) {
    // PKCS #1 RSAPrivateKey DER: what GnuTLS exports for an RSA key.
    OwnedDatum der;
    if (int rc = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_DER, der.out()); rc < 0) {
        throw std::runtime_error(std::string("cannot export the key for OpenSSL: ") + gnutls_strerror(rc));
    }
    const unsigned char* cursor = der.data();
    OwnedEvpPkey pkey(d2i_PrivateKey_ex(EVP_PKEY_RSA, nullptr, &cursor, static_cast<long>(der.size()), nullptr, nullptr));
    gnutls_memset(const_cast<unsigned char*>(der.data()), 0, der.size());
    if (!pkey) {
        ERR_clear_error();
        throw std::runtime_error("OpenSSL's libcrypto cannot read this RSA key");
    }
    return pkey;
}

}  // namespace

OwnedAbstractPrivkey make_openssl_rsa_privkey(gnutls_x509_privkey_t key, OwnedPubkey verify_with) {
    if (!openssl_rsa_signer_accepts(key)) throw std::runtime_error("the OpenSSL signer takes RSA keys only");
    auto state = std::make_unique<OpenSslRsaKey>();
    state->pkey = openssl_copy(key);
    state->bits = EVP_PKEY_get_bits(state->pkey.get());
    state->verify_with = std::move(verify_with);
    gnutls_privkey_t raw = nullptr;
    if (int rc = gnutls_privkey_init(&raw); rc < 0) throw std::runtime_error(gnutls_strerror(rc));
    OwnedAbstractPrivkey privkey(raw);
    // Only sign_hash: GnuTLS calls sign_data for algorithms that cannot sign a
    // hash (EdDSA), never for RSA. No decrypt: no RSA key exchange is offered.
    if (int rc = gnutls_privkey_import_ext4(raw, state.get(), nullptr, sign_hash, nullptr, release_key, key_info, 0);
        rc < 0) {
        throw std::runtime_error(std::string("GnuTLS refused the OpenSSL signer: ") + gnutls_strerror(rc));
    }
    (void)state.release();  // now released by gnutls_privkey_deinit through release_key
    return privkey;
}

#endif

}  // namespace gtls
