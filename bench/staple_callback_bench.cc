// The staple path alone: what a handshake pays for mod_gtls's in-memory snapshot,
// against a naive variant that reads and validates the file on every handshake.
#include "core/clock.h"
#include "core/file_bytes.h"
#include "core/ocsp_response.h"
#include "core/staple_source.h"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace {

std::string fixture(const char* name) {
    const char* dir = std::getenv("GTLS_BENCH_FIXTURES");
    return std::string(dir ? dir : "build/tests/ocsp-fixtures") + "/" + name;
}

gtls::OwnedCrt load_certificate(const std::string& path) {
    auto bytes = gtls::read_file_bytes(path, 1 << 20);
    gnutls_datum_t data{bytes.data(), static_cast<unsigned>(bytes.size())};
    gnutls_x509_crt_t crt = nullptr;
    gnutls_x509_crt_init(&crt);
    gtls::OwnedCrt owned(crt);
    gnutls_x509_crt_import(crt, &data, GNUTLS_X509_FMT_PEM);
    return owned;
}

// What the module's GnuTLS callback does: snapshot, validity check, copy into gnutls_malloc memory.
void BM_StapleFromSnapshot(benchmark::State& state) {
    auto leaf = load_certificate(fixture("leaf-ecdsa.pem"));
    auto issuer = load_certificate(fixture("intermediate.pem"));
    gtls::SystemClock clock;
    gtls::StapleSource source("bench:443#0", fixture("good-ecdsa.der"), leaf.get(), issuer.get(),
                              std::chrono::seconds(1), false, clock, [](gtls::LogLevel, const std::string&) {});
    source.load_initial();
    for (auto _ : state) {
        auto staple = source.staple_for_handshake();
        auto* copy = static_cast<unsigned char*>(gnutls_malloc(staple->der.size()));
        std::memcpy(copy, staple->der.data(), staple->der.size());
        benchmark::DoNotOptimize(copy);
        gnutls_free(copy);
    }
}
BENCHMARK(BM_StapleFromSnapshot);

// The naive alternative: read and validate the response file on every handshake.
void BM_StapleReadFilePerHandshake(benchmark::State& state) {
    auto leaf = load_certificate(fixture("leaf-ecdsa.pem"));
    auto issuer = load_certificate(fixture("intermediate.pem"));
    const std::string path = fixture("good-ecdsa.der");
    for (auto _ : state) {
        auto bytes = gtls::read_file_bytes(path, gtls::kMaxOcspResponseSize);
        auto verdict = gtls::validate_ocsp_response(bytes, leaf.get(), issuer.get(), std::chrono::system_clock::now());
        benchmark::DoNotOptimize(verdict.der.data());
    }
}
BENCHMARK(BM_StapleReadFilePerHandshake);

// Naive without validation: just reading the file (mod_gnutls-style file stapling without checks).
void BM_StapleReadFileOnly(benchmark::State& state) {
    const std::string path = fixture("good-ecdsa.der");
    for (auto _ : state) {
        auto bytes = gtls::read_file_bytes(path, gtls::kMaxOcspResponseSize);
        benchmark::DoNotOptimize(bytes.data());
    }
}
BENCHMARK(BM_StapleReadFileOnly);

}  // namespace

BENCHMARK_MAIN();
