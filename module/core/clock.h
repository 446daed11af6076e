// Where logic gets the time from: the real clock in httpd, a manual one in tests.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

namespace gtls {

using TimePoint = std::chrono::system_clock::time_point;

// All logic asks a Clock (or takes an explicit `now`); only the httpd layer
// constructs a SystemClock. Implementations must be callable from any thread.
class Clock {
public:
    virtual ~Clock() = default;
    // The current time. Any thread; never throws.
    virtual TimePoint now() const noexcept = 0;
};

class SystemClock final : public Clock {
public:
    TimePoint now() const noexcept override { return std::chrono::system_clock::now(); }
};

// A clock tests move by hand (forwards or backwards); thread-safe. Starts at
// `start`, by default the real time of construction.
class ManualClock final : public Clock {
public:
    explicit ManualClock(TimePoint start = std::chrono::system_clock::now()) : now_(start.time_since_epoch().count()) {}
    TimePoint now() const noexcept override { return TimePoint(TimePoint::duration(now_.load())); }
    void set(TimePoint t) noexcept { now_.store(t.time_since_epoch().count()); }
    void advance(std::chrono::system_clock::duration d) noexcept { now_.fetch_add(d.count()); }

private:
    std::atomic<TimePoint::rep> now_;
};

// "2026-11-25T04:24:10Z" (seconds, UTC), for log lines and the status page. Any thread.
std::string format_utc(TimePoint t);

// A time_t (as GnuTLS returns them) as a TimePoint, clamped to what a TimePoint
// holds: system_clock counts nanoseconds in 64 bits, so times after
// 2262-04-11T23:47:16Z (a nextUpdate in year 9999, say) become TimePoint::max()
// and times before 1677-09-21 TimePoint::min(), instead of overflowing
// (undefined behaviour). Any thread; never throws.
inline TimePoint from_time_t(long long seconds) noexcept {
    using std::chrono::duration_cast;
    constexpr long long kLatest = duration_cast<std::chrono::seconds>(TimePoint::duration::max()).count();
    constexpr long long kEarliest = duration_cast<std::chrono::seconds>(TimePoint::duration::min()).count();
    if (seconds > kLatest) return TimePoint::max();
    if (seconds < kEarliest) return TimePoint::min();
    return TimePoint(duration_cast<TimePoint::duration>(std::chrono::seconds(seconds)));
}

}  // namespace gtls
