// StapleSource with a manual clock and real files: refresh on change, keeping
// the last good staple, expiry, pacing and log-once.
#include "core/staple_source.h"
#include "ocsp_fixtures.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
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

    std::unique_ptr<StapleSource> make(std::chrono::seconds interval = 1s, bool must_staple = false) {
        return std::make_unique<StapleSource>("a.test:443#0", path_, leaf_.get(), issuer_.get(), interval, must_staple,
                                              clock_, [this](LogLevel level, const std::string& message) {
                                                  {
                                                      std::lock_guard lock(logs_mutex_);
                                                      logs_.emplace_back(level, message);
                                                  }
                                                  if (on_log_) on_log_(message);
                                              });
    }
    // The validity window of a fixture response.
    OcspVerdict verdict_of(const std::string& fixture) {
        return validate_ocsp_response(fixture_bytes(fixture), leaf_.get(), issuer_.get(), clock_.now());
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
        std::lock_guard lock(logs_mutex_);
        int n = 0;
        for (const auto& [level, message] : logs_) n += message.find(needle) != std::string::npos;
        return n;
    }
    LogLevel level_of(const std::string& needle) const {
        std::lock_guard lock(logs_mutex_);
        for (const auto& [level, message] : logs_) {
            if (message.find(needle) != std::string::npos) return level;
        }
        ADD_FAILURE() << "no log line with " << needle;
        return LogLevel::Debug;
    }

    std::filesystem::path dir_;
    std::string path_;
    OwnedCrt leaf_, issuer_;
    ManualClock clock_;
    mutable std::mutex logs_mutex_;
    std::vector<std::pair<LogLevel, std::string>> logs_;
    std::function<void(const std::string&)> on_log_;  // runs on the logging thread
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
    for (const char* bad : {"truncated.der", "other-certificate.der"}) {
        install(bad);
        for (int i = 0; i < 3; ++i) {
            clock_.advance(2s);
            source->refresh();
            EXPECT_EQ(served(*source), fixture_bytes("good-ecdsa.der")) << bad;
        }
    }
    EXPECT_EQ(count_logs("(unparsable)"), 1);
    EXPECT_EQ(count_logs("(wrong-certificate)"), 1);
    EXPECT_NE(source->status().last_problem.find("wrong-certificate"), std::string::npos);
}

TEST_F(StapleSourceTest, NewerRevokedResponseEndsTheGoodStapleAndIsStapled) {
    install("good-ecdsa.der");
    auto source = make();
    source->load_initial();
    install("revoked-later.der");
    clock_.advance(2s);
    source->refresh();
    // At once, long before the good response's nextUpdate; clients see the truth.
    EXPECT_EQ(served(*source), fixture_bytes("revoked-later.der"));
    auto staple = source->staple_for_handshake();
    ASSERT_TRUE(staple);
    EXPECT_TRUE(staple->revoked);
    EXPECT_EQ(count_logs("GTLS0308"), 1);
    EXPECT_EQ(level_of("GTLS0308"), LogLevel::Error);
    EXPECT_EQ(count_logs("REVOKED (since 2026-01-01T00:00:00Z)"), 1);
    // Logged at every check while it lasts, although the file does not change.
    for (int i = 0; i < 3; ++i) {
        clock_.advance(2s);
        source->refresh();
    }
    EXPECT_EQ(count_logs("GTLS0308"), 4);
    auto status = source->status();
    EXPECT_TRUE(status.serving);
    EXPECT_NE(status.last_problem.find("GTLS0308"), std::string::npos);
    // An older good response (a restored backup) does not hide the revocation.
    install("good-ecdsa.der");
    clock_.advance(2s);
    source->refresh();
    EXPECT_EQ(served(*source), fixture_bytes("revoked-later.der"));
    EXPECT_EQ(count_logs("not newer than that of the revoked response in use"), 1);
    // A newer good one does (a certificate hold released), and the error stops.
    install("good-later.der");
    clock_.advance(2s);
    source->refresh();
    EXPECT_EQ(served(*source), fixture_bytes("good-later.der"));
    const int revoked_lines = count_logs("GTLS0308");
    clock_.advance(2s);
    source->refresh();
    EXPECT_EQ(count_logs("GTLS0308"), revoked_lines);
    EXPECT_EQ(source->status().last_problem, "");
}

