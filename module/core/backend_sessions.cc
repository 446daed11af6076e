#include "core/backend_sessions.h"

#include <gnutls/gnutls.h>

#include <algorithm>
#include <utility>

namespace gtls {

SessionData::~SessionData() {
    if (!bytes_.empty()) gnutls_memset(bytes_.data(), 0, bytes_.size());
}

void BackendSessions::store(const std::string& backend, std::vector<unsigned char> data) {
    auto session = std::make_shared<const SessionData>(std::move(data));
    std::shared_ptr<const SessionData> dropped;  // freed (and wiped) outside the lock
    std::lock_guard lock(mutex_);
    const std::uint64_t now = ++stores_;
    if (auto it = entries_.find(backend); it != entries_.end()) {
        dropped = std::exchange(it->second.data, std::move(session));
        it->second.stored = now;
        return;
    }
    if (capacity_ == 0) return;
    if (entries_.size() >= capacity_) {
        auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                       [](const auto& a, const auto& b) { return a.second.stored < b.second.stored; });
        dropped = std::move(oldest->second.data);
        entries_.erase(oldest);
    }
    entries_.emplace(backend, Entry{std::move(session), now});
}

std::shared_ptr<const SessionData> BackendSessions::find(const std::string& backend) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(backend);
    return it == entries_.end() ? nullptr : it->second.data;
}

std::size_t BackendSessions::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

}  // namespace gtls
