#include "httpd/staple_refresher.h"

#include "httpd/guard.h"
#include "httpd/pool_own.h"
#include "httpd/server_config.h"
#include "httpd/vhost_tls.h"

#include <apr_shm.h>

#include <algorithm>
#include <atomic>
#include <new>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace gtls {

namespace {

// Each distinct source once, although vhosts may share one.
template <typename Visit>
void for_each_staple(server_rec* main_server, Visit&& visit) {
    std::set<const StapleSource*> seen;
    for (server_rec* s = main_server; s != nullptr; s = s->next) {
        VhostTls* tls = server_config(s).tls;
        if (tls == nullptr) continue;
        for (const auto& staple : tls->staples()) {
            if (staple && seen.insert(staple.get()).second) visit(*staple);
        }
    }
}

class StapleRefresher {
public:
    StapleRefresher(server_rec* s, std::vector<StapleSource*> sources) : server_(s), sources_(std::move(sources)) {
        auto shortest = std::chrono::seconds(1);
        for (auto* source : sources_) shortest = std::min(shortest, source->check_interval());
        // An interval of 0 means "as often as we can afford": every 250 ms.
        tick_ = std::max<std::chrono::milliseconds>(shortest, std::chrono::milliseconds(250));
        thread_ = std::thread([this] { run(); });
    }

    ~StapleRefresher() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

private:
    void run() noexcept {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            lock.unlock();
            for (auto* source : sources_) {
                guard(server_, "OCSP staple refresh", 0, [&] {
                    if (source->refresh_due()) source->refresh();
                    return 0;
                });
            }
            lock.lock();
            wake_.wait_for(lock, tick_, [this] { return stopping_; });
        }
    }

    server_rec* server_;
    std::vector<StapleSource*> sources_;
    std::chrono::milliseconds tick_{1000};
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace

void load_all_staples(server_rec* main_server, apr_pool_t* pconf) {
    std::vector<StapleSource*> sources;
    for_each_staple(main_server, [&](StapleSource& staple) {
        staple.load_initial();
        sources.push_back(&staple);
    });
    if (sources.empty()) return;
    // One counter per source in anonymous shared memory, mapped before the
    // workers fork, so the status page shows the whole server's count.
    using Counter = std::atomic<unsigned long long>;
    static_assert(Counter::is_always_lock_free, "counters shared between processes must be lock-free");
    apr_shm_t* shm = nullptr;
    apr_status_t rv = apr_shm_create(&shm, sources.size() * sizeof(Counter), nullptr, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, main_server,
                     "GTLS0309: no shared memory for staple counters; server-status counts per process");
        return;
    }
    auto* counters = static_cast<Counter*>(apr_shm_baseaddr_get(shm));
    for (std::size_t i = 0; i < sources.size(); ++i) sources[i]->count_in(new (&counters[i]) Counter(0));
}

void start_staple_refresher(server_rec* main_server, apr_pool_t* pchild) {
    std::vector<StapleSource*> sources;
    for_each_staple(main_server, [&](StapleSource& staple) { sources.push_back(&staple); });
    if (sources.empty()) return;
    pool_own(pchild, std::make_unique<StapleRefresher>(main_server, std::move(sources)));
}

}  // namespace gtls
