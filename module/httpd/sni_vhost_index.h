// Which TLS vhost a ClientHello's server name selects, found with one hash
// lookup instead of a walk over every vhost of the address per handshake.
#pragma once

#include "httpd/httpd.h"

#include <cstddef>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace gtls {

class VhostTls;

// One per configuration generation (in GlobalConfig) and process. The answer
// is the one httpd's own name-based lookup gives for a Host of that name: the
// first TLS vhost, in configuration order among those httpd considers for the
// connection's address, whose ServerName, ServerAlias or alias pattern matches.
// The names of an address are gathered the first time a connection to it asks
// and kept for the generation; no lock is held while gathering.
class SniVhostIndex {
public:
    // nullptr when no TLS vhost of the connection's address has the name.
    VhostTls* find(conn_rec* c, std::string_view server_name);

private:
    struct AddressNames {
        struct Entry {
            std::size_t position;  // in httpd's order for the address
            VhostTls* vhost;
        };
        struct Pattern {
            std::size_t position;
            const char* pattern;
            VhostTls* vhost;
        };
        std::unordered_map<std::string, Entry> exact;  // lowercase name -> first vhost
        std::vector<Pattern> patterns;                 // ServerAlias wildcards, in order
    };

    static std::unique_ptr<const AddressNames> gather(conn_rec* c);
    const AddressNames& names_of(conn_rec* c);

    // httpd's name chain for the connection's address (conn_rec::vhost_lookup_data,
    // fixed for a configuration generation) and the local port, by which httpd
    // filters that chain.
    using AddressKey = std::pair<const void*, apr_port_t>;

    std::shared_mutex mutex_;
    std::map<AddressKey, std::unique_ptr<const AddressNames>> by_address_;
};

}  // namespace gtls
