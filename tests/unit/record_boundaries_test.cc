// Record headers are found wherever the reads split the stream.
#include "core/record_boundaries.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace gtls {
namespace {

using Headers = std::vector<std::pair<unsigned, std::size_t>>;

// Two records: handshake (3-byte body), then application data (0x0102 bytes).
std::vector<unsigned char> two_records() {
    std::vector<unsigned char> stream{22, 3, 1, 0, 3, 1, 2, 3, 23, 3, 3, 1, 2};
    stream.resize(stream.size() + 0x0102, 0xAA);
    return stream;
}

TEST(RecordBoundaries, WholeStreamAtOnce) {
    RecordBoundaries boundaries;
    Headers seen;
    auto stream = two_records();
    boundaries.feed(stream.data(), stream.size(), [&](unsigned type, std::size_t length) { seen.emplace_back(type, length); });
    EXPECT_EQ(seen, (Headers{{22, 3}, {23, 0x0102}}));
}

TEST(RecordBoundaries, OneByteAtATime) {
    RecordBoundaries boundaries;
    Headers seen;
    auto stream = two_records();
    for (unsigned char byte : stream) {
        boundaries.feed(&byte, 1, [&](unsigned type, std::size_t length) { seen.emplace_back(type, length); });
    }
    EXPECT_EQ(seen, (Headers{{22, 3}, {23, 0x0102}}));
}

TEST(RecordBoundaries, HeaderSplitAcrossReadsAndEmptyRecords) {
    RecordBoundaries boundaries;
    Headers seen;
    auto note = [&](unsigned type, std::size_t length) { seen.emplace_back(type, length); };
    const unsigned char first[] = {21, 3};
    const unsigned char second[] = {3, 0, 0, 20, 3, 3, 0, 1, 1, 23};
    boundaries.feed(first, sizeof(first), note);
    EXPECT_TRUE(seen.empty());
    boundaries.feed(second, sizeof(second), note);
    EXPECT_EQ(seen, (Headers{{21, 0}, {20, 1}}));
}

}  // namespace
}  // namespace gtls
