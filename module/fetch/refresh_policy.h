// When to ask the responder again, given the response file on disk.
#pragma once

#include "core/ocsp_response.h"

#include <string>

namespace gtls {

struct RefreshDecision {
    bool fetch = true;
    std::string why;  // for the one-line report
};

// Fetch unless the current file is valid and still in the first `fraction` of
// its lifetime (thisUpdate..nextUpdate), moved earlier by `jitter` (a share of
// the lifetime, drawn at random by the caller in [0, maximum jitter]) so that
// many hosts on one timer do not all ask at the same moment. `current` is the
// verdict on the file now on disk (nullptr: no readable file). Pure.
RefreshDecision decide_refresh(const OcspVerdict* current, TimePoint now, double fraction, double jitter);

// Whether `fetched` (a verdict on what the responder sent) may replace
// `current` on disk: a good response unless its thisUpdate is older than a good
// current one's (newer information wins, whatever its nextUpdate); a revoked
// one always (the certificate is revoked, and httpd must see it); nothing else.
bool may_replace(const OcspVerdict& fetched, const OcspVerdict* current);

}  // namespace gtls
