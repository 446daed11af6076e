// Time conversions at the edges of std::chrono::system_clock's range.
#include "core/clock.h"

#include <gtest/gtest.h>

namespace gtls {
namespace {

TEST(FromTimeT, OrdinaryTimesConvertExactly) {
    EXPECT_EQ(from_time_t(0), TimePoint{});
    EXPECT_EQ(format_utc(from_time_t(1893456000)), "2030-01-01T00:00:00Z");
    EXPECT_EQ(from_time_t(-86400), TimePoint{} - std::chrono::hours(24));
}

TEST(FromTimeT, TimesPastYear2262AreClampedToTheLatestTimePoint) {
    // 2262-04-11T23:47:16Z is the last whole second a nanosecond int64 holds.
    constexpr long long kLastSecond = 9223372036;
    EXPECT_EQ(from_time_t(kLastSecond).time_since_epoch(), std::chrono::seconds(kLastSecond));
    EXPECT_LT(from_time_t(kLastSecond), TimePoint::max());
    EXPECT_EQ(from_time_t(kLastSecond + 1), TimePoint::max());
    EXPECT_EQ(from_time_t(253402300799), TimePoint::max());  // 9999-12-31T23:59:59Z
    EXPECT_EQ(from_time_t(std::numeric_limits<long long>::max()), TimePoint::max());
    EXPECT_EQ(format_utc(TimePoint::max()), "2262-04-11T23:47:16Z");
}

TEST(FromTimeT, TimesBefore1677AreClampedToTheEarliestTimePoint) {
    constexpr long long kFirstSecond = -9223372036;
    EXPECT_EQ(from_time_t(kFirstSecond).time_since_epoch(), std::chrono::seconds(kFirstSecond));
    EXPECT_EQ(from_time_t(kFirstSecond - 1), TimePoint::min());
    EXPECT_EQ(from_time_t(std::numeric_limits<long long>::min()), TimePoint::min());
}

}  // namespace
}  // namespace gtls
