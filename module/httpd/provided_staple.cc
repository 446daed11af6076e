#include "httpd/provided_staple.h"

#include "core/clock.h"
#include "core/ocsp_response.h"
#include "httpd/vhost_tls.h"

#include <gnutls/crypto.h>
#include <http_ssl.h>

#include <stdexcept>

namespace gtls {

namespace {

std::vector<unsigned char> sha1_of(const std::vector<unsigned char>& der) {
    std::vector<unsigned char> digest(20);
    if (int rc = gnutls_hash_fast(GNUTLS_DIG_SHA1, der.data(), der.size(), digest.data()); rc < 0) {
        throw std::runtime_error(std::string("cannot hash the certificate: ") + gnutls_strerror(rc));
    }
    return digest;
}

OwnedCrt parse_der(const std::vector<unsigned char>& der) {
    gnutls_x509_crt_t raw = nullptr;
    if (gnutls_x509_crt_init(&raw) < 0) return {};
    OwnedCrt certificate(raw);
    const gnutls_datum_t datum{const_cast<unsigned char*>(der.data()), static_cast<unsigned>(der.size())};
    if (gnutls_x509_crt_import(raw, &datum, GNUTLS_X509_FMT_DER) < 0) return {};
    return certificate;
}

std::string pem_of(const std::vector<unsigned char>& der) {
    OwnedCrt certificate = parse_der(der);
    gnutls_datum_t pem{};
    if (!certificate || gnutls_x509_crt_export2(certificate.get(), GNUTLS_X509_FMT_PEM, &pem) < 0) {
        throw std::runtime_error("cannot export the certificate as PEM");
    }
    std::string text(reinterpret_cast<const char*>(pem.data), pem.size);
    gnutls_free(pem.data);
    return text;
}

// ap_ssl_ocsp_copy_resp: the DER is valid only during the call.
void copy_response(const unsigned char* der, apr_size_t length, void* userdata) {
    auto* bytes = static_cast<std::vector<unsigned char>*>(userdata);
    if (der != nullptr && length > 0 && length <= kMaxOcspResponseSize) bytes->assign(der, der + length);
}

}  // namespace

bool staple_providers_hooked() {
    const apr_array_header_t* hooks = ap_hook_get_ssl_ocsp_prime_hook();
    return hooks != nullptr && hooks->nelts > 0;
}

ProvidedStaple::ProvidedStaple(server_rec* s, std::string id, gnutls_x509_crt_t leaf, gnutls_x509_crt_t issuer,
                               std::chrono::seconds check_interval)
    : server_(s),
      id_(std::move(id)),
      leaf_der_(certificate_der(leaf)),
      issuer_der_(certificate_der(issuer)),
      provider_id_(sha1_of(leaf_der_)),
      check_interval_(check_interval) {}

bool ProvidedStaple::prime(apr_pool_t* pool) {
    const std::string pem = pem_of(leaf_der_) + pem_of(issuer_der_);
    return ap_ssl_ocsp_prime(server_, pool, reinterpret_cast<const char*>(provider_id_.data()), provider_id_.size(),
                             pem.c_str()) == APR_SUCCESS;
}

std::shared_ptr<const Staple> ProvidedStaple::staple_for_handshake(conn_rec* c) noexcept {
    std::shared_ptr<const Staple> staple = current(c);
    if (staple) served_.fetch_add(1, std::memory_order_relaxed);
    return staple;
}

std::shared_ptr<const Staple> ProvidedStaple::current(conn_rec* c) noexcept {
    try {
        const TimePoint now = staple_clock().now();
        std::shared_ptr<const Staple> staple = current_.load();
        const auto ticks = staple_clock().monotonic_now().time_since_epoch().count();
        auto due = next_ask_.load(std::memory_order_relaxed);
        if (ticks >= due && next_ask_.compare_exchange_strong(due, ticks + check_interval_.count(),
                                                              std::memory_order_relaxed)) {
            std::vector<unsigned char> der;
            ap_ssl_ocsp_get_resp(server_, c, reinterpret_cast<const char*>(provider_id_.data()), provider_id_.size(),
                                 copy_response, &der);
            if (der.empty()) {
                current_.store(nullptr);  // the provider has none (any more)
                return nullptr;
            }
            if (!staple || staple->der != der) staple = validate(std::move(der), now);
        }
        if (!staple || !StapleSource::valid_at(*staple, now)) return nullptr;
        return staple;
    } catch (...) {
        return nullptr;  // no memory: no staple, which RFC 6066 allows
    }
}

std::shared_ptr<const Staple> ProvidedStaple::validate(std::vector<unsigned char> der, TimePoint now) {
    std::unique_lock lock(validate_mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return current_.load();  // another handshake is validating it
    if (std::shared_ptr<const Staple> staple = current_.load(); staple && staple->der == der) return staple;
    if (der == last_rejected_) return nullptr;
    const OwnedCrt leaf = parse_der(leaf_der_);
    const OwnedCrt issuer = parse_der(issuer_der_);
    const OcspVerdict verdict = validate_ocsp_response(der, leaf.get(), issuer.get(), now);
    const bool revoked = verdict.code == OcspVerdictCode::Revoked;
    if (!verdict.good() && !revoked) {
        // An invalid response is not stapled, and neither is the previous
        // one: the provider has moved on from it.
        current_.store(nullptr);
        last_rejected_ = std::move(der);
        const std::string problem = std::string(verdict_name(verdict.code)) + ": " + verdict.reason;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, server_,
                     "GTLS0316: %s: OCSP response from mod_md not stapled (%s)", id_.c_str(), problem.c_str());
        std::lock_guard problem_lock(problem_mutex_);
        last_problem_ = problem;
        return nullptr;
    }
    auto staple = std::make_shared<Staple>();
    staple->der = verdict.der;
    staple->this_update = verdict.this_update;
    staple->next_update = verdict.next_update;
    staple->revoked = revoked;
    staple->revocation_time = verdict.revocation_time;
    current_.store(staple);
    last_rejected_.clear();
    {
        std::lock_guard problem_lock(problem_mutex_);
        last_problem_.clear();
    }
    ap_log_error(APLOG_MARK, revoked ? APLOG_ERR : APLOG_INFO, 0, server_,
                 "GTLS0317: %s: stapling the OCSP response from mod_md (%s, thisUpdate %s, nextUpdate %s)", id_.c_str(),
                 revoked ? "REVOKED: clients will refuse the certificate" : "good",
                 format_utc(staple->this_update).c_str(), format_utc(staple->next_update).c_str());
    return staple;
}

std::string ProvidedStaple::last_problem() const {
    std::lock_guard lock(problem_mutex_);
    return last_problem_;
}

}  // namespace gtls
