#include "fetch/response_refresher.h"

#include "core/certificate_chain.h"
#include "core/file_bytes.h"
#include "fetch/atomic_file.h"
#include "fetch/http_client.h"
#include "fetch/ocsp_request.h"
#include "fetch/refresh_policy.h"

#include <sys/stat.h>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <thread>

namespace gtls {

namespace {

std::optional<OcspVerdict> verdict_on_disk(const std::string& path, const CertificateChain& chain, TimePoint now,
                                           const RefreshSettings& settings) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    try {
        std::vector<unsigned char> bytes = read_file_bytes(path, kMaxOcspResponseSize);
        return validate_ocsp_response(bytes, chain.leaf(), chain.issuer(), now, settings.lifetime_without_next_update);
    } catch (const std::runtime_error&) {
        return std::nullopt;  // unreadable or oversized: as good as no file
    }
}

// Asks until an answer that is not worth asking again arrives, or the attempts
// are used up; throws with the last problem then.
OcspVerdict ask(const std::string& url, const OcspRequest& request, const CertificateChain& chain,
                const RefreshSettings& settings) {
    std::string problem;
    for (int attempt = 0; attempt <= settings.retries; ++attempt) {
        if (attempt > 0) std::this_thread::sleep_for(std::chrono::seconds(1 << std::min(attempt - 1, 4)));
        try {
            HttpAnswer answer = ask_responder(url, request.der, settings.timeout, kMaxOcspResponseSize);
            if (answer.status != 200) {
                problem = url + " answered HTTP " + std::to_string(answer.status);
                continue;
            }
            OcspVerdict verdict = validate_ocsp_response(answer.body, chain.leaf(), chain.issuer(),
                                                         std::chrono::system_clock::now(),
                                                         settings.lifetime_without_next_update);
            if (verdict.code == OcspVerdictCode::NotSuccessful) {  // tryLater and friends
                problem = url + ": " + verdict.reason;
                continue;
            }
            if ((verdict.good() || verdict.code == OcspVerdictCode::Revoked) &&
                !nonce_matches(verdict.der, request.nonce)) {
                problem = url + " answered with another request's nonce";
                continue;
            }
            return verdict;
        } catch (const std::runtime_error& e) {
            problem = e.what();
        }
    }
    throw std::runtime_error(problem + " (after " + std::to_string(settings.retries + 1) + " attempt(s))");
}

void refresh(const std::string& chain_file, const std::string& response_file, const RefreshSettings& settings,
             std::mt19937_64& random, RefreshOutcome& outcome) {
    const CertificateChain chain = CertificateChain::load_certificates(chain_file);
    if (chain.issuer() == nullptr) {
        throw std::runtime_error(chain_file + " must hold the issuer certificate right after the leaf");
    }
    const TimePoint now = std::chrono::system_clock::now();
    std::optional<OcspVerdict> current = verdict_on_disk(response_file, chain, now, settings);
    if (current && current->good()) {
        outcome.next_update = format_utc(current->next_update);
        outcome.severity = RefreshSeverity::StaleRisk;  // until a fetch succeeds or the file is fresh
    }
    outcome.url = settings.url.empty() ? responder_url(chain.leaf()) : settings.url;
    if (settings.only_without_good_file && current && current->good()) {
        outcome.status = "fresh";
        outcome.detail = "the file on disk holds a good response (next_update " + outcome.next_update + ")";
        outcome.severity = RefreshSeverity::Ok;
        return;
    }
    if (!settings.force) {
        std::uniform_real_distribution<double> draw(0.0, settings.jitter);
        RefreshDecision decision =
            decide_refresh(current ? &*current : nullptr, now, settings.refresh_fraction, draw(random));
        if (!decision.fetch) {
            outcome.status = "fresh";
            outcome.detail = decision.why;
            outcome.severity = RefreshSeverity::Ok;
            return;
        }
    }
    if (outcome.url.empty()) {
        throw std::runtime_error("the certificate names no OCSP responder (no AIA OCSP URI) and none is configured");
    }
    OcspRequest request = build_ocsp_request(chain.leaf(), chain.issuer(), settings.digest, settings.nonce);
    OcspVerdict fetched = ask(outcome.url, request, chain, settings);
    if (!may_replace(fetched, current ? &*current : nullptr)) {
        outcome.detail = outcome.url + " answered " + std::string(verdict_name(fetched.code)) +
                         (fetched.reason.empty() ? std::string(" (older than the file on disk)") : ": " + fetched.reason) +
                         "; " + response_file + " left as it was";
        if (fetched.good()) {  // good but older: the file on disk is the better one
            outcome.status = "kept";
            outcome.severity = RefreshSeverity::Ok;
        }
        return;
    }
    replace_file_atomically(response_file, fetched.der, settings.mode);
    if (fetched.code == OcspVerdictCode::Revoked) {
        outcome.status = "revoked";
        outcome.detail = "THE CERTIFICATE IS REVOKED (" + outcome.url + "): " + fetched.reason + "; written to " +
                         response_file;
        outcome.next_update.clear();
        outcome.severity = RefreshSeverity::Revoked;
        return;
    }
    outcome.status = "fetched";
    outcome.detail = "good from " + outcome.url + ", this_update " + format_utc(fetched.this_update) +
                     ", next_update " + format_utc(fetched.next_update);
    for (const std::string& warning : fetched.warnings) outcome.detail += "; " + warning;
    outcome.next_update = format_utc(fetched.next_update);
    outcome.severity = RefreshSeverity::Ok;
}

}  // namespace

RefreshOutcome refresh_response_file(const std::string& chain_file, const std::string& response_file,
                                     const RefreshSettings& settings, std::mt19937_64& random) {
    RefreshOutcome outcome;
    try {
        refresh(chain_file, response_file, settings, random, outcome);
    } catch (const std::exception& e) {
        outcome.status = "failed";
        outcome.detail = e.what();
    }
    return outcome;
}

}  // namespace gtls
