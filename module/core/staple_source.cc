#include "core/staple_source.h"

#include "core/file_bytes.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace gtls {

namespace {

// The DER of a certificate: a parsed gnutls_x509_crt_t costs ~19 KB of ASN.1
// tree, the DER about 0.5-1.5 KB, and validation (after a file change) is rare.
OwnedCrt parse_der(const std::vector<unsigned char>& der) {
    gnutls_x509_crt_t raw = nullptr;
    if (gnutls_x509_crt_init(&raw) < 0) throw std::runtime_error("cannot parse a certificate");
    OwnedCrt parsed(raw);
    gnutls_datum_t datum{const_cast<unsigned char*>(der.data()), static_cast<unsigned>(der.size())};
    if (gnutls_x509_crt_import(raw, &datum, GNUTLS_X509_FMT_DER) < 0) throw std::runtime_error("cannot parse a certificate");
    return parsed;
}

FileIdentity identity_of(const struct stat& info) {
    return {static_cast<unsigned long long>(info.st_dev), static_cast<unsigned long long>(info.st_ino),
            static_cast<unsigned long long>(info.st_size),
            static_cast<long long>(info.st_mtim.tv_sec) * 1000000000LL + info.st_mtim.tv_nsec,
            static_cast<long long>(info.st_ctim.tv_sec) * 1000000000LL + info.st_ctim.tv_nsec};
}

std::string identity_key(const FileIdentity& id) {
    return std::to_string(id.device) + ":" + std::to_string(id.inode) + ":" + std::to_string(id.size) + ":" +
           std::to_string(id.mtime_ns) + ":" + std::to_string(id.ctime_ns);
}

}  // namespace

std::vector<unsigned char> certificate_der(gnutls_x509_crt_t certificate) {
    OwnedDatum der;
    if (gnutls_x509_crt_export2(certificate, GNUTLS_X509_FMT_DER, der.out()) < 0) {
        throw std::runtime_error("cannot export a certificate");
    }
    return {der.data(), der.data() + der.size()};
}

StapleSource::StapleSource(std::string id, std::string path, gnutls_x509_crt_t leaf, gnutls_x509_crt_t issuer,
                           std::chrono::seconds check_interval, bool must_staple, const Clock& clock, LogSink log)
    : id_(std::move(id)),
      path_(std::move(path)),
      leaf_der_(certificate_der(leaf)),
      issuer_der_(certificate_der(issuer)),
      check_interval_(check_interval),
      problem_level_(must_staple ? LogLevel::Error : LogLevel::Warning),
      clock_(clock),
      log_(std::move(log)) {}

void StapleSource::add_certificate(const std::string& id, std::chrono::seconds check_interval) {
    id_ += ", " + id;
    check_interval_ = std::min(check_interval_, check_interval);
}

void StapleSource::load_initial() { load_initial(clock_.now()); }

void StapleSource::load_initial(TimePoint now) {
    std::lock_guard lock(refresh_mutex_);
    check_file(now, true);
}

bool StapleSource::refresh() { return refresh(clock_.now()); }

