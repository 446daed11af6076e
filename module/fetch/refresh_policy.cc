#include "fetch/refresh_policy.h"

#include <chrono>

namespace gtls {

RefreshDecision decide_refresh(const OcspVerdict* current, TimePoint now, double fraction, double jitter) {
    if (current == nullptr) return {true, "no response file yet"};
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
    return fetched.next_update >= current->next_update;
}

}  // namespace gtls
