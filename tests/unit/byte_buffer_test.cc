#include "core/byte_buffer.h"

#include <gtest/gtest.h>

#include <string>

namespace gtls {
namespace {

TEST(ByteBuffer, StartsEmptyGrowsKeepingItsBytesAndReleases) {
    ByteBuffer buffer;
    EXPECT_EQ(buffer.size(), 0u);
    EXPECT_EQ(buffer.data(), nullptr);
    buffer.resize(5);
    std::memcpy(buffer.data(), "hello", 5);
    buffer.resize(40000);
    EXPECT_EQ(buffer.size(), 40000u);
    EXPECT_EQ(std::string(buffer.data(), 5), "hello");
    buffer[39999] = 'x';
    buffer.resize(3);
    EXPECT_EQ(std::string(buffer.data(), 3), "hel");
    buffer.release();
    EXPECT_EQ(buffer.size(), 0u);
    EXPECT_EQ(buffer.data(), nullptr);
    buffer.resize(2);
    EXPECT_EQ(buffer.size(), 2u);
}

}  // namespace
}  // namespace gtls
