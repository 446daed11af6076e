// RSA private-key operations side by side: GnuTLS (nettle) as mod_gtls uses it
// by default, OpenSSL 3 libcrypto called directly, and mod_gtls's OpenSSL
// signer behind GnuTLS's external-key interface (core/rsa_signer), with and
// without the GnuTLS verification of each signature (GnuTLSKeyVerifySignatures).
// The same freshly generated key is used by every signer of a size. Prints one
// Markdown table row per (key size, padding, signer): CPU µs per signature
// (this thread's CPU time, so the other processes of a shared machine do not
// count), and the ratio to GnuTLS.
//
//   gtls-bench-rsa-sign [--seconds S] [--bits 2048,3072,4096]
#include "core/owned.h"
#include "core/rsa_signer.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using gtls::OwnedAbstractPrivkey;
using gtls::OwnedDatum;
using gtls::OwnedPrivkey;
using gtls::OwnedPubkey;

struct EvpPkeyFree {
    void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct EvpPkeyCtxFree {
    void operator()(EVP_PKEY_CTX* ctx) const noexcept { EVP_PKEY_CTX_free(ctx); }
};
using OwnedEvpPkey = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
using OwnedEvpPkeyCtx = std::unique_ptr<EVP_PKEY_CTX, EvpPkeyCtxFree>;

void check(int rc, const char* what) {
    if (rc < 0) throw std::runtime_error(std::string(what) + ": " + gnutls_strerror(rc));
}

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// CPU µs per call of `op`, run for about `seconds` of CPU after a short warm-up.
double microseconds_per_call(const std::function<void()>& op, double seconds) {
    for (int i = 0; i < 5; ++i) op();
    const double start = thread_cpu_seconds();
    unsigned calls = 0;
    double elapsed = 0;
    do {
        for (int i = 0; i < 10; ++i) op();
        calls += 10;
        elapsed = thread_cpu_seconds() - start;
    } while (elapsed < seconds);
    return elapsed * 1e6 / calls;
}

struct Key {
    OwnedPrivkey x509;
    OwnedAbstractPrivkey gnutls;   // nettle
    OwnedEvpPkey openssl;          // libcrypto, the same key
    OwnedAbstractPrivkey signer;   // rsa_signer without verification
    OwnedAbstractPrivkey checked;  // rsa_signer verifying each signature
    OwnedPubkey pubkey;
};

OwnedPubkey public_key_of(gnutls_privkey_t privkey) {
    gnutls_pubkey_t pubkey = nullptr;
    check(gnutls_pubkey_init(&pubkey), "pubkey_init");
    OwnedPubkey owned(pubkey);
    check(gnutls_pubkey_import_privkey(pubkey, privkey, 0, 0), "pubkey_import_privkey");
    return owned;
}

Key make_key(unsigned bits) {
    Key key;
    gnutls_x509_privkey_t x509 = nullptr;
    check(gnutls_x509_privkey_init(&x509), "privkey_init");
    key.x509.reset(x509);
    check(gnutls_x509_privkey_generate(x509, GNUTLS_PK_RSA, bits, 0), "generate");

    gnutls_privkey_t privkey = nullptr;
    check(gnutls_privkey_init(&privkey), "privkey_init");
    key.gnutls.reset(privkey);
    check(gnutls_privkey_import_x509(privkey, x509, GNUTLS_PRIVKEY_IMPORT_COPY), "import_x509");

    key.pubkey = public_key_of(privkey);

    OwnedDatum der;
    check(gnutls_x509_privkey_export2(x509, GNUTLS_X509_FMT_DER, der.out()), "export");
    const unsigned char* cursor = der.data();
    key.openssl.reset(d2i_PrivateKey(EVP_PKEY_RSA, nullptr, &cursor, der.size()));
    if (!key.openssl) throw std::runtime_error("OpenSSL refused the key");

    key.signer = gtls::make_openssl_rsa_privkey(x509, nullptr);
    key.checked = gtls::make_openssl_rsa_privkey(x509, public_key_of(privkey));
    return key;
}

void gnutls_sign(gnutls_privkey_t key, gnutls_sign_algorithm_t algorithm, const gnutls_datum_t& hash) {
    OwnedDatum signature;
    check(gnutls_privkey_sign_hash2(key, algorithm, 0, &hash, signature.out()), "sign_hash2");
}

void openssl_sign(EVP_PKEY* key, bool pss, const std::vector<unsigned char>& hash) {
    OwnedEvpPkeyCtx ctx(EVP_PKEY_CTX_new(key, nullptr));
    if (!ctx || EVP_PKEY_sign_init(ctx.get()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) <= 0 ||
        (pss && EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_DIGEST) <= 0)) {
        throw std::runtime_error("OpenSSL context");
    }
    unsigned char signature[1024];
    size_t size = sizeof(signature);
    if (EVP_PKEY_sign(ctx.get(), signature, &size, hash.data(), hash.size()) <= 0) throw std::runtime_error("EVP_PKEY_sign");
}

