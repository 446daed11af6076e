#include "httpd/staple_refresher.h"

#include "httpd/guard.h"
#include "httpd/pool_own.h"
#include "httpd/server_config.h"
#include "httpd/vhost_tls.h"

#include <algorithm>
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

void load_all_staples(server_rec* main_server) {
    for_each_staple(main_server, [](StapleSource& staple) { staple.load_initial(); });
}

void start_staple_refresher(server_rec* main_server, apr_pool_t* pchild) {
    std::vector<StapleSource*> sources;
    for_each_staple(main_server, [&](StapleSource& staple) { sources.push_back(&staple); });
    if (sources.empty()) return;
    pool_own(pchild, std::make_unique<StapleRefresher>(main_server, std::move(sources)));
}

}  // namespace gtls
