// Session cache calls to a cache server over the network (memcache, redis),
// made on one thread per worker process so that a handshake never waits for
// the server longer than kRemoteCacheWait. httpd's memcache provider has no
// read timeout at all: a memcached that stops answering (but keeps its
// connections) would otherwise hold every handshake thread forever.
//
// A server that fails or does not answer in time is left alone for
// kRemoteCachePause (handshakes are full ones, sessions are not stored), then
// one handshake asks again; the outage and the recovery are logged once each.
#pragma once

#include "httpd/httpd.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace gtls {

inline constexpr std::chrono::milliseconds kRemoteCacheWait{500};
inline constexpr std::chrono::seconds kRemoteCachePause{10};

// Whether `provider_name` (the socache provider of GnuTLSCache) talks to a
// server over the network.
bool is_remote_cache_provider(const std::string& provider_name);

class RemoteCache {
public:
    // Nothing is started until start(); the provider and instance are borrowed
    // from the configuration generation, which outlives every worker thread.
    RemoteCache(const ap_socache_provider_t* provider, ap_socache_instance_t* instance, server_rec* server);
    ~RemoteCache();
    RemoteCache(const RemoteCache&) = delete;
    RemoteCache& operator=(const RemoteCache&) = delete;

    // child_init: starts this process's caller thread, stopped when `pchild` goes.
    void start(apr_pool_t* pchild);
    // Ends the thread: joins it, or leaves it to end with the process when it
    // is inside a call the server never answers. Idempotent.
    void stop() noexcept;

    // The session stored under `key`, or nothing (absent, paused, no answer in
    // time). Waits at most kRemoteCacheWait. Any thread.
    std::optional<std::vector<unsigned char>> retrieve(std::string key);
    // Queued; never waits. Any thread.
    void store(std::string key, std::vector<unsigned char> data, apr_time_t expiry);
    void remove(std::string key);

private:
    struct Call;
    void run();
    void serve(Call& call, apr_pool_t* pool);
    // Under mutex_: whether calls are to be skipped now (paused, stopping, queue
    // full, or the thread waiting for the server too long, which starts a pause;
    // `report` is set when that outage is news).
    bool left_alone(std::chrono::steady_clock::time_point now, bool& report);
    void report_no_answer();
    void failed(apr_status_t rv, const char* what);
    void answered();
    void enqueue(std::shared_ptr<Call> call);

    const ap_socache_provider_t* provider_;
    ap_socache_instance_t* instance_;
    server_rec* server_;

    std::mutex mutex_;  // guards everything below; never held across a provider call
    std::condition_variable work_;
    std::deque<std::shared_ptr<Call>> queue_;
    bool stopping_ = false;
    bool busy_ = false;  // the thread is inside a provider call
    std::chrono::steady_clock::time_point busy_since_{};
    std::chrono::steady_clock::time_point paused_until_{};
    bool outage_reported_ = false;
    std::thread thread_;
};

}  // namespace gtls
