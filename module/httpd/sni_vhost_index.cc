#include "httpd/sni_vhost_index.h"

#include "core/ascii.h"
#include "httpd/server_config.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <mutex>

namespace gtls {

namespace {

bool server_has_name(const server_rec* s, const char* name) {
    if (s->server_hostname != nullptr && strcasecmp(s->server_hostname, name) == 0) return true;
    if (s->names != nullptr) {
        auto** names = reinterpret_cast<char**>(s->names->elts);
        for (int i = 0; i < s->names->nelts; ++i) {
            if (names[i] != nullptr && strcasecmp(names[i], name) == 0) return true;
        }
    }
    if (s->wild_names != nullptr) {
        auto** patterns = reinterpret_cast<char**>(s->wild_names->elts);
        for (int i = 0; i < s->wild_names->nelts; ++i) {
            if (patterns[i] != nullptr && ap_strcasecmp_match(name, patterns[i]) == 0) return true;
        }
    }
    return false;
}

}  // namespace

VhostTls* SniVhostIndex::find(conn_rec* c, std::string_view server_name) {
    const std::string name = ascii_lowercase(server_name);  // all matching below ignores case anyway
    if (c->vhost_lookup_data == nullptr) {
        // An IP-based vhost: httpd considers the address's own server only.
        VhostTls* tls = server_config(c->base_server).tls;
        return tls != nullptr && server_has_name(c->base_server, name.c_str()) ? tls : nullptr;
    }
    const AddressNames& names = names_of(c);
    std::size_t best = std::numeric_limits<std::size_t>::max();
    VhostTls* found = nullptr;
    if (auto exact = names.exact.find(name); exact != names.exact.end()) {
        best = exact->second.position;
        found = exact->second.vhost;
    }
    for (const auto& pattern : names.patterns) {
        if (pattern.position >= best) break;
        if (ap_strcasecmp_match(name.c_str(), pattern.pattern) == 0) return pattern.vhost;
    }
    return found;
}

const SniVhostIndex::AddressNames& SniVhostIndex::names_of(conn_rec* c) {
    const AddressKey address{c->vhost_lookup_data, c->local_addr->port};
    {
        std::shared_lock lock(mutex_);
        if (auto known = by_address_.find(address); known != by_address_.end()) return *known->second;
    }
    std::unique_ptr<const AddressNames> gathered = gather(c);
    std::unique_lock lock(mutex_);
    // Another thread may have gathered the same address meanwhile; either copy is right.
    auto [entry, inserted] = by_address_.try_emplace(address, std::move(gathered));
    return *entry->second;
}

std::unique_ptr<const SniVhostIndex::AddressNames> SniVhostIndex::gather(conn_rec* c) {
    struct Gathering {
        AddressNames names;
        std::size_t position = 0;
    } gathering;
    ap_vhost_iterate_given_conn(
        c,
        [](void* baton, conn_rec*, server_rec* s) -> int {
            auto& g = *static_cast<Gathering*>(baton);
            const std::size_t position = g.position++;
            VhostTls* tls = server_config(s).tls;
            if (tls == nullptr) return 0;
            auto add = [&](const char* name) {
                if (name != nullptr) g.names.exact.try_emplace(ascii_lowercase(name), AddressNames::Entry{position, tls});
            };
            add(s->server_hostname);
            if (s->names != nullptr) {
                auto** names = reinterpret_cast<char**>(s->names->elts);
                for (int i = 0; i < s->names->nelts; ++i) add(names[i]);
            }
            if (s->wild_names != nullptr) {
                auto** patterns = reinterpret_cast<char**>(s->wild_names->elts);
                for (int i = 0; i < s->wild_names->nelts; ++i) {
                    if (patterns[i] != nullptr) g.names.patterns.push_back({position, patterns[i], tls});
                }
            }
            return 0;  // visit them all
        },
        &gathering);
    return std::make_unique<const AddressNames>(std::move(gathering.names));
}

}  // namespace gtls
