// The OCSP staple of one certificate (vhost, certificate index), or of several
// that name the same response file for the same leaf and issuer: read from the
// response file, validated, held as an immutable in-memory snapshot, and
// re-read when the file changes.
//
// Threads: one StapleSource is shared by every thread of a process. Handshake
// threads call staple_for_handshake() (one SnapshotSlot load: a pointer copy,
// never a lock a file operation holds); one refresher
// thread at a time does the file work (refresh() try-locks); the status page
// calls status().
#pragma once

#include "core/clock.h"
#include "core/ocsp_response.h"
#include "core/owned.h"
#include "core/staple_snapshot.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace gtls {

enum class LogLevel { Error, Warning, Info, Debug };
// Receives one finished log line: "GTLS03xx: <id>: <what>, <file>, <reason>".
// Called on the thread doing load_initial()/refresh(), never from a handshake.
using LogSink = std::function<void(LogLevel, const std::string& message)>;

// Which state of a file was read: any write, truncation, rename over it or
// chmod changes at least one field.
struct FileIdentity {
    unsigned long long device = 0;
    unsigned long long inode = 0;
    unsigned long long size = 0;
    long long mtime_ns = 0;
    long long ctime_ns = 0;
    bool operator==(const FileIdentity&) const = default;
};

// A validated response; immutable once published, shared by every handshake
// that staples it (keep the shared_ptr, not a pointer into it).
struct Staple {
    std::vector<unsigned char> der;  // what is sent to clients (PEM files are converted)
    TimePoint this_update;
    TimePoint next_update;
    FileIdentity file;               // the file state it was read from
    bool revoked = false;            // certStatus revoked: stapled, since it is the truth
    TimePoint revocation_time{};     // set when revoked
};

// What the status page shows for one certificate; a copy, owned by the caller.
struct StapleStatus {
    std::string id;
    std::string path;
    bool serving = false;           // a staple is valid at the time asked
    std::shared_ptr<const Staple> staple;  // the current snapshot (may be stale), or nullptr
    std::string last_problem;       // log line of the last rejected file state, "" once a file is accepted
    TimePoint last_check{};         // when the file was last looked at (epoch if never)
    unsigned long long served = 0;  // staples handed to handshakes
};

// The DER encoding of `certificate` (borrowed). Throws std::runtime_error if it
// cannot be exported.
std::vector<unsigned char> certificate_der(gnutls_x509_crt_t certificate);

class StapleSource {
public:
    // `id` is "ServerName:port#index" for log lines; `path` the response file;
    // leaf and issuer are borrowed for the call and copied (the source owns its
    // copies). `check_interval` 0 means refresh_due() is always true. Problems
    // are logged as errors when `must_staple` (clients refuse the certificate
    // without a staple), else as warnings; revoked is always an error. `clock`
    // must outlive the source. Nothing is read until load_initial() or refresh().
    // Throws std::runtime_error if a certificate cannot be copied.
    StapleSource(std::string id, std::string path, gnutls_x509_crt_t leaf, gnutls_x509_crt_t issuer,
                 std::chrono::seconds check_interval, bool must_staple, const Clock& clock, LogSink log);
    StapleSource(const StapleSource&) = delete;
    StapleSource& operator=(const StapleSource&) = delete;

    // First read at startup: like refresh() but always reads the file and waits
    // for a concurrent refresh instead of skipping. Logs the outcome (GTLS0301 on
    // success). Throws only what allocation or the log sink throw.
    void load_initial();
    void load_initial(TimePoint now);

    // Stats the file; only if its identity (device, inode, size, mtime, ctime)
    // changed since the last read, opens and reads it (files over
    // kMaxOcspResponseSize are refused from their size alone), validates it and
    // publishes it only if valid. A valid response (signed, for this
    // certificate, current) whose thisUpdate is newer than the current staple's
    // (or when there is none) and that says revoked replaces the staple at once
    // and is stapled itself; one that says unknown withdraws the staple. While
    // the staple in service says revoked, every call logs it (GTLS0308, error).
    // Any other invalid, unreadable or missing file keeps the current staple
    // (served until its own nextUpdate) and is logged once per file state and
    // reason. A file that changed while being read, or whose response is not yet
    // valid, is read again at the next call. Returns false at once, doing
    // nothing, when another thread is refreshing; true when this call checked.
    // Pacing is the caller's: call it when refresh_due(). Any thread; throws only
    // what allocation or the log sink throw.
    bool refresh();
    bool refresh(TimePoint now);