void gnutls_verify(gnutls_pubkey_t pubkey, gnutls_sign_algorithm_t algorithm, const gnutls_datum_t& hash,
                   const gnutls_datum_t& signature) {
    check(gnutls_pubkey_verify_hash2(pubkey, algorithm, 0, &hash, &signature), "verify_hash2");
}

std::vector<unsigned> parse_bits(const char* text) {
    std::vector<unsigned> bits;
    for (const char* p = text; *p != '\0';) {
        char* end = nullptr;
        bits.push_back(static_cast<unsigned>(std::strtoul(p, &end, 10)));
        p = *end == ',' ? end + 1 : end;
        if (end == p && *p != '\0') throw std::runtime_error("--bits wants 2048,3072,...");
    }
    return bits;
}

}  // namespace

int main(int argc, char** argv) try {
    double seconds = 1.0;
    std::vector<unsigned> sizes{2048, 3072, 4096};
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--seconds" && i + 1 < argc) {
            seconds = std::atof(argv[++i]);
        } else if (arg == "--bits" && i + 1 < argc) {
            sizes = parse_bits(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: %s [--seconds S] [--bits 2048,3072,4096]\n", argv[0]);
            return 2;
        }
    }
    check(gnutls_global_init(), "global_init");
    std::printf("| key | padding | signer | CPU µs/signature | × GnuTLS |\n|---|---|---|---:|---:|\n");
    std::vector<unsigned char> hash(32, 0x5a);
    const gnutls_datum_t hash_datum{hash.data(), static_cast<unsigned>(hash.size())};
    for (unsigned bits : sizes) {
        Key key = make_key(bits);
        for (bool pss : {false, true}) {
            const gnutls_sign_algorithm_t algorithm = pss ? GNUTLS_SIGN_RSA_PSS_RSAE_SHA256 : GNUTLS_SIGN_RSA_SHA256;
            const char* padding = pss ? "PSS SHA-256" : "PKCS#1 v1.5 SHA-256";
            OwnedDatum signature;
            check(gnutls_privkey_sign_hash2(key.gnutls.get(), algorithm, 0, &hash_datum, signature.out()), "sign");
            struct Row {
                const char* signer;
                std::function<void()> op;
            };
            const Row rows[] = {
                {"GnuTLS (nettle)", [&] { gnutls_sign(key.gnutls.get(), algorithm, hash_datum); }},
                {"OpenSSL EVP_PKEY_sign", [&] { openssl_sign(key.openssl.get(), pss, hash); }},
                {"rsa_signer (OpenSSL via import_ext4)", [&] { gnutls_sign(key.signer.get(), algorithm, hash_datum); }},
                {"rsa_signer + GnuTLS verification", [&] { gnutls_sign(key.checked.get(), algorithm, hash_datum); }},
                {"GnuTLS verification alone", [&] { gnutls_verify(key.pubkey.get(), algorithm, hash_datum, signature.get()); }},
            };
            double baseline = 0;
            for (const Row& row : rows) {
                const double us = microseconds_per_call(row.op, seconds);
                if (baseline == 0) baseline = us;
                std::printf("| RSA-%u | %s | %s | %.1f | %.2f |\n", bits, padding, row.signer, us, us / baseline);
                std::fflush(stdout);
            }
        }
    }
    gnutls_global_deinit();
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "gtls-bench-rsa-sign: %s\n", e.what());
    return 1;
}
