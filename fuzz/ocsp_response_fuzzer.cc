// libFuzzer target: arbitrary bytes as an OCSP response file, through
// gtls::validate_ocsp_response, for three fixed (leaf, issuer) pairs, as they are
// (DER, or PEM when they look like it) and wrapped as PEM. Besides crashes, leaks
// and UB it stops on verdicts that break the validator's promises (see check_*).
//
// The certificates come from a directory made by tests/fixtures/make-ocsp-fixtures.sh
// and tests/unit/fixtures/make_ocsp_extra_fixtures.sh, named by the environment
// variable GTLS_OCSP_FIXTURES (fuzz/run.sh sets it). The time the responses are
// judged at is one hour after the leaf's activation: the fixture responses were
// made right after the leaf, so they are in their validity window then, whenever
// the fuzzer runs (short-lived.der has already expired), and a given input always
// gets the same verdict for the same fixture directory.
#include "core/clock.h"
#include "core/ocsp_response.h"
#include "core/owned.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "ocsp_response_fuzzer: %s\n", what.c_str());
    std::abort();
}

gtls::OwnedCrt load_certificate(const std::string& directory, const std::string& name) {
    std::string path = directory + "/" + name + ".pem";
    std::ifstream in(path, std::ios::binary);
    std::vector<unsigned char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!in && !in.eof()) fail("cannot read " + path);
    gnutls_x509_crt_t raw = nullptr;
    if (gnutls_x509_crt_init(&raw) < 0) fail("gnutls_x509_crt_init failed");
    gtls::OwnedCrt crt(raw);
    gnutls_datum_t data{bytes.data(), static_cast<unsigned>(bytes.size())};
    if (gnutls_x509_crt_import(raw, &data, GNUTLS_X509_FMT_PEM) < 0) {
        fail("cannot load " + path + " (is GTLS_OCSP_FIXTURES a directory made by make-ocsp-fixtures.sh?)");
    }
    return crt;
}

struct Pair {
    gtls::OwnedCrt leaf;
    gtls::OwnedCrt issuer;
};

struct Fixtures {
    std::vector<Pair> pairs;
    gtls::TimePoint now;
};

Fixtures* fixtures = nullptr;

// What validate_ocsp_response promises about any verdict it returns.
void check_verdict(const gtls::OcspVerdict& verdict, gtls::TimePoint now) {
    using gtls::OcspVerdictCode;
    if (gtls::verdict_name(verdict.code) == "invalid") fail("verdict code out of range");
    if (verdict.good() != verdict.reason.empty()) fail("a verdict has a reason exactly when it is not good");
    const bool parsed = verdict.code != OcspVerdictCode::TooLarge && verdict.code != OcspVerdictCode::Empty &&
                        verdict.code != OcspVerdictCode::Unparsable;
    if (parsed && verdict.der.empty()) fail("a parsed response came back without its DER");
    if (verdict.der.size() > gtls::kMaxOcspResponseSize) fail("DER larger than any accepted file");
    if (verdict.good()) {
        if (!verdict.has_next_update || verdict.next_update <= now) fail("good verdict without a future nextUpdate");
        if (verdict.this_update > now + gtls::kMaxOcspClockSkew) fail("good verdict with thisUpdate too far ahead");
    }
}

gtls::OcspVerdict validate(const unsigned char* data, std::size_t size, const Pair& pair) {
    auto verdict = gtls::validate_ocsp_response({data, size}, pair.leaf.get(), pair.issuer.get(), fixtures->now);
    check_verdict(verdict, fixtures->now);
    return verdict;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const char* directory = std::getenv("GTLS_OCSP_FIXTURES");
    if (directory == nullptr || *directory == '\0') {
        fail("set GTLS_OCSP_FIXTURES to a directory made by tests/fixtures/make-ocsp-fixtures.sh (fuzz/run.sh does)");
    }
    fixtures = new Fixtures;
    // An ECDSA and an RSA leaf under the ECDSA intermediate, and an ECDSA leaf
    // under an RSA root (rsa-signed.der: an RSA signature).
    for (auto [leaf, issuer] : {std::pair{"leaf-ecdsa", "intermediate"}, std::pair{"leaf-rsa", "intermediate"},
                                std::pair{"leaf-rsa-issued", "rsa-ca"}}) {
        fixtures->pairs.push_back({load_certificate(directory, leaf), load_certificate(directory, issuer)});
    }
    time_t activation = gnutls_x509_crt_get_activation_time(fixtures->pairs.front().leaf.get());
    if (activation == static_cast<time_t>(-1)) fail("the leaf has no activation time");
    fixtures->now = gtls::from_time_t(activation) + 1h;
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    // The same bytes as a PEM file: exercises the PEM path with every DER input.
    gnutls_datum_t der{const_cast<unsigned char*>(data), static_cast<unsigned>(size)};
    gtls::OwnedDatum pem;
    if (gnutls_pem_base64_encode2("OCSP RESPONSE", &der, pem.out()) < 0) fail("gnutls_pem_base64_encode2 failed");

    for (const Pair& pair : fixtures->pairs) {
        gtls::OcspVerdict verdict = validate(data, size, pair);
        gtls::OcspVerdict from_pem = validate(pem.data(), pem.size(), pair);

        // A DER file (it starts with a SEQUENCE tag, so it is not taken for PEM)
        // and the same bytes in PEM are the same response.
        const bool comparable = size > 0 && data[0] == 0x30 && pem.size() <= gtls::kMaxOcspResponseSize;
        if (comparable && (from_pem.code != verdict.code || from_pem.der != verdict.der)) {
            fail(std::string("DER verdict '") + std::string(gtls::verdict_name(verdict.code)) + "' but PEM verdict '" +
                 std::string(gtls::verdict_name(from_pem.code)) + "'");
        }
        // What is stapled is verdict.der, not the file: it must be a response that
        // passes the same checks, or clients would get something never validated.
        if (verdict.good()) {
            gtls::OcspVerdict again = validate(verdict.der.data(), verdict.der.size(), pair);
            if (!again.good() || again.der != verdict.der) {
                fail(std::string("the DER of a good response is '") + std::string(gtls::verdict_name(again.code)) +
                     "': " + again.reason);
            }
        }
    }
    return 0;
}
