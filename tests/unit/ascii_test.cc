// ASCII case folding shared by directive parsing and the SNI index.
#include "core/ascii.h"

#include <gtest/gtest.h>

namespace gtls {
namespace {

TEST(Ascii, LowercaseFoldsOnlyAToZ) {
    EXPECT_EQ(ascii_lowercase("WwW.ExAmple-1.COM"), "www.example-1.com");
    EXPECT_EQ(ascii_lowercase("\xC3\x89T\xC3\x89"), "\xC3\x89t\xC3\x89");  // UTF-8 bytes unchanged
    EXPECT_EQ(ascii_lowercase(""), "");
}

TEST(Ascii, IequalsIgnoresAsciiCaseOnly) {
    static_assert(ascii_iequals("On", "on"));
    EXPECT_TRUE(ascii_iequals("SHMCB", "shmcb"));
    EXPECT_FALSE(ascii_iequals("on", "onn"));
    EXPECT_FALSE(ascii_iequals("\xC3\x89", "\xC3\xA9"));  // not Unicode folding
}

}  // namespace
}  // namespace gtls
