#include "httpd/remote_cache.h"

#include <array>
#include <string_view>

namespace gtls {

namespace {

// GnuTLS session data for a server without client certificates is well under this.
constexpr unsigned kMaxSessionData = 16 * 1024;
// Calls waiting for the thread beyond this are dropped: a slow server must not
// make the queue grow without bound.
constexpr std::size_t kMaxQueued = 256;

}  // namespace

bool is_remote_cache_provider(const std::string& provider_name) {
    constexpr std::array<std::string_view, 3> kRemote{"memcache", "redis", "dc"};
    for (std::string_view remote : kRemote) {
        if (provider_name == remote) return true;
    }
    return false;
}

struct RemoteCache::Call {
    enum class Kind { Retrieve, Store, Remove } kind;
    std::string key;
    std::vector<unsigned char> data;  // to store, or what was retrieved
    apr_time_t expiry = 0;
    bool done = false;
    bool found = false;
    std::condition_variable finished;
};

RemoteCache::RemoteCache(const ap_socache_provider_t* provider, ap_socache_instance_t* instance, server_rec* server)
    : provider_(provider), instance_(instance), server_(server) {}

RemoteCache::~RemoteCache() { stop(); }

void RemoteCache::stop() noexcept {
    bool stuck = false;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        stuck = busy_;
    }
    work_.notify_all();
    if (!thread_.joinable()) return;
    // A call the server never answers cannot be interrupted; the process is
    // ending, so the thread is left to end with it.
    if (stuck) {
        thread_.detach();
    } else {
        thread_.join();
    }
}

void RemoteCache::start(apr_pool_t* pchild) {
    thread_ = std::thread([this] { run(); });
    apr_pool_cleanup_register(
        pchild, this,
        [](void* self) -> apr_status_t {
            static_cast<RemoteCache*>(self)->stop();
            return APR_SUCCESS;
        },
        apr_pool_cleanup_null);
}

bool RemoteCache::left_alone(std::chrono::steady_clock::time_point now, bool& report) {
    if (busy_ && now - busy_since_ >= kRemoteCacheWait && now >= paused_until_) {
        paused_until_ = now + kRemoteCachePause;
        report = !outage_reported_;
        outage_reported_ = true;
    }
    return stopping_ || !thread_.joinable() || now < paused_until_ || queue_.size() >= kMaxQueued;
}

void RemoteCache::report_no_answer() {
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, server_,
                 "GTLS0404: session cache server (%s) did not answer within %lld ms; handshakes do without it for "
                 "%lld s at a time until it answers again",
                 provider_->name, static_cast<long long>(kRemoteCacheWait.count()),
                 static_cast<long long>(kRemoteCachePause.count()));
}

void RemoteCache::enqueue(std::shared_ptr<Call> call) {
    bool report = false;
    bool queued = false;
    {
        std::lock_guard lock(mutex_);
        if (!left_alone(std::chrono::steady_clock::now(), report)) {
            queue_.push_back(std::move(call));
            queued = true;
        }
    }
    if (report) report_no_answer();
    if (queued) work_.notify_one();
}

std::optional<std::vector<unsigned char>> RemoteCache::retrieve(std::string key) {
    auto call = std::make_shared<Call>();
    call->kind = Call::Kind::Retrieve;
    call->key = std::move(key);
    bool report = false;
    std::unique_lock lock(mutex_);
    if (left_alone(std::chrono::steady_clock::now(), report)) {
        lock.unlock();
        if (report) report_no_answer();
        return std::nullopt;
    }
    queue_.push_back(call);
    work_.notify_one();
    if (!call->finished.wait_for(lock, kRemoteCacheWait, [&] { return call->done; })) {
        paused_until_ = std::chrono::steady_clock::now() + kRemoteCachePause;
        report = !outage_reported_;
        outage_reported_ = true;
        lock.unlock();
        if (report) report_no_answer();
        return std::nullopt;
    }
    if (!call->found) return std::nullopt;
    return std::move(call->data);
}

void RemoteCache::store(std::string key, std::vector<unsigned char> data, apr_time_t expiry) {
    auto call = std::make_shared<Call>();
    call->kind = Call::Kind::Store;
    call->key = std::move(key);
    call->data = std::move(data);
    call->expiry = expiry;
    enqueue(std::move(call));
}

void RemoteCache::remove(std::string key) {
    auto call = std::make_shared<Call>();
    call->kind = Call::Kind::Remove;
    call->key = std::move(key);
    enqueue(std::move(call));
}

void RemoteCache::failed(apr_status_t rv, const char* what) {
    bool report = false;
    {
        std::lock_guard lock(mutex_);
        paused_until_ = std::chrono::steady_clock::now() + kRemoteCachePause;
        report = !outage_reported_;
        outage_reported_ = true;
    }
    if (report) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, server_,
                     "GTLS0404: session cache server (%s) failed to %s; handshakes do without it for %lld s at a "
                     "time until it answers again",
                     provider_->name, what, static_cast<long long>(kRemoteCachePause.count()));
    }
}

void RemoteCache::answered() {
    bool report = false;
    {
        std::lock_guard lock(mutex_);
        report = outage_reported_;
        outage_reported_ = false;
        paused_until_ = {};
    }
    if (report) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, server_, "GTLS0405: session cache server (%s) answers again",
                     provider_->name);
    }
}

void RemoteCache::serve(Call& call, apr_pool_t* pool) {
    const auto* id = reinterpret_cast<const unsigned char*>(call.key.data());
    const auto id_length = static_cast<unsigned>(call.key.size());
    apr_status_t rv = APR_SUCCESS;
    switch (call.kind) {
        case Call::Kind::Retrieve: {
            std::vector<unsigned char> buffer(kMaxSessionData);
            unsigned size = kMaxSessionData;
            rv = provider_->retrieve(instance_, server_, id, id_length, buffer.data(), &size, pool);
            if (rv == APR_SUCCESS) {
                buffer.resize(size);
                call.data = std::move(buffer);
                call.found = true;
            }
            break;
        }
        case Call::Kind::Store:
            rv = provider_->store(instance_, server_, id, id_length, call.expiry, call.data.data(),
                                  static_cast<unsigned>(call.data.size()), pool);
            break;
        case Call::Kind::Remove:
            rv = provider_->remove(instance_, server_, id, id_length, pool);
            break;
    }
    // Not found is an answer; anything else means the server is not there.
    if (rv == APR_SUCCESS || APR_STATUS_IS_NOTFOUND(rv)) {
        answered();
    } else {
        failed(rv, call.kind == Call::Kind::Retrieve ? "look up a session"
                   : call.kind == Call::Kind::Store  ? "store a session"
                                                     : "remove a session");
    }
}

void RemoteCache::run() {
    apr_pool_t* root = nullptr;
    if (apr_pool_create_unmanaged_ex(&root, nullptr, nullptr) != APR_SUCCESS) return;
    std::unique_lock lock(mutex_);
    while (true) {
        work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) break;
        std::shared_ptr<Call> call = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
        busy_since_ = std::chrono::steady_clock::now();
        lock.unlock();
        apr_pool_t* pool = nullptr;
        if (apr_pool_create(&pool, root) == APR_SUCCESS) {
            try {
                serve(*call, pool);
            } catch (...) {
                // Allocation failure: the call is as good as unanswered.
            }
            apr_pool_destroy(pool);
        }
        lock.lock();
        busy_ = false;
        call->done = true;
        call->finished.notify_all();
    }
    lock.unlock();
    apr_pool_destroy(root);
}

}  // namespace gtls
