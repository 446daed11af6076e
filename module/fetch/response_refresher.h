// Keeping one OCSP response file fresh: ask the certificate's responder when
// the file on disk is due, validate the answer with the module's validator and
// replace the file atomically only with something at least as good. Shared by
// gtls-ocsp-fetch and the fetcher inside httpd.
#pragma once

#include "core/ocsp_response.h"

#include <gnutls/gnutls.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <random>
#include <string>

namespace gtls {

struct RefreshSettings {
    std::string url;  // the responder; "" means the certificate's AIA OCSP URI
    gnutls_digest_algorithm_t digest = GNUTLS_DIG_SHA1;
    bool nonce = false;
    std::chrono::milliseconds timeout{10000};  // per attempt, connect and transfer
    int retries = 2;                           // further attempts, 1 s, 2 s, 4 s ... apart
    double refresh_fraction = 0.5;
    double jitter = 0.1;
    bool force = false;                 // ask even when the file on disk is fresh
    bool only_without_good_file = false;  // ask only when the file on disk holds no good response
    // Responses without nextUpdate are good for this long after their
    // thisUpdate; without it they are refused (see validate_ocsp_response).
    std::optional<std::chrono::seconds> lifetime_without_next_update;
    mode_t mode = 0644;
};

// How a refresh ended, worst last (gtls-ocsp-fetch exits with the worst).
enum class RefreshSeverity : int {
    Ok = 0,           // the file holds a good response (fetched now or still fresh)
    StaleRisk = 1,    // the fetch failed; the file on disk is still good for now
    NoValidFile = 2,  // the file holds no good response: nothing is stapled from it
    Revoked = 3,      // the responder says the certificate is revoked
};

struct RefreshOutcome {
    std::string status = "failed";  // fetched, fresh, kept, failed, revoked
    std::string detail;
    std::string url;                // the responder asked (or that would have been)
    std::string next_update;        // of the good file on disk afterwards, "" if none
    RefreshSeverity severity = RefreshSeverity::NoValidFile;
};

// Refreshes `response_file` for the leaf of `chain_file` (which must hold its
// issuer right after it). Never throws for a failure of the file, the chain or
// the responder: that is the outcome. `random` draws the jitter.
RefreshOutcome refresh_response_file(const std::string& chain_file, const std::string& response_file,
                                     const RefreshSettings& settings, std::mt19937_64& random);

}  // namespace gtls
