// Where logic gets the time from: the real clock in httpd, a manual one in tests.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

namespace gtls {

using TimePoint = std::chrono::system_clock::time_point;
// A reading of a clock that never jumps (std::chrono::steady_clock): what
// pacing ("once a second") is measured with, so that stepping the wall clock
// neither stops nor hurries periodic work.
using MonotonicPoint = std::chrono::steady_clock::time_point;

// All logic asks a Clock (or takes an explicit `now`); only the httpd layer
// constructs a SystemClock. Implementations must be callable from any thread.
class Clock {
public:
    virtual ~Clock() = default;
    // The current wall-clock time: what OCSP thisUpdate/nextUpdate are judged
    // against. May jump either way. Any thread; never throws.
    virtual TimePoint now() const noexcept = 0;
    // The monotonic time: only differences between two readings mean
    // anything. Never goes back. Any thread; never throws.
    virtual MonotonicPoint monotonic_now() const noexcept = 0;
};

class SystemClock final : public Clock {
public:
    TimePoint now() const noexcept override { return std::chrono::system_clock::now(); }
    MonotonicPoint monotonic_now() const noexcept override { return std::chrono::steady_clock::now(); }
};

// A clock tests move by hand; thread-safe. The wall clock starts at `start`, by
// default the real time of construction. advance() lets time pass (both clocks
// move); step() and set() only move the wall clock, as an administrator or NTP
// stepping the system time does.
class ManualClock final : public Clock {
public:
    explicit ManualClock(TimePoint start = std::chrono::system_clock::now())
        : now_(start.time_since_epoch().count()), monotonic_(std::chrono::steady_clock::now().time_since_epoch().count()) {}
    TimePoint now() const noexcept override { return TimePoint(TimePoint::duration(now_.load())); }
    MonotonicPoint monotonic_now() const noexcept override {
        return MonotonicPoint(MonotonicPoint::duration(monotonic_.load()));
    }
    // Time passes: `d` must not be negative.
    void advance(std::chrono::nanoseconds d) noexcept {
        now_.fetch_add(std::chrono::duration_cast<TimePoint::duration>(d).count());
        monotonic_.fetch_add(std::chrono::duration_cast<MonotonicPoint::duration>(d).count());
    }
    // The wall clock jumps by `d` (either way); the monotonic clock does not move.
    void step(std::chrono::nanoseconds d) noexcept { now_.fetch_add(std::chrono::duration_cast<TimePoint::duration>(d).count()); }
    // The wall clock jumps to `t`; the monotonic clock does not move.
    void set(TimePoint t) noexcept { now_.store(t.time_since_epoch().count()); }

private:
    std::atomic<TimePoint::rep> now_;
    std::atomic<MonotonicPoint::rep> monotonic_;
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