TEST_F(StapleSourceTest, RevokedResponseOlderThanTheStapleIsLoggedNotStapled) {
    install("good-later.der");
    auto source = make();
    source->load_initial();
    install("revoked-later.der");
    clock_.advance(2s);
    source->refresh();
    EXPECT_EQ(served(*source), fixture_bytes("good-later.der"));
    EXPECT_EQ(count_logs("GTLS0308"), 0);
    EXPECT_EQ(count_logs("(revoked)"), 1);
    EXPECT_EQ(level_of("(revoked)"), LogLevel::Error);
    EXPECT_EQ(count_logs("is not newer than that of the response in use"), 1);
}

TEST_F(StapleSourceTest, RevokedAtStartIsStapled) {
    install("revoked-later.der");
    auto source = make();
    source->load_initial();
    EXPECT_EQ(served(*source), fixture_bytes("revoked-later.der"));
    EXPECT_EQ(count_logs("GTLS0308"), 1);
}

TEST_F(StapleSourceTest, ExpiredRevokedResponseIsNotStapledButLoggedAsError) {
    install("good-ecdsa.der");
    auto source = make();
    source->load_initial();
    install("revoked-later.der");
    clock_.advance(72h);  // past both responses' nextUpdate
    source->refresh();
    EXPECT_TRUE(served(*source).empty());
    EXPECT_EQ(count_logs("(expired)"), 1);
    EXPECT_EQ(level_of("(expired)"), LogLevel::Error);
    EXPECT_EQ(count_logs("it says the certificate is REVOKED"), 1);
}

