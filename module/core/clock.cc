#include "core/clock.h"

#include <ctime>

namespace gtls {

std::string format_utc(TimePoint t) {
    time_t seconds = std::chrono::system_clock::to_time_t(t);
    struct tm tm {};
    gmtime_r(&seconds, &tm);
    char text[32];
    std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

}  // namespace gtls
