#include "core/backend_sessions.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace gtls {
namespace {

std::vector<unsigned char> bytes(const std::string& text) { return {text.begin(), text.end()}; }

TEST(BackendSessions, FindsWhatWasStoredForThatBackendOnly) {
    BackendSessions sessions;
    EXPECT_EQ(sessions.find("a.test@10.0.0.1:443"), nullptr);
    sessions.store("a.test@10.0.0.1:443", bytes("session a"));
    ASSERT_NE(sessions.find("a.test@10.0.0.1:443"), nullptr);
    EXPECT_EQ(sessions.find("a.test@10.0.0.1:443")->bytes(), bytes("session a"));
    EXPECT_EQ(sessions.find("b.test@10.0.0.1:443"), nullptr);
    EXPECT_EQ(sessions.find("a.test@10.0.0.2:443"), nullptr);
}

TEST(BackendSessions, NewerSessionReplacesTheOlderOne) {
    BackendSessions sessions;
    sessions.store("a", bytes("first"));
    auto held = sessions.find("a");
    sessions.store("a", bytes("second"));
    EXPECT_EQ(sessions.find("a")->bytes(), bytes("second"));
    EXPECT_EQ(held->bytes(), bytes("first"));  // a connection using the old one keeps it
    EXPECT_EQ(sessions.size(), 1u);
}

TEST(BackendSessions, FullStoreDropsTheBackendStoredLongestAgo) {
    BackendSessions sessions(2);
    sessions.store("a", bytes("1"));
    sessions.store("b", bytes("2"));
    sessions.store("a", bytes("3"));  // a is now newer than b
    sessions.store("c", bytes("4"));
    EXPECT_EQ(sessions.size(), 2u);
    EXPECT_EQ(sessions.find("b"), nullptr);
    EXPECT_NE(sessions.find("a"), nullptr);
    EXPECT_NE(sessions.find("c"), nullptr);
}

TEST(BackendSessions, ZeroCapacityKeepsNothing) {
    BackendSessions sessions(0);
    sessions.store("a", bytes("1"));
    EXPECT_EQ(sessions.find("a"), nullptr);
}

TEST(BackendSessions, ThreadsStoreAndFindAtOnce) {
    BackendSessions sessions(8);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&sessions, t] {
            for (int i = 0; i < 2000; ++i) {
                const std::string backend = "backend" + std::to_string((t * 7 + i) % 12);
                sessions.store(backend, bytes(backend));
                if (auto found = sessions.find(backend)) {
                    EXPECT_EQ(found->bytes(), bytes(backend));
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_LE(sessions.size(), 8u);
}

}  // namespace
}  // namespace gtls
