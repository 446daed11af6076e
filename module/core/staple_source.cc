#include "core/staple_source.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gtls {

namespace {

OwnedCrt copy_certificate(gnutls_x509_crt_t source) {
    OwnedDatum der;
    gnutls_x509_crt_t raw = nullptr;
    if (gnutls_x509_crt_export2(source, GNUTLS_X509_FMT_DER, der.out()) < 0 || gnutls_x509_crt_init(&raw) < 0) {
        throw std::runtime_error("cannot copy a certificate");
    }
    OwnedCrt copy(raw);
    if (gnutls_x509_crt_import(raw, &der.get(), GNUTLS_X509_FMT_DER) < 0) {
        throw std::runtime_error("cannot copy a certificate");
    }
    return copy;
}

struct Descriptor {
    int fd;
    ~Descriptor() { if (fd >= 0) ::close(fd); }
};

// Reads at most kMaxOcspResponseSize + 1 bytes, so an oversized file is recognised
// without reading all of it.
bool read_capped(int fd, std::vector<unsigned char>& out, int& error) {
    out.resize(kMaxOcspResponseSize + 1);
    std::size_t total = 0;
    while (total < out.size()) {
        ssize_t n = ::read(fd, out.data() + total, out.size() - total);
        if (n < 0) {
            if (errno == EINTR) continue;
            error = errno;
            return false;
        }
        if (n == 0) break;
        total += static_cast<std::size_t>(n);
    }
    out.resize(total);
    return true;
}

}  // namespace

StapleSource::StapleSource(std::string id, std::string path, gnutls_x509_crt_t leaf, gnutls_x509_crt_t issuer,
                           std::chrono::seconds check_interval, bool must_staple, const Clock& clock, LogSink log)
    : id_(std::move(id)),
      path_(std::move(path)),
      leaf_(copy_certificate(leaf)),
      issuer_(copy_certificate(issuer)),
      check_interval_(check_interval),
      problem_level_(must_staple ? LogLevel::Error : LogLevel::Warning),
      clock_(clock),
      log_(std::move(log)) {}

void StapleSource::load_initial() {
    std::lock_guard lock(refresh_mutex_);
    check_file(true);
}

