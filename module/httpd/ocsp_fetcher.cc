#include "httpd/ocsp_fetcher.h"

#include "core/clock.h"
#include "core/file_bytes.h"
#include "fetch/atomic_file.h"
#include "fetch/response_refresher.h"
#include "httpd/guard.h"
#include "httpd/pool_own.h"
#include "httpd/server_config.h"
#include "httpd/vhost_tls.h"

#include <mod_unixd.h>
#include <mod_watchdog.h>
#include <unixd.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <span>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace gtls {

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// How often a good file is looked at again: the refresh policy decides from
// its lifetime whether to ask the responder, which costs one file read.
constexpr std::chrono::seconds kRecheck{60};
// The first retry after a failure; each further one waits twice as long, up to
// GnuTLSOCSPFailureTimeout.
constexpr std::chrono::seconds kFirstRetry{5};

struct FetchJob {
    FetchedStaple staple;
    server_rec* server = nullptr;
    SteadyTime next{};
    int failures = 0;
    std::string last_report;  // logged once per distinct outcome
    FetchState state;
    // GnuTLSOCSPCacheTimeout: when the responder is asked again, however fresh the file.
    std::chrono::system_clock::time_point ask_again{};
    unsigned long long served_at_contact = 0;  // staples handed out when the responder last answered
};

std::string state_file(const std::string& response_file) { return response_file + ".state"; }

void write_state(const FetchJob& job) {
    const FetchState& state = job.state;
    std::string error = state.error;
    std::replace(error.begin(), error.end(), '\n', ' ');
    const std::string text = "responder=" + state.responder + "\nlast_contact=" + state.last_contact +
                             "\nnext_check=" + state.next_check + "\nresult=" + state.result + "\nerror=" + error + "\n";
    replace_file_atomically(state_file(job.staple.response_file),
                            std::span(reinterpret_cast<const unsigned char*>(text.data()), text.size()), 0644);
}

unsigned long long staples_served(const FetchJob& job) {
    return job.staple.source != nullptr ? job.staple.source->status().served : 0;
}

// mod_gnutls's schedule: GnuTLSOCSPCacheTimeout after an answer, less a random
// share of GnuTLSOCSPFuzzTime (between half and all of it, at most half the
// timeout), so that servers started together do not ask together.
std::chrono::system_clock::time_point next_ask(const FetchJob& job, std::chrono::system_clock::time_point answered,
                                               std::mt19937_64& random) {
    const auto fuzz = std::min(job.staple.fuzz_time, job.staple.cache_timeout / 2);
    std::uniform_int_distribution<long long> draw(fuzz.count() / 2, fuzz.count());
    return answered + job.staple.cache_timeout - std::chrono::seconds(draw(random));
}

void report(FetchJob& job, const RefreshOutcome& outcome) {
    const std::string key = outcome.status + "\n" + outcome.detail;
    if (outcome.status == "fetched") {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, job.server, "GTLS0310: %s: fetched the OCSP response into %s: %s",
                     job.staple.id.c_str(), job.staple.response_file.c_str(), outcome.detail.c_str());
    } else if (key != job.last_report) {
        if (outcome.status == "revoked") {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, job.server, "GTLS0312: %s: %s", job.staple.id.c_str(),
                         outcome.detail.c_str());
        } else if (outcome.status == "failed") {
            const bool nothing_to_staple = outcome.severity == RefreshSeverity::NoValidFile;
            ap_log_error(APLOG_MARK, nothing_to_staple && job.staple.must_staple ? APLOG_ERR : APLOG_WARNING, 0,
                         job.server, "GTLS0311: %s: cannot fetch the OCSP response from %s: %s; %s",
                         job.staple.id.c_str(), outcome.url.empty() ? "-" : outcome.url.c_str(),
                         outcome.detail.c_str(),
                         nothing_to_staple ? "nothing is stapled until a fetch succeeds"
                                           : ("the response on disk is stapled until its nextUpdate " +
                                              outcome.next_update).c_str());
        } else {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, job.server, "GTLS0313: %s: OCSP response %s: %s",
                         job.staple.id.c_str(), outcome.status.c_str(), outcome.detail.c_str());
        }
    }
    job.last_report = key;
}

