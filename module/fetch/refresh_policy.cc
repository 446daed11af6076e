#include "fetch/refresh_policy.h"

#include <chrono>

namespace gtls {

RefreshDecision decide_refresh(const OcspVerdict* current, TimePoint now, double fraction, double jitter) {
    if (current == nullptr) return {true, "no response file yet"};
    if (current->code == OcspVerdictCode::Revoked) return {true, "the file on disk says the certificate is revoked"};
    if (!current->good()) return {true, "the file on disk is not stapled (" + std::string(verdict_name(current->code)) + ")"};
    const auto lifetime = current->next_update - current->this_update;
    const auto share = std::chrono::duration_cast<TimePoint::duration>(lifetime * (fraction - jitter));
    const TimePoint refresh_at = current->this_update + share;
    if (now >= refresh_at) return {true, "due since " + format_utc(refresh_at)};
    return {false, "fresh until " + format_utc(refresh_at) + " (next_update " + format_utc(current->next_update) + ")"};
}

bool may_replace(const OcspVerdict& fetched, const OcspVerdict* current) {
    if (fetched.code == OcspVerdictCode::Revoked) return true;
    if (!fetched.good()) return false;
    if (current == nullptr || !current->good()) return true;
    // Newer information wins, even when it is valid for a shorter time (a CA
    // that shortens its responses' validity must not be locked out until the
    // old file expires).
    return fetched.this_update >= current->this_update;
}

}  // namespace gtls
