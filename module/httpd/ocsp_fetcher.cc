#include "httpd/ocsp_fetcher.h"

#include "core/clock.h"
#include "core/file_bytes.h"
#include "fetch/atomic_file.h"
#include "fetch/response_refresher.h"
#include "httpd/guard.h"
#include "httpd/pool_own.h"
#include "httpd/server_config.h"
#include "httpd/vhost_tls.h"

#include <mod_watchdog.h>
#include <unixd.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <span>
#include <random>
#include <string>
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

class OcspFetcher {
public:
    explicit OcspFetcher(std::vector<FetchJob> jobs) : jobs_(std::move(jobs)), random_(std::random_device{}()) {}

    void tick() {
        const SteadyTime now = std::chrono::steady_clock::now();
        for (FetchJob& job : jobs_) {
            if (now >= job.next) run(job, now);
        }
    }

private:
    void run(FetchJob& job, SteadyTime now) {
        RefreshSettings settings;
        settings.url = job.staple.responder;
        settings.nonce = job.staple.nonce;
        settings.timeout = job.staple.timeout;
        settings.retries = 0;  // retried by the schedule below, which backs off
        const RefreshOutcome outcome =
            refresh_response_file(job.staple.chain_path, job.staple.response_file, settings, random_);
        const bool failed = outcome.status == "failed" || outcome.status == "revoked";
        if (failed) {
            ++job.failures;
            auto wait = kFirstRetry * (1 << std::min(job.failures - 1, 16));
            job.next = now + std::min<std::chrono::seconds>(wait, job.staple.failure_timeout);
        } else {
            job.failures = 0;
            job.next = now + kRecheck;
        }
        report(job, outcome);
        const auto wall_now = std::chrono::system_clock::now();
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

    static void report(FetchJob& job, const RefreshOutcome& outcome) {
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

void start_ocsp_fetcher(server_rec* main_server, apr_pool_t* pconf) {
    std::vector<FetchJob> jobs;
    std::set<std::string> seen;  // one job per response file (a certificate several vhosts share)
    for (server_rec* s = main_server; s != nullptr; s = s->next) {
        const VhostTls* tls = server_config(s).tls;
        if (tls == nullptr) continue;
        for (const FetchedStaple& staple : tls->fetched_staples()) {
            if (!seen.insert(staple.response_file).second) continue;
            FetchJob& job = jobs.emplace_back();
            job.staple = staple;
            job.server = s;
        }
    }
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