bool StapleSource::refresh(TimePoint now) {
    std::unique_lock lock(refresh_mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return false;  // another thread is at it; it will publish what it finds
    check_file(now, false);
    return true;
}

bool StapleSource::refresh_due() const noexcept { return refresh_due(clock_.monotonic_now()); }

bool StapleSource::refresh_due(MonotonicPoint now) const noexcept {
    if (!checked_.load(std::memory_order_acquire)) return true;
    auto elapsed = now.time_since_epoch().count() - last_check_monotonic_.load(std::memory_order_relaxed);
    return elapsed >= std::chrono::duration_cast<MonotonicPoint::duration>(check_interval_).count();
}

bool StapleSource::valid_at(const Staple& staple, TimePoint now) noexcept {
    return staple.this_update <= now + kMaxOcspClockSkew && now < staple.next_update;
}

std::shared_ptr<const Staple> StapleSource::staple_for_handshake() noexcept {
    return staple_for_handshake(clock_.now());
}

std::shared_ptr<const Staple> StapleSource::staple_for_handshake(TimePoint now) noexcept {
    std::shared_ptr<const Staple> staple = current_.load();
    if (!staple || !valid_at(*staple, now)) return nullptr;
    served_->fetch_add(1, std::memory_order_relaxed);
    return staple;
}

void StapleSource::report_problem(LogLevel level, const std::string& key, const std::string& message) {
    if (key == last_problem_key_) return;  // once per file state and reason
    last_problem_key_ = key;
    {
        std::lock_guard lock(status_mutex_);
        last_problem_ = message;
    }
    log_(level, message);
}

void StapleSource::clear_problem() {
    last_problem_key_.clear();
    std::lock_guard lock(status_mutex_);
    last_problem_.clear();
}

void StapleSource::note_expiry(TimePoint now) {
    std::shared_ptr<const Staple> staple = current_.load();
    if (!staple || now < staple->next_update) return;
    // weak_ptr ownership comparison: no confusion with a later staple at the same address.
    if (!expiry_reported_for_.owner_before(staple) && !staple.owner_before(expiry_reported_for_)) return;
    expiry_reported_for_ = staple;
    log_(problem_level_, "GTLS0305: " + id_ + ": the OCSP response from " + path_ + " reached its nextUpdate " +
                             format_utc(staple->next_update) + "; no longer stapled until the file is renewed");
}

void StapleSource::check_file(TimePoint now, bool force) {
    check_file_state(now, force);
    report_revoked(now);
}

void StapleSource::report_revoked(TimePoint now) {
    std::shared_ptr<const Staple> staple = current_.load();
    if (staple && staple->revoked && valid_at(*staple, now) && !revoked_line_.empty()) {
        log_(LogLevel::Error, revoked_line_);
    }
}

void StapleSource::check_file_state(TimePoint now, bool force) {
    last_check_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
    last_check_monotonic_.store(clock_.monotonic_now().time_since_epoch().count(), std::memory_order_relaxed);
    checked_.store(true, std::memory_order_release);
    const std::string keeping = current_.load() ? "; still stapling the previous response until its nextUpdate"
                                                : "; no staple for this certificate";
    auto cannot_read = [&](int error) {
        forget_identity();
        std::string why = std::strerror(error);
        if (error == EACCES || error == EPERM) {
            why += " (response files are re-read by httpd's worker processes, as httpd's User: make the file "
                   "and its directories readable by that user)";
        }
        if (fetched_ && error == ENOENT) {
            report_problem(LogLevel::Info, "read:" + std::to_string(error),
                           "GTLS0303: " + id_ + ": no OCSP response fetched into " + path_ + " yet" + keeping);
        } else {
            report_problem(problem_level_, "read:" + std::to_string(error),
                           "GTLS0303: " + id_ + ": cannot read OCSP response file " + path_ + ": " + why + keeping);
        }
        note_expiry(now);
    };
    auto not_stapled = [&](const FileIdentity& identity, OcspVerdictCode code, const std::string& reason,
                           bool says_revoked = false) {
        const std::string name(verdict_name(code));
        report_problem(says_revoked ? LogLevel::Error : problem_level_,
                       identity_key(identity) + ":" + name,
                       "GTLS0302: " + id_ + ": OCSP response " + path_ + " not stapled (" + name + "): " + reason +
                           keeping);
        note_expiry(now);
    };

    // A check is one stat(): the file is opened and read only when its state
    // changed since it was last read.
    struct stat seen {};
    if (::stat(path_.c_str(), &seen) != 0) return cannot_read(errno);
    FileIdentity identity = identity_of(seen);
    if (!force && have_identity_ && identity == identity_) return note_expiry(now);

    // False (after logging) when the file cannot be a response: not a regular
    // file (opening a FIFO could block), or too large. The size cap comes
    // first: a large file is refused without reading it.
    auto usable = [&](const struct stat& info, const FileIdentity& state) {
        if (!S_ISREG(info.st_mode)) {
            forget_identity();
            report_problem(problem_level_, "not-regular",
                           "GTLS0303: " + id_ + ": OCSP response file " + path_ + " is not a regular file" + keeping);
            note_expiry(now);
            return false;
        }
        if (state.size > kMaxOcspResponseSize) {
            identity_ = state;
            have_identity_ = true;
            not_stapled(state, OcspVerdictCode::TooLarge,
                        "the file has " + std::to_string(state.size) + " bytes; at most " +
                            std::to_string(kMaxOcspResponseSize) + " are accepted");
            return false;
        }
        return true;
    };
    if (!usable(seen, identity)) return;
    FileDescriptor file(::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    struct stat info {};
    if (file.get() < 0 || ::fstat(file.get(), &info) != 0) return cannot_read(errno);
    // The file may have been replaced between stat() and open(): judge what was opened.
    if (identity_of(info) != identity) {
        identity = identity_of(info);
        if (!usable(info, identity)) return;
    }
    std::vector<unsigned char> bytes;
    if (int error = read_capped(file.get(), kMaxOcspResponseSize, bytes); error != 0) return cannot_read(error);

    // A writer may be at work: what was read is trusted to be one file state only
    // if the file looks the same after the read as before it. Otherwise the
    // identity is not remembered, so the next call reads again however the file
    // changes (or does not) meanwhile. The bytes are validated either way: a
    // half-written response never parses or verifies.
    struct stat after {};
    const bool settled = ::fstat(file.get(), &after) == 0 && identity_of(after) == identity && bytes.size() == identity.size;
    const OwnedCrt leaf = parse_der(leaf_der_);
    const OwnedCrt issuer = parse_der(issuer_der_);
    OcspVerdict verdict = validate_ocsp_response(bytes, leaf.get(), issuer.get(), now, lifetime_without_next_update_);
    // A not-yet-valid response may become valid with time alone: read it again next time.
    if (settled && verdict.code != OcspVerdictCode::NotYetValid) {
        identity_ = identity;
        have_identity_ = true;
    } else {
        forget_identity();
    }
    if (!verdict.good()) {
        if (!settled) {
            log_(LogLevel::Debug, "GTLS0307: " + id_ + ": OCSP response file " + path_ +
                                      " changed while being read; reading it again at the next check");
            return note_expiry(now);
        }
        const bool says_revoked = verdict.cert_status == OcspCertStatus::Revoked;
        if (verdict.code != OcspVerdictCode::Revoked && verdict.code != OcspVerdictCode::Unknown) {
            return not_stapled(identity, verdict.code, verdict.reason, says_revoked);
        }
        // A valid response saying revoked or unknown: the truth, unless the staple
        // in use is newer information.
        const std::shared_ptr<const Staple> current = current_.load();
        if (current && verdict.this_update <= current->this_update) {
            return not_stapled(identity, verdict.code,
                               verdict.reason + "; its thisUpdate " + format_utc(verdict.this_update) +
                                   " is not newer than that of the response in use (" +
                                   format_utc(current->this_update) + ")",
                               says_revoked);
        }
        if (verdict.code == OcspVerdictCode::Unknown) {
            current_.store(nullptr);
            revoked_line_.clear();
            report_problem(problem_level_, identity_key(identity) + ":unknown",
                           "GTLS0302: " + id_ + ": OCSP response " + path_ + " not stapled (unknown): " +
                               verdict.reason +
                               (current ? "; the previous response is withdrawn: no staple for this certificate"
                                        : "; no staple for this certificate"));
            return;
        }
        // RFC 6960 section 2.2: 'The "revoked" state indicates that the certificate
        // has been revoked': clients are told so (as mod_ssl does), and the admin
        // at every check while it lasts.
        auto staple = std::make_shared<const Staple>(Staple{std::move(verdict.der), verdict.this_update,
                                                            verdict.next_update, identity, true,
                                                            verdict.revocation_time});
        current_.store(staple);
        revoked_line_ = "GTLS0308: " + id_ + ": the certificate is REVOKED (since " +
                        format_utc(staple->revocation_time) + "): stapling the OCSP response from " + path_ +
                        " that says so (thisUpdate " + format_utc(staple->this_update) + ", nextUpdate " +
                        format_utc(staple->next_update) + "); clients will refuse the certificate: replace it";
        last_problem_key_.clear();
        std::lock_guard lock(status_mutex_);
        last_problem_ = revoked_line_;
        return;
    }

    // A good answer older than a revoked one in use (a restored backup, say) is
    // not news: the certificate stays revoked.
    if (const std::shared_ptr<const Staple> current = current_.load();
        current && current->revoked && verdict.this_update <= current->this_update) {
        return not_stapled(identity, verdict.code,
                           "its thisUpdate " + format_utc(verdict.this_update) +
                               " is not newer than that of the revoked response in use (" +
                               format_utc(current->this_update) + ")");
    }
    for (const auto& warning : verdict.warnings) {
        log_(LogLevel::Warning, "GTLS0304: " + id_ + ": " + path_ + ": " + warning);
    }
    auto staple = std::make_shared<const Staple>(
        Staple{std::move(verdict.der), verdict.this_update, verdict.next_update, identity});
    current_.store(staple);
    revoked_line_.clear();
    clear_problem();
    log_(LogLevel::Info, "GTLS0301: " + id_ + ": stapling OCSP response from " + path_ + " (thisUpdate " +
                             format_utc(staple->this_update) + ", nextUpdate " + format_utc(staple->next_update) + ")");
}

StapleStatus StapleSource::status() const { return status(clock_.now()); }

StapleStatus StapleSource::status(TimePoint now) const {
    StapleStatus status;
    status.id = id_;
    status.path = path_;
    status.staple = current_.load();
    status.serving = status.staple && valid_at(*status.staple, now);
    if (checked_.load(std::memory_order_acquire)) {
        status.last_check = TimePoint(TimePoint::duration(last_check_.load(std::memory_order_relaxed)));
    }
    status.served = served_->load(std::memory_order_relaxed);
    std::lock_guard lock(status_mutex_);
    status.last_problem = last_problem_;
    return status;
}

}  // namespace gtls