TEST_F(StapleSourceTest, NewerUnknownResponseWithdrawsTheStaple) {
    install("good-ecdsa.der");
    auto source = make();
    source->load_initial();
    install("unknown-later.der");
    clock_.advance(2s);
    source->refresh();
    EXPECT_TRUE(served(*source).empty());
    EXPECT_FALSE(source->status().staple);
    EXPECT_EQ(count_logs("(unknown)"), 1);
    EXPECT_EQ(level_of("(unknown)"), LogLevel::Warning);
    EXPECT_EQ(count_logs("the previous response is withdrawn"), 1);
    for (int i = 0; i < 3; ++i) {
        clock_.advance(2s);
        source->refresh();
    }
    EXPECT_EQ(count_logs("(unknown)"), 1) << "logged once per file state";
    install("good-later.der");
    clock_.advance(2s);
    source->refresh();
    EXPECT_EQ(served(*source), fixture_bytes("good-later.der"));
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

TEST_F(StapleSourceTest, NextUpdateInYear9999IsStapled) {
    install("far-future.der");
    auto source = make();
    source->load_initial();
    EXPECT_EQ(served(*source), fixture_bytes("far-future.der"));
    EXPECT_EQ(source->status().staple->next_update, TimePoint::max());
    EXPECT_EQ(count_logs("nextUpdate 2262-04-11T23:47:16Z"), 1);
    clock_.advance(24h * 365 * 200);  // two centuries on: still stapled, no overflow
    EXPECT_FALSE(served(*source).empty());
}

TEST_F(StapleSourceTest, BackwardClockDoesNotStapleFutureResponse) {
    install("good-ecdsa.der");
    auto source = make();
    source->load_initial();
    clock_.step(-1h);
    EXPECT_TRUE(served(*source).empty());
    clock_.step(1h);
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
    EXPECT_TRUE(source->refresh_due()) << "due before the first check";
    source->load_initial();
    EXPECT_FALSE(source->refresh_due());
    install("delegated.der");  // a change is not looked for until the caller finds the check due
    clock_.advance(4s);
    EXPECT_FALSE(source->refresh_due());
    clock_.advance(1s);
    EXPECT_TRUE(source->refresh_due());
    source->refresh();
    EXPECT_FALSE(source->refresh_due());
    EXPECT_EQ(served(*source), fixture_bytes("delegated.der"));
    auto zero = make(0s);
    EXPECT_TRUE(zero->refresh_due());
    zero->refresh();
    EXPECT_TRUE(zero->refresh_due());
}

TEST_F(StapleSourceTest, ConcurrentRefreshesNeverServeAnythingButValidResponses) {
    install("good-ecdsa.der");
    auto source = make(0s);
    source->load_initial();
    const auto good_a = fixture_bytes("good-ecdsa.der");
    const auto good_b = fixture_bytes("delegated.der");
    const auto revoked = fixture_bytes("revoked.der");  // valid too: stapled when newer
    std::atomic<bool> stop{false};
    std::atomic<int> bad{0};
    std::vector<std::thread> readers;
    for (int i = 0; i < 3; ++i) {
        readers.emplace_back([&] {
            while (!stop) {
                source->refresh();
                auto bytes = served(*source);
                if (bytes != good_a && bytes != good_b && bytes != revoked) ++bad;
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

TEST_F(StapleSourceTest, StapleRecordsTheFileStateItCameFrom) {
    install("good-ecdsa.der");
    struct stat info {};
    ASSERT_EQ(::stat(path_.c_str(), &info), 0);
    auto source = make();
    source->load_initial();
    auto staple = source->staple_for_handshake();
    ASSERT_TRUE(staple);
    EXPECT_EQ(staple->file.inode, static_cast<unsigned long long>(info.st_ino));
    EXPECT_EQ(staple->file.size, static_cast<unsigned long long>(info.st_size));
    EXPECT_EQ(staple->file.mtime_ns, static_cast<long long>(info.st_mtim.tv_sec) * 1000000000LL + info.st_mtim.tv_nsec);
    auto verdict = verdict_of("good-ecdsa.der");
    EXPECT_EQ(staple->this_update, verdict.this_update);
    EXPECT_EQ(staple->next_update, verdict.next_update);
}

TEST_F(StapleSourceTest, FileIsReadAgainOnlyWhenItsStateChanges) {
    install("good-ecdsa.der");
    auto source = make();
    source->load_initial();
    auto check = [&] {
        clock_.advance(2s);
        ASSERT_TRUE(source->refresh());
    };
    // Every read of a good file publishes it again (GTLS0301): count the reads.
    for (int i = 0; i < 5; ++i) check();
    EXPECT_EQ(count_logs("GTLS0301"), 1) << "an unchanged file was read again";
    // Same bytes, another mtime.
    struct timespec times[2] = {{0, UTIME_OMIT}, {1700000000, 123}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path_.c_str(), times, 0), 0);
    check();
    EXPECT_EQ(count_logs("GTLS0301"), 2) << "an mtime change was missed";
    check();
    EXPECT_EQ(count_logs("GTLS0301"), 2);
    // Only the ctime changes (chmod to the same mode).
    ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
    check();
    EXPECT_EQ(count_logs("GTLS0301"), 3) << "a ctime change was missed";
    // Another inode with the same bytes, size and mtime.
    std::filesystem::copy_file(path_, path_ + ".copy");
    ASSERT_EQ(::utimensat(AT_FDCWD, (path_ + ".copy").c_str(), times, 0), 0);
    std::filesystem::rename(path_ + ".copy", path_);
    check();
    EXPECT_EQ(count_logs("GTLS0301"), 4) << "a rename over the file was missed";
    // Same inode, other bytes of another size, the mtime put back.
    write_in_place(path_, "good-no-certs.der");
    ASSERT_EQ(::utimensat(AT_FDCWD, path_.c_str(), times, 0), 0);
    check();
    EXPECT_EQ(served(*source), fixture_bytes("good-no-certs.der"));
}

TEST_F(StapleSourceTest, UnchangedFileIsCheckedWithoutOpeningIt) {
#ifdef __SANITIZE_ADDRESS__
    // UBSan's vptr check opens a pipe to probe memory; with every descriptor
    // taken it reports each virtual call as invalid. The normal build runs this.
    GTEST_SKIP() << "needs all file descriptors taken, which the sanitizer runtimes cannot work with";
#endif
    install("good-ecdsa.der");
    // With no file descriptor left, stat() still works and open() fails: a
    // check of an unchanged file must not need one.
    EXPECT_EXIT(
        {
            auto source = make();
            source->load_initial();
            const auto expected = fixture_bytes("good-ecdsa.der");
            struct rlimit limit {};
            limit.rlim_cur = limit.rlim_max = 64;
            if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) std::_Exit(3);
            while (::dup(2) >= 0) {
            }
            if (errno != EMFILE) std::_Exit(4);
            for (int i = 0; i < 3; ++i) {
                clock_.advance(2s);
                source->refresh();
            }
            bool ok = count_logs("GTLS0303") == 0 && served(*source) == expected;
            std::_Exit(ok ? 0 : 1);
        },
        ::testing::ExitedWithCode(0), "");
}

TEST_F(StapleSourceTest, PemFileIsStapledAsDer) {
    install("good-ecdsa.pem");
    auto source = make();
    source->load_initial();
    EXPECT_EQ(served(*source), fixture_bytes("good-ecdsa.der"));
}

TEST_F(StapleSourceTest, ExplicitTimesOverrideTheClock) {
    install("good-ecdsa.der");
    auto verdict = verdict_of("good-ecdsa.der");
    auto source = make();
    source->load_initial(verdict.this_update);
    EXPECT_TRUE(source->staple_for_handshake(verdict.this_update));
    EXPECT_TRUE(source->staple_for_handshake(verdict.next_update - 1s));
    EXPECT_FALSE(source->staple_for_handshake(verdict.next_update));
    EXPECT_FALSE(source->staple_for_handshake(verdict.this_update - kMaxOcspClockSkew - 1s));
    EXPECT_EQ(source->status().served, 2u);
    EXPECT_FALSE(source->status(verdict.next_update).serving);
    EXPECT_EQ(source->status().last_check, verdict.this_update);
    // Pacing follows the clock's monotonic time, not the explicit wall time.
    EXPECT_FALSE(source->refresh_due(clock_.monotonic_now() + 999ms));
    EXPECT_TRUE(source->refresh_due(clock_.monotonic_now() + 1s));
}

TEST_F(StapleSourceTest, WallClockStepsNeitherStopNorHurryChecks) {
    install("good-ecdsa.der");
    clock_.set(verdict_of("good-ecdsa.der").this_update + 1min);
    auto source = make(5s);
    source->load_initial();
    install("delegated.der");
    // The wall clock is set back an hour: checks go on every 5 s regardless.
    clock_.step(-1h);
    clock_.advance(4s);
    EXPECT_FALSE(source->refresh_due());
    clock_.advance(1s);
    ASSERT_TRUE(source->refresh_due()) << "a backward step stopped the checks";
    source->refresh();
    // Validity is still judged by the wall clock: an hour back, not yet valid.
    EXPECT_EQ(count_logs("(not-yet-valid)"), 1);
    clock_.step(1h);
    clock_.advance(5s);
    ASSERT_TRUE(source->refresh_due());
    source->refresh();
    EXPECT_EQ(served(*source), fixture_bytes("delegated.der"));
    // A forward step does not make a check due early.
    clock_.step(24h);
    EXPECT_FALSE(source->refresh_due());
    clock_.advance(5s);
    EXPECT_TRUE(source->refresh_due());
}

TEST_F(StapleSourceTest, ConcurrentRefreshReturnsAtOnce) {
    install("good-ecdsa.der");
    auto source = make(0s);
    source->load_initial();
    install("delegated.der");
    // The first refresher stops inside its log call (it holds the refresh lock).
    std::promise<void> inside, release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<bool> blocked{false};
    on_log_ = [&](const std::string& message) {
        if (message.find("GTLS0301") != std::string::npos && !blocked.exchange(true)) {
            inside.set_value();
            released.wait();
        }
    };
    auto first = std::async(std::launch::async, [&] { return source->refresh(); });
    struct Release {  // never leave the first refresher blocked, even when an assertion fails
        std::promise<void>& promise;
        bool done = false;
        void now() { if (!std::exchange(done, true)) promise.set_value(); }
        ~Release() { now(); }
    } releaser{release};
    ASSERT_EQ(inside.get_future().wait_for(10s), std::future_status::ready);

    auto second = std::async(std::launch::async, [&] { return source->refresh(); });
    const bool returned = second.wait_for(5s) == std::future_status::ready;
    if (!returned) releaser.now();  // let it finish so the test fails instead of hanging
    ASSERT_TRUE(returned) << "a concurrent refresh waited for the first";
    EXPECT_FALSE(second.get());
    // Handshakes and the status page do not wait either; the new staple is out.
    auto during = std::async(std::launch::async, [&] { return std::make_pair(served(*source), source->status().id); });
    ASSERT_EQ(during.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(during.get().first, fixture_bytes("delegated.der"));

    releaser.now();
    EXPECT_TRUE(first.get());
    EXPECT_TRUE(source->refresh());
}

TEST_F(StapleSourceTest, HalfWrittenFileIsNeverStapledAndIsReadAgainWhenCompleted) {
    install("good-ecdsa.der");
    auto source = make();
    source->load_initial();
    // A writer caught half way: same file, first half of the new response.
    auto full = fixture_bytes("delegated.der");
    {
        std::ofstream out(path_, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(full.data()), static_cast<std::streamsize>(full.size() / 2));
    }
    clock_.advance(2s);
    source->refresh();
    EXPECT_EQ(served(*source), fixture_bytes("good-ecdsa.der"));
    EXPECT_EQ(count_logs("(unparsable)"), 1);
    // The writer finishes: read again, although the half was already judged.
    {
        std::ofstream out(path_, std::ios::binary | std::ios::app);
        out.write(reinterpret_cast<const char*>(full.data() + full.size() / 2),
                  static_cast<std::streamsize>(full.size() - full.size() / 2));
    }
    clock_.advance(2s);
    source->refresh();
    EXPECT_EQ(served(*source), full);
    EXPECT_EQ(count_logs("(unparsable)"), 1);
    EXPECT_EQ(source->status().last_problem, "");
}

TEST_F(StapleSourceTest, NotYetValidResponseIsReconsideredAsTimePasses) {
    install("good-ecdsa.der");
    auto verdict = verdict_of("good-ecdsa.der");
    clock_.set(verdict.this_update - 10min);
    auto source = make();
    source->load_initial();
    EXPECT_TRUE(served(*source).empty());
    EXPECT_EQ(count_logs("(not-yet-valid)"), 1);
    clock_.advance(2s);
    source->refresh();
    EXPECT_TRUE(served(*source).empty());
    EXPECT_EQ(count_logs("(not-yet-valid)"), 1) << "logged once although read again";
    clock_.advance(6min);  // now within the allowed skew, the file unchanged
    source->refresh();
    EXPECT_EQ(served(*source), fixture_bytes("good-ecdsa.der"));
}

TEST_F(StapleSourceTest, LogsOncePerFileStateAndReason) {
    install("good-ecdsa.der");
    auto source = make();
    source->load_initial();
    auto refresh_a_few_times = [&] {
        for (int i = 0; i < 3; ++i) {
            clock_.advance(2s);
            source->refresh();
        }
    };
    install("truncated.der");
    refresh_a_few_times();
    EXPECT_EQ(count_logs("(unparsable)"), 1);
    install("truncated.der");  // the same bytes again, a new file: a new event
    refresh_a_few_times();
    EXPECT_EQ(count_logs("(unparsable)"), 2);
    std::filesystem::remove(path_);
    refresh_a_few_times();
    EXPECT_EQ(count_logs("GTLS0303"), 1);
    EXPECT_EQ(level_of("GTLS0303"), LogLevel::Warning);
    EXPECT_NE(source->status().last_problem.find("GTLS0303"), std::string::npos);
    install("good-no-certs.der");
    refresh_a_few_times();
    EXPECT_EQ(count_logs("GTLS0301"), 2);
    EXPECT_EQ(source->status().last_problem, "");
    install("truncated.der");
    refresh_a_few_times();
    EXPECT_EQ(count_logs("(unparsable)"), 3);
    EXPECT_EQ(served(*source), fixture_bytes("good-no-certs.der"));
}

TEST_F(StapleSourceTest, MustStapleProblemsAreErrors) {
    install("unknown.der");
    auto source = make(1s, true);
    source->load_initial();
    EXPECT_EQ(level_of("(unknown)"), LogLevel::Error);
    EXPECT_NE(logs_.back().second.find("does not know"), std::string::npos) << logs_.back().second;
}

TEST_F(StapleSourceTest, OversizedFileIsRefusedFromItsSize) {
    install("good-ecdsa.der");
    auto source = make();
    source->load_initial();
    {
        std::ofstream out(path_ + ".big", std::ios::binary);
    }
    std::filesystem::resize_file(path_ + ".big", 1ull << 30);  // sparse: 1 GiB of nothing
    std::filesystem::rename(path_ + ".big", path_);
    clock_.advance(2s);
    source->refresh();
    EXPECT_EQ(count_logs("(too-large)"), 1);
    EXPECT_EQ(count_logs("1073741824 bytes"), 1);
    EXPECT_EQ(served(*source), fixture_bytes("good-ecdsa.der"));
}

TEST_F(StapleSourceTest, SpecialFilesAreRefusedWithoutBlocking) {
    ASSERT_EQ(::mkfifo(path_.c_str(), 0600), 0);  // opening a FIFO for reading could block forever
    auto source = make();
    source->load_initial();
    EXPECT_EQ(count_logs("not a regular file"), 1);
    std::filesystem::remove(path_);
    std::filesystem::create_directory(path_);
    clock_.advance(2s);
    source->refresh();
    EXPECT_EQ(count_logs("not a regular file") + count_logs("Is a directory"), 1);
    EXPECT_TRUE(served(*source).empty());
}

TEST_F(StapleSourceTest, UnreadableFileExplainsWhoReadsIt) {
    install("good-ecdsa.der");
    ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);
    ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
    // As root the file stays readable: check as an unprivileged user in a child.
    EXPECT_EXIT(
        {
            if (::geteuid() == 0 && ::setuid(65534) != 0) std::_Exit(3);
            auto source = make();
            source->load_initial();
            bool ok = count_logs("GTLS0303") == 1 && count_logs("Permission denied") == 1 &&
                      count_logs("as httpd's User") == 1 && served(*source).empty();
            std::_Exit(ok ? 0 : 1);
        },
        ::testing::ExitedWithCode(0), "");
}

TEST_F(StapleSourceTest, StatusReportsTheLastCheckAndProblem) {
    install("good-ecdsa.der");
    auto source = make();
    auto before = source->status();
    EXPECT_EQ(before.last_check, TimePoint{});
    EXPECT_FALSE(before.serving);
    EXPECT_FALSE(before.staple);
    EXPECT_EQ(before.id, "a.test:443#0");
    EXPECT_EQ(before.path, path_);
    source->load_initial();
    EXPECT_EQ(source->status().last_check, clock_.now());
    install("truncated.der");
    clock_.advance(2s);
    source->refresh();
    auto after = source->status();
    EXPECT_EQ(after.last_check, clock_.now());
    EXPECT_TRUE(after.serving);
    EXPECT_NE(after.last_problem.find("(unparsable)"), std::string::npos);
    EXPECT_EQ(after.served, 0u);
    served(*source);
    served(*source);
    EXPECT_EQ(source->status().served, 2u);
}

}  // namespace
}  // namespace gtls