    // True when check_interval has passed since the last check (or none was
    // made), measured with the clock's monotonic time: stepping the wall clock
    // back or forth neither stops nor hurries checks. Any thread.
    bool refresh_due() const noexcept;
    bool refresh_due(MonotonicPoint now) const noexcept;
    std::chrono::seconds check_interval() const noexcept { return check_interval_; }

    // The handshake path: no I/O, no lock a slow operation holds, no throw. The
    // current staple (good or revoked) if it is valid at `now` (thisUpdate at most
    // kMaxOcspClockSkew ahead, nextUpdate after `now`), else nullptr; counts
    // what it hands out. The caller shares ownership of the immutable snapshot.
    // Any thread.
    std::shared_ptr<const Staple> staple_for_handshake() noexcept;
    std::shared_ptr<const Staple> staple_for_handshake(TimePoint now) noexcept;

    // A snapshot of the state for the status page; does not wait for a refresh.
    // Any thread.
    StapleStatus status() const;
    StapleStatus status(TimePoint now) const;

    // One more certificate (vhost, index) with the same response file, leaf and
    // issuer is served by this source: `id` joins the name in log lines
    // ("a:443#0, b:443#0") and the check interval becomes the shorter one.
    // Only before any thread uses the source (post_config).
    void add_certificate(const std::string& id, std::chrono::seconds check_interval);

    // The certificate ids it serves, comma-separated, as log lines name them.
    // Counts staples in `shared` from now on (an address-free atomic in memory
    // every worker process maps), so status() reports the server's total.
    // Before any handshake; `shared` must outlive the source.
    void count_in(std::atomic<unsigned long long>* shared) noexcept { served_ = shared; }

    // The response file is one mod_gtls fetches itself: a missing file is
    // news (info), not a problem, since the fetcher logs its own failures; and a
    // response without nextUpdate is stapled for `lifetime_without_next_update`
    // from its thisUpdate. Only before load_initial().
    void expect_fetched(std::chrono::seconds lifetime_without_next_update) noexcept {
        fetched_ = true;
        lifetime_without_next_update_ = lifetime_without_next_update;
    }

    // Whether `staple` may be stapled at `now`: thisUpdate at most
    // kMaxOcspClockSkew ahead, nextUpdate after `now`.
    static bool valid_at(const Staple& staple, TimePoint now) noexcept;

    const std::string& id() const noexcept { return id_; }
    const std::string& path() const noexcept { return path_; }
    const std::vector<unsigned char>& leaf_der() const noexcept { return leaf_der_; }
    const std::vector<unsigned char>& issuer_der() const noexcept { return issuer_der_; }

private:
    void check_file(TimePoint now, bool force);
    void check_file_state(TimePoint now, bool force);
    void report_revoked(TimePoint now);
    void report_problem(LogLevel level, const std::string& key, const std::string& message);
    void clear_problem();
    void forget_identity() noexcept { have_identity_ = false; }
    void note_expiry(TimePoint now);

    std::string id_;  // set up before threads use the source (add_certificate)
    const std::string path_;
    const std::vector<unsigned char> leaf_der_;    // parsed only to validate a file
    const std::vector<unsigned char> issuer_der_;
    std::chrono::seconds check_interval_;  // as id_
    const LogLevel problem_level_;
    bool fetched_ = false;
    std::optional<std::chrono::seconds> lifetime_without_next_update_;
    const Clock& clock_;
    LogSink log_;

    SnapshotSlot<Staple> current_;
    std::atomic<TimePoint::rep> last_check_{0};            // wall clock, for the status page
    std::atomic<MonotonicPoint::rep> last_check_monotonic_{0};  // for pacing
    std::atomic<bool> checked_{false};
    std::atomic<unsigned long long> own_served_{0};
    // Where handshakes count staples: own_served_, or a slot in memory shared
    // by all worker processes (count_in).
    std::atomic<unsigned long long>* served_ = &own_served_;

    // Held by the one thread doing file work (refresh takes it with try_lock).
    std::mutex refresh_mutex_;
    // Guarded by refresh_mutex_.
    bool have_identity_ = false;
    FileIdentity identity_;
    std::string last_problem_key_;
    std::weak_ptr<const Staple> expiry_reported_for_;
    std::string revoked_line_;  // GTLS0308 for the current staple when it says revoked

    // Short critical sections only: what status() copies.
    mutable std::mutex status_mutex_;
    std::string last_problem_;  // guarded by status_mutex_
};

}  // namespace gtls