// One look at one response file: asks the responder if the file needs it
// (missing, invalid, half its lifetime gone, GnuTLSOCSPCacheTimeout passed)
// and schedules the next look. `startup_only` asks only when the file holds no
// good response (the start, before any worker serves).
void run_job(FetchJob& job, SteadyTime now, std::mt19937_64& random, bool startup_only) {
    const auto wall_now = std::chrono::system_clock::now();
    const unsigned long long served = staples_served(job);
    // GnuTLSOCSPAutoRefresh Off: responses nobody was served since the last
    // answer are asked for only when nothing good is left.
    const bool in_use = job.staple.auto_refresh || served > job.served_at_contact;
    RefreshSettings settings;
    settings.url = job.staple.responder;
    settings.nonce = job.staple.nonce;
    settings.timeout = job.staple.timeout;
    settings.retries = 0;  // retried by the schedule below, which backs off
    settings.lifetime_without_next_update = job.staple.cache_timeout;
    settings.only_without_good_file = startup_only || !in_use;
    settings.force = !settings.only_without_good_file && wall_now >= job.ask_again;
    const RefreshOutcome outcome =
        refresh_response_file(job.staple.chain_path, job.staple.response_file, settings, random);
    const bool failed = outcome.status == "failed" || outcome.status == "revoked";
    const bool answered = outcome.status == "fetched" || outcome.status == "kept";
    if (answered) {
        job.ask_again = next_ask(job, wall_now, random);
        job.served_at_contact = served;
    }
    if (failed) {
        ++job.failures;
        auto wait = kFirstRetry * (1 << std::min(job.failures - 1, 16));
        job.next = now + std::min<std::chrono::seconds>(wait, job.staple.failure_timeout);
    } else {
        job.failures = 0;
        const auto until_ask = std::chrono::duration_cast<std::chrono::seconds>(job.ask_again - wall_now);
        job.next = now + std::clamp<std::chrono::seconds>(until_ask, std::chrono::seconds(1), kRecheck);
    }
    report(job, outcome);
    job.state.responder = outcome.url.empty() ? job.staple.responder : outcome.url;
    if (outcome.status != "fresh") job.state.last_contact = format_utc(wall_now);
    job.state.next_check = format_utc(wall_now + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                                     job.next - now));
    job.state.result = outcome.status;
    if (outcome.status != "fresh") job.state.error = failed ? outcome.detail : "";
    try {
        write_state(job);
    } catch (const std::exception& e) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, job.server, "GTLS0313: %s: %s", job.staple.id.c_str(), e.what());
    }
}

class OcspFetcher {
public:
    explicit OcspFetcher(std::vector<FetchJob> jobs) : jobs_(std::move(jobs)), random_(std::random_device{}()) {}

    void tick() {
        const SteadyTime now = std::chrono::steady_clock::now();
        for (FetchJob& job : jobs_) {
            if (now >= job.next) run_job(job, now, random_, false);
        }
    }

private:
    std::vector<FetchJob> jobs_;
    std::mt19937_64 random_;
};

apr_status_t watchdog_callback(int state, void* data, apr_pool_t*) {
    auto* fetcher = static_cast<OcspFetcher*>(data);
    if (state != AP_WATCHDOG_STATE_RUNNING) return APR_SUCCESS;
    return guard(ap_server_conf, "OCSP fetcher", APR_SUCCESS, [&] {
        fetcher->tick();
        return APR_SUCCESS;
    });
}

// The parent creates the directory as root and hands it to httpd's User, who
// fetches; workers (the same User) read from it.
bool prepare_directory(server_rec* main_server, const std::string& directory, apr_pool_t* pool) {
    apr_status_t rv = apr_dir_make_recursive(directory.c_str(), APR_FPROT_OS_DEFAULT, pool);
    if (rv == APR_SUCCESS && ::geteuid() == 0 &&
        ::chown(directory.c_str(), ap_unixd_config.user_id, ap_unixd_config.group_id) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
    }
    if (rv == APR_SUCCESS && ::chmod(directory.c_str(), 0755) != 0) rv = APR_FROM_OS_ERROR(errno);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, main_server,
                     "GTLS0314: GnuTLSOCSPResponseDir %s cannot be created or handed to httpd's User; "
                     "responses are not fetched", directory.c_str());
        return false;
    }
    return true;
}

}  // namespace

std::optional<FetchState> read_fetch_state(const std::string& response_file) {
    std::vector<unsigned char> bytes;
    try {
        bytes = read_file_bytes(state_file(response_file), 64 * 1024);
    } catch (const std::runtime_error&) {
        return std::nullopt;
    }
    FetchState state;
    std::string text(bytes.begin(), bytes.end());
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        const std::string line = text.substr(at, end - at);
        at = end + 1;
        const std::size_t equals = line.find('=');
        if (equals == std::string::npos) continue;
        const std::string key = line.substr(0, equals), value = line.substr(equals + 1);
        if (key == "responder") state.responder = value;
        else if (key == "last_contact") state.last_contact = value;
        else if (key == "next_check") state.next_check = value;
        else if (key == "result") state.result = value;
        else if (key == "error") state.error = value;
    }
    return state;
}

