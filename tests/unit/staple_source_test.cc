// StapleSource with a manual clock and real files: refresh on change, keeping
// the last good staple, expiry, pacing and log-once.
#include "core/staple_source.h"
#include "ocsp_fixtures.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace gtls {
namespace {

using namespace std::chrono_literals;
using testing::fixture_bytes;
using testing::fixture_certificate;

class StapleSourceTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("gtls-staple-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::create_directories(dir_);
        path_ = (dir_ / "response.der").string();
        leaf_ = fixture_certificate("leaf-ecdsa");
        issuer_ = fixture_certificate("intermediate");
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::unique_ptr<StapleSource> make(std::chrono::seconds interval = 1s) {
        return std::make_unique<StapleSource>("a.test:443#0", path_, leaf_.get(), issuer_.get(), interval, false, clock_,
                                              [this](LogLevel level, const std::string& message) {
                                                  logs_.emplace_back(level, message);
                                              });
    }

    // Atomic replacement, as an admin's job should do it.
    void install(const std::string& fixture) {
        auto temporary = path_ + ".tmp";
        write_in_place(temporary, fixture);
        std::filesystem::rename(temporary, path_);
    }
    void write_in_place(const std::string& path, const std::string& fixture) {
        auto bytes = fixture_bytes(fixture);
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
    std::vector<unsigned char> served(StapleSource& source) {
        auto staple = source.staple_for_handshake();
        return staple ? staple->der : std::vector<unsigned char>{};
    }
    int count_logs(const std::string& needle) const {
        int n = 0;
        for (const auto& [level, message] : logs_) n += message.find(needle) != std::string::npos;
        return n;
    }

    std::filesystem::path dir_;
    std::string path_;
    OwnedCrt leaf_, issuer_;
    ManualClock clock_;
    std::vector<std::pair<LogLevel, std::string>> logs_;
};

TEST_F(StapleSourceTest, FirstLoadServesTheFileBytes) {
    install("good-ecdsa.der");
    auto source = make();
    EXPECT_TRUE(served(*source).empty()) << "nothing before the first load";
    source->load_initial();
    EXPECT_EQ(served(*source), fixture_bytes("good-ecdsa.der"));
    EXPECT_EQ(count_logs("GTLS0301"), 1);
    EXPECT_EQ(source->status().served, 1u);
    EXPECT_TRUE(source->status().serving);
}

TEST_F(StapleSourceTest, AtomicRenameIsPickedUp) {
    install("good-ecdsa.der");
    auto source = make();
    source->load_initial();
    install("delegated.der");
    clock_.advance(2s);
    ASSERT_TRUE(source->refresh_due());
    source->refresh();
    EXPECT_EQ(served(*source), fixture_bytes("delegated.der"));
}

TEST_F(StapleSourceTest, InPlaceRewriteIsPickedUp) {
    install("good-ecdsa.der");
    auto source = make();
    source->load_initial();
    write_in_place(path_, "good-no-certs.der");
    clock_.advance(2s);
    source->refresh();
    EXPECT_EQ(served(*source), fixture_bytes("good-no-certs.der"));
}

TEST_F(StapleSourceTest, InvalidReplacementKeepsTheLastGoodAndLogsOnce) {
    install("good-ecdsa.der");
    auto source = make();
    source->load_initial();
    for (const char* bad : {"truncated.der", "revoked.der"}) {
        install(bad);
        for (int i = 0; i < 3; ++i) {
            clock_.advance(2s);
            source->refresh();
            EXPECT_EQ(served(*source), fixture_bytes("good-ecdsa.der")) << bad;
        }
    }
    EXPECT_EQ(count_logs("(unparsable)"), 1);
    EXPECT_EQ(count_logs("(revoked)"), 1);
    bool revoked_at_error = false;
    for (const auto& [level, message] : logs_) {
        if (message.find("(revoked)") != std::string::npos) revoked_at_error = level == LogLevel::Error;
    }
    EXPECT_TRUE(revoked_at_error);
    EXPECT_NE(source->status().last_problem.find("revoked"), std::string::npos);
}

TEST_F(StapleSourceTest, FileRemovalKeepsTheStapleWithAWarning) {
    install("good-ecdsa.der");
    auto source = make();
    source->load_initial();
    std::filesystem::remove(path_);
    for (int i = 0; i < 3; ++i) {
        clock_.advance(2s);
        source->refresh();
    }
    EXPECT_EQ(served(*source), fixture_bytes("good-ecdsa.der"));
    EXPECT_EQ(count_logs("GTLS0303"), 1);
    install("good-no-certs.der");
    clock_.advance(2s);
    source->refresh();
    EXPECT_EQ(served(*source), fixture_bytes("good-no-certs.der"));
}

TEST_F(StapleSourceTest, StapleStopsAtNextUpdateWithoutFileChange) {
    install("short-lived.der");  // nextUpdate = thisUpdate + 2 minutes
    // The corpus may be older than that: start the clock at the response's thisUpdate.
    auto bytes = fixture_bytes("short-lived.der");
    clock_.set(validate_ocsp_response(bytes, leaf_.get(), issuer_.get(), clock_.now()).this_update + 1s);
    auto source = make();
    source->load_initial();
    EXPECT_FALSE(served(*source).empty());
    clock_.advance(3min);
    EXPECT_TRUE(served(*source).empty());
    EXPECT_FALSE(source->status().serving);
    source->refresh();
    EXPECT_EQ(count_logs("GTLS0305"), 1);
}

TEST_F(StapleSourceTest, BackwardClockDoesNotStapleFutureResponse) {
    install("good-ecdsa.der");
    auto source = make();
    source->load_initial();
    clock_.advance(-1h);
    EXPECT_TRUE(served(*source).empty());
    clock_.advance(1h);
    EXPECT_FALSE(served(*source).empty());
}

TEST_F(StapleSourceTest, InvalidAtStartMeansNoStaple) {
    install("other-certificate.der");
    auto source = make();
    source->load_initial();
    EXPECT_TRUE(served(*source).empty());
    EXPECT_EQ(count_logs("(wrong-certificate)"), 1);
    EXPECT_NE(logs_.back().second.find("no staple for this certificate"), std::string::npos);
}

TEST_F(StapleSourceTest, ChecksArePacedByTheInterval) {
    install("good-ecdsa.der");
    auto source = make(5s);
    source->load_initial();
    clock_.advance(4s);
    EXPECT_FALSE(source->refresh_due());
    clock_.advance(1s);
    EXPECT_TRUE(source->refresh_due());
    source->refresh();
    EXPECT_FALSE(source->refresh_due());
    auto zero = make(0s);
    EXPECT_TRUE(zero->refresh_due());
}

TEST_F(StapleSourceTest, ConcurrentRefreshesNeverServeAnythingButValidResponses) {
    install("good-ecdsa.der");
    auto source = make(0s);
    source->load_initial();
    const auto good_a = fixture_bytes("good-ecdsa.der");
    const auto good_b = fixture_bytes("delegated.der");
    std::atomic<bool> stop{false};
    std::atomic<int> bad{0};
    std::vector<std::thread> readers;
    for (int i = 0; i < 3; ++i) {
        readers.emplace_back([&] {
            while (!stop) {
                source->refresh();
                auto bytes = served(*source);
                if (bytes != good_a && bytes != good_b) ++bad;
            }
        });
    }
    const char* rotation[] = {"delegated.der", "truncated.der", "good-ecdsa.der", "revoked.der", "empty.der"};
    for (int round = 0; round < 100; ++round) {
        const char* fixture = rotation[round % 5];
        if (round % 2) install(fixture); else write_in_place(path_, fixture);
    }
    stop = true;
    for (auto& t : readers) t.join();
    EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace gtls
