// The OCSP staple of one certificate whose response another module keeps:
// mod_md with MDStapling, through httpd's ssl_ocsp_prime_hook and
// ssl_ocsp_get_resp_hook (http_ssl.h). mod_md fetches and renews the response;
// mod_gtls validates what it hands over before stapling it, as it does a
// response file.
#pragma once

#include "core/staple_snapshot.h"
#include "core/staple_source.h"
#include "httpd/httpd.h"

#include <atomic>
#include <chrono>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace gtls {

// Whether some module takes OCSP stapling of certificates (mod_md is loaded).
bool staple_providers_hooked();

class ProvidedStaple {
public:
    // `leaf` and `issuer` are borrowed for the call. `id` is the certificate's
    // "ServerName:port#index" for log lines; the provider is asked again at
    // most every `check_interval` (GnuTLSOCSPCheckInterval). Throws
    // std::runtime_error if a certificate cannot be exported.
    ProvidedStaple(server_rec* s, std::string id, gnutls_x509_crt_t leaf, gnutls_x509_crt_t issuer,
                   std::chrono::seconds check_interval);
    ProvidedStaple(const ProvidedStaple&) = delete;
    ProvidedStaple& operator=(const ProvidedStaple&) = delete;

    // Asks the providers to keep this certificate's response (post_config, as
    // root, before any handshake). True when one took it: mod_md does for the
    // certificates of an MDomain with MDStapling on, and for others with
    // MDStapleOthers.
    bool prime(apr_pool_t* pool);

    // The handshake path: the provider's current response for the
    // certificate, if it validates (signed for this certificate, current;
    // good, or revoked, which is the truth), else nullptr. One handshake per
    // check interval asks the provider (mod_md copies it from memory under its
    // lock, and reads its store under that lock while it has none); the others
    // take the response validated last, without waiting. A response is
    // validated once, when it first differs from the last one seen.
    std::shared_ptr<const Staple> staple_for_handshake(conn_rec* c) noexcept;

    // As staple_for_handshake, without counting: what a handshake on `c`
    // would get now (the status page asks with its request's connection).
    std::shared_ptr<const Staple> current(conn_rec* c) noexcept;
    // For the status page: the last rejection ("" if none) and the staples
    // this process handed out.
    std::string last_problem() const;
    unsigned long long served() const noexcept { return served_.load(std::memory_order_relaxed); }

private:
    std::shared_ptr<const Staple> validate(std::vector<unsigned char> der, TimePoint now);

    server_rec* server_;
    const std::string id_;
    const std::vector<unsigned char> leaf_der_;
    const std::vector<unsigned char> issuer_der_;
    const std::vector<unsigned char> provider_id_;  // SHA-1 of the leaf's DER: the key the provider knows it by
    const std::chrono::steady_clock::duration check_interval_;
    // When a handshake may ask the provider again (steady clock ticks); the
    // handshake that moves it asks.
    std::atomic<std::chrono::steady_clock::rep> next_ask_{std::numeric_limits<std::chrono::steady_clock::rep>::min()};
    SnapshotSlot<Staple> current_;
    std::atomic<unsigned long long> served_{0};
    // Held while a new response is validated: one thread does it, the others
    // staple the previous one meanwhile.
    std::mutex validate_mutex_;
    std::vector<unsigned char> last_rejected_;  // guarded by validate_mutex_: logged once
    mutable std::mutex problem_mutex_;
    std::string last_problem_;  // guarded by problem_mutex_
};

}  // namespace gtls
