// The TLS sessions of a proxy's connections to its backends, kept so that the
// next connection to the same backend resumes instead of doing a full
// handshake. One per proxying vhost and process; connections of every thread
// share it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace gtls {

// Serialized session data (gnutls_session_get_data2): it holds the session's
// secrets, so it is wiped when dropped.
class SessionData {
public:
    explicit SessionData(std::vector<unsigned char> bytes) : bytes_(std::move(bytes)) {}
    SessionData(const SessionData&) = delete;
    SessionData& operator=(const SessionData&) = delete;
    ~SessionData();
    const std::vector<unsigned char>& bytes() const { return bytes_; }

private:
    std::vector<unsigned char> bytes_;
};

class BackendSessions {
public:
    // At most `capacity` backends are remembered; the one stored longest ago
    // makes room for a new one.
    explicit BackendSessions(std::size_t capacity = 512) : capacity_(capacity) {}

    // Keeps `data` as the session to resume with `backend` (replacing older data).
    void store(const std::string& backend, std::vector<unsigned char> data);
    // The newest session stored for `backend`, or nullptr.
    std::shared_ptr<const SessionData> find(const std::string& backend) const;
    std::size_t size() const;

private:
    struct Entry {
        std::shared_ptr<const SessionData> data;
        std::uint64_t stored;  // store() count when it was stored
    };

    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
    std::uint64_t stores_ = 0;
};

}  // namespace gtls
