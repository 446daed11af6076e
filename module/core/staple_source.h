// The OCSP staple of one certificate (vhost, certificate index): read from its
// response file, validated, held as an immutable in-memory snapshot, and
// re-read when the file changes.
#pragma once

#include "core/clock.h"
#include "core/ocsp_response.h"
#include "core/owned.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace gtls {

enum class LogLevel { Error, Warning, Info, Debug };
using LogSink = std::function<void(LogLevel, const std::string& message)>;

// A validated response; immutable once published.
struct Staple {
    std::vector<unsigned char> der;
    TimePoint this_update;
    TimePoint next_update;
};

// What the status page shows for one certificate.
struct StapleStatus {
    std::string id;
    std::string path;
    bool serving = false;           // a staple is valid now
    std::shared_ptr<const Staple> staple;
    std::string last_problem;       // "verdict-name: reason" of the last rejected file state, or ""
    TimePoint last_check{};
    unsigned long long served = 0;  // staples handed to handshakes
};

class StapleSource {
public:
    // `id` is "ServerName:port#index" for log lines; leaf and issuer are copied.
    // `check_interval` 0 means "whenever refresh_due is asked". Problems are
    // logged as errors when the leaf is must-staple (clients will refuse the
    // certificate without a staple), else as warnings (revoked: always error).
    // Nothing is read until load_initial() or refresh().
    StapleSource(std::string id, std::string path, gnutls_x509_crt_t leaf, gnutls_x509_crt_t issuer,
                 std::chrono::seconds check_interval, bool must_staple, const Clock& clock, LogSink log);
    StapleSource(const StapleSource&) = delete;
    StapleSource& operator=(const StapleSource&) = delete;

    // First read at startup; logs the outcome. Same as refresh() but always reads.
    void load_initial();

    // Re-checks the file if its identity (inode, size, mtime, ctime) changed:
    // reads it (size-capped), validates it and publishes it only if valid. An
    // invalid, unreadable or missing file keeps the current staple (served until
    // its own nextUpdate) and is logged once per file state and reason. At most
    // one thread refreshes at a time: a concurrent caller returns at once.
    void refresh();

    // True when check_interval has passed since the last check.
    bool refresh_due() const noexcept;
    std::chrono::seconds check_interval() const noexcept { return check_interval_; }

    // The handshake path: no I/O and no lock a slow operation holds. The
    // current staple if it is valid now (thisUpdate not beyond the allowed skew,
    // nextUpdate in the future), else nullptr. Any thread.
    std::shared_ptr<const Staple> staple_for_handshake() noexcept;

    StapleStatus status() const;
    const std::string& id() const noexcept { return id_; }
    const std::string& path() const noexcept { return path_; }

private:
    struct FileIdentity {
        unsigned long long device = 0, inode = 0, size = 0;
        long long mtime_ns = 0, ctime_ns = 0;
        bool operator==(const FileIdentity&) const = default;
    };

    void check_file(bool force);
    void report_problem(LogLevel level, const std::string& key, const std::string& message);
    void note_expiry(TimePoint now);
    bool valid_at(const Staple& staple, TimePoint now) const noexcept;

    const std::string id_;
    const std::string path_;
    OwnedCrt leaf_;
    OwnedCrt issuer_;
    const std::chrono::seconds check_interval_;
    const LogLevel problem_level_;
    const Clock& clock_;
    LogSink log_;

    std::atomic<std::shared_ptr<const Staple>> current_;
    std::atomic<TimePoint::rep> last_check_{0};
    std::atomic<unsigned long long> served_{0};

    // Guarded by refresh_mutex_ (taken with try_lock only).
    mutable std::mutex refresh_mutex_;
    bool have_identity_ = false;
    FileIdentity identity_;
    std::string last_problem_key_;
    std::string last_problem_;
    const Staple* expiry_reported_for_ = nullptr;
};

}  // namespace gtls