namespace {

// One job per response file (a certificate several vhosts share). The
// responder is asked again GnuTLSOCSPCacheTimeout after the file was last
// written, or at once when there is none.
std::vector<FetchJob> collect_jobs(server_rec* main_server) {
    std::vector<FetchJob> jobs;
    std::set<std::string> seen;
    std::mt19937_64 random(std::random_device{}());
    for (server_rec* s = main_server; s != nullptr; s = s->next) {
        const VhostTls* tls = server_config(s).tls;
        if (tls == nullptr) continue;
        for (const FetchedStaple& staple : tls->fetched_staples()) {
            if (!seen.insert(staple.response_file).second) continue;
            FetchJob& job = jobs.emplace_back();
            job.staple = staple;
            job.server = s;
            if (std::optional<FetchState> previous = read_fetch_state(staple.response_file)) job.state = *previous;
            struct stat written {};
            if (::stat(staple.response_file.c_str(), &written) == 0) {
                job.ask_again = next_ask(job, std::chrono::system_clock::from_time_t(written.st_mtime), random);
            }
        }
    }
    return jobs;
}

// Waits for `child` until `deadline`, then kills it.
void wait_for(pid_t child, SteadyTime deadline, server_rec* main_server) {
    while (true) {
        int status = 0;
        const pid_t done = ::waitpid(child, &status, WNOHANG);
        if (done == child || (done < 0 && errno != EINTR)) return;
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(child, SIGKILL);
            ::waitpid(child, &status, 0);
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, main_server,
                         "GTLS0311: the OCSP responders did not all answer within the socket timeout at startup; "
                         "the fetcher keeps asking in the background");
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

// At most this many responders are asked at once at startup.
constexpr std::size_t kStartupFetchThreads = 8;

}  // namespace

void fetch_missing_responses(server_rec* main_server, apr_pool_t* pconf) {
    std::vector<FetchJob> jobs = collect_jobs(main_server);
    if (jobs.empty()) return;
    if (!prepare_directory(main_server, global_config(main_server).ocsp_response_dir, pconf)) return;
    std::chrono::seconds longest{0};
    for (const FetchJob& job : jobs) longest = std::max(longest, job.staple.timeout);
    // A child, so that what responders send is never parsed as root, and so
    // that a stuck responder costs the start at most the socket timeout.
    const pid_t child = ::fork();
    if (child < 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, APR_FROM_OS_ERROR(errno), main_server,
                     "GTLS0311: cannot start the OCSP fetch at startup; the fetcher asks in the background");
        return;
    }
    if (child == 0) {
        // As the workers (and the fetcher among them) run: as User, unless
        // httpd has none configured (then it stays who started it).
        const bool has_user = ap_unixd_config.user_id != static_cast<uid_t>(-1);
        if (::geteuid() == 0 && has_user && ap_unixd_setup_child() != 0) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, main_server,
                         "GTLS0311: cannot switch to httpd's User for the OCSP fetch at startup; the fetcher asks "
                         "in the background");
            ::_exit(1);
        }
        std::atomic<std::size_t> next_job{0};
        auto work = [&] {
            std::mt19937_64 random(std::random_device{}());
            for (std::size_t i = next_job++; i < jobs.size(); i = next_job++) {
                try {
                    run_job(jobs[i], std::chrono::steady_clock::now(), random, true);
                } catch (...) {
                    // Allocation failure: the fetcher in the background tries again.
                }
            }
        };
        std::vector<std::thread> threads;
        for (std::size_t i = 1; i < std::min(jobs.size(), kStartupFetchThreads); ++i) threads.emplace_back(work);
        work();
        for (std::thread& thread : threads) thread.join();
        ::_exit(0);
    }
    // Every job asks at most once, each bounded by its socket timeout.
    const auto rounds = static_cast<long>((jobs.size() + kStartupFetchThreads - 1) / kStartupFetchThreads);
    wait_for(child, std::chrono::steady_clock::now() + longest * rounds + std::chrono::seconds(1), main_server);
}

void start_ocsp_fetcher(server_rec* main_server, apr_pool_t* pconf) {
    std::vector<FetchJob> jobs = collect_jobs(main_server);
    if (jobs.empty()) return;
    const std::string& directory = global_config(main_server).ocsp_response_dir;
    if (!prepare_directory(main_server, directory, pconf)) return;
    auto* get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    auto* register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    ap_watchdog_t* watchdog = nullptr;
    apr_status_t rv = get_instance == nullptr || register_callback == nullptr
                          ? APR_ENOTIMPL
                          : get_instance(&watchdog, "_gtls_ocsp_", 0, 1, pconf);
    auto* fetcher = pool_own(pconf, std::make_unique<OcspFetcher>(std::move(jobs)));
    if (rv == APR_SUCCESS) rv = register_callback(watchdog, apr_time_from_sec(1), fetcher, watchdog_callback);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, main_server,
                     "GTLS0314: the OCSP fetcher cannot run (mod_watchdog unavailable); responses are not fetched");
    }
}

}  // namespace gtls