void StapleSource::refresh() {
    std::unique_lock lock(refresh_mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return;  // another thread is at it; it will publish what it finds
    check_file(false);
}

bool StapleSource::refresh_due() const noexcept {
    auto elapsed = clock_.now().time_since_epoch().count() - last_check_.load(std::memory_order_relaxed);
    return elapsed >= std::chrono::duration_cast<TimePoint::duration>(check_interval_).count();
}

bool StapleSource::valid_at(const Staple& staple, TimePoint now) const noexcept {
    return staple.this_update <= now + kMaxOcspClockSkew && now < staple.next_update;
}

std::shared_ptr<const Staple> StapleSource::staple_for_handshake() noexcept {
    std::shared_ptr<const Staple> staple = current_.load(std::memory_order_acquire);
    if (!staple || !valid_at(*staple, clock_.now())) return nullptr;
    served_.fetch_add(1, std::memory_order_relaxed);
    return staple;
}

void StapleSource::report_problem(LogLevel level, const std::string& key, const std::string& message) {
    if (key == last_problem_key_) return;  // once per file state and reason
    last_problem_key_ = key;
    last_problem_ = message;
    log_(level, message);
}

void StapleSource::note_expiry(TimePoint now) {
    std::shared_ptr<const Staple> staple = current_.load();
    if (!staple || now < staple->next_update || expiry_reported_for_ == staple.get()) return;
    expiry_reported_for_ = staple.get();
    log_(problem_level_, "GTLS0305: " + id_ + ": the OCSP response from " + path_ + " reached its nextUpdate " +
                                format_utc(staple->next_update) + "; no longer stapled until the file is renewed");
}

void StapleSource::check_file(bool force) {
    const TimePoint now = clock_.now();
    last_check_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
    const std::string keeping = current_.load() ? "; still stapling the previous response until its nextUpdate"
                                                : "; no staple for this certificate";

    Descriptor file{::open(path_.c_str(), O_RDONLY | O_CLOEXEC)};
    struct stat info {};
    if (file.fd < 0 || ::fstat(file.fd, &info) != 0) {
        int error = errno;
        have_identity_ = false;
        std::string why = std::strerror(error);
        if (error == EACCES) {
            why += " (response files are re-read by httpd's worker processes, as httpd's User: make the file "
                   "and its directories readable by that user)";
        }
        report_problem(problem_level_, "open:" + std::to_string(error),
                       "GTLS0303: " + id_ + ": cannot read OCSP response file " + path_ + ": " + why + keeping);
        note_expiry(now);
        return;
    }
    FileIdentity identity{static_cast<unsigned long long>(info.st_dev), static_cast<unsigned long long>(info.st_ino),
                          static_cast<unsigned long long>(info.st_size),
                          static_cast<long long>(info.st_mtim.tv_sec) * 1000000000LL + info.st_mtim.tv_nsec,
                          static_cast<long long>(info.st_ctim.tv_sec) * 1000000000LL + info.st_ctim.tv_nsec};
    if (!force && have_identity_ && identity == identity_) {
        note_expiry(now);
        return;
    }

    std::vector<unsigned char> bytes;
    int read_error = 0;
    if (!S_ISREG(info.st_mode)) {
        report_problem(problem_level_, "not-regular", "GTLS0303: " + id_ + ": " + path_ + " is not a regular file" + keeping);
        return;
    }
    if (!read_capped(file.fd, bytes, read_error)) {
        report_problem(problem_level_, "read:" + std::to_string(read_error),
                       "GTLS0303: " + id_ + ": cannot read OCSP response file " + path_ + ": " +
                           std::strerror(read_error) + keeping);
        return;
    }
    // Remember the state only after reading it, so a file caught mid-write is
    // read again once the writer changes it further.
    identity_ = identity;
    have_identity_ = true;

    OcspVerdict verdict = validate_ocsp_response(bytes, leaf_.get(), issuer_.get(), now);
    if (!verdict.good()) {
        std::string key = std::to_string(identity.inode) + ":" + std::to_string(identity.size) + ":" +
                          std::to_string(identity.mtime_ns) + ":" + std::to_string(identity.ctime_ns) + ":" +
                          std::string(verdict_name(verdict.code));
        LogLevel level = verdict.code == OcspVerdictCode::Revoked ? LogLevel::Error : problem_level_;
        report_problem(level, key,
                       "GTLS0302: " + id_ + ": OCSP response " + path_ + " not stapled (" +
                           std::string(verdict_name(verdict.code)) + "): " + verdict.reason + keeping);
        note_expiry(now);
        return;
    }
    for (const auto& warning : verdict.warnings) {
        log_(LogLevel::Warning, "GTLS0304: " + id_ + ": " + path_ + ": " + warning);
    }
    auto staple = std::make_shared<const Staple>(Staple{std::move(verdict.der), verdict.this_update, verdict.next_update});
    current_.store(staple, std::memory_order_release);
    last_problem_key_.clear();
    last_problem_.clear();
    log_(LogLevel::Info, "GTLS0301: " + id_ + ": stapling OCSP response from " + path_ + " (thisUpdate " +
                             format_utc(staple->this_update) + ", nextUpdate " + format_utc(staple->next_update) + ")");
}

StapleStatus StapleSource::status() const {
    StapleStatus status;
    status.id = id_;
    status.path = path_;
    status.staple = current_.load();
    status.serving = status.staple && valid_at(*status.staple, clock_.now());
    status.last_check = TimePoint(TimePoint::duration(last_check_.load()));
    status.served = served_.load();
    std::lock_guard lock(refresh_mutex_);
    status.last_problem = last_problem_;
    return status;
}

}  // namespace gtls
