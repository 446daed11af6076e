#include "httpd/server_config.h"

#include "httpd/pool_own.h"

#include <memory>
#include <new>
#include <type_traits>

namespace gtls {

namespace {

// One GlobalConfig per configuration generation, reached from any server_rec of
// it through the ServerConfig chain (merge copies the pointer).
struct ServerConfigHolder {
    ServerConfig config;
    GlobalConfig* global = nullptr;
};

ServerConfigHolder& holder(server_rec* s) {
    return *static_cast<ServerConfigHolder*>(ap_get_module_config(s->module_config, &gtls_module));
}

template <typename T>
std::optional<T> merged(const std::optional<T>& base, const std::optional<T>& add) {
    return add.has_value() ? add : base;
}

}  // namespace

ServerConfig& server_config(server_rec* s) { return holder(s).config; }
GlobalConfig& global_config(server_rec* s) { return *holder(s).global; }

void* create_server_config(apr_pool_t* pool, server_rec* s) {
    auto* created = pool_own(pool, std::make_unique<ServerConfigHolder>());
    if (!s->is_virtual) {
        created->global = pool_own(pool, std::make_unique<GlobalConfig>());
    }
    return created;
}

void* merge_server_config(apr_pool_t* pool, void* base_ptr, void* add_ptr) {
    const auto& base = *static_cast<ServerConfigHolder*>(base_ptr);
    const auto& add = *static_cast<ServerConfigHolder*>(add_ptr);
    auto merged_holder = std::make_unique<ServerConfigHolder>();
    merged_holder->global = base.global;
    ServerConfig& out = merged_holder->config;
    out.enabled = merged(base.config.enabled, add.config.enabled);
    const bool vhost_names_certificates = !add.config.certificate_files.empty() || !add.config.key_files.empty();
    const ServerConfig& certificate_source = vhost_names_certificates ? add.config : base.config;
    out.certificate_files = certificate_source.certificate_files;
    out.key_files = certificate_source.key_files;
    out.ocsp_response_files = !add.config.ocsp_response_files.empty() || vhost_names_certificates
                                  ? add.config.ocsp_response_files
                                  : base.config.ocsp_response_files;
    out.ocsp_stapling = merged(base.config.ocsp_stapling, add.config.ocsp_stapling);
    out.ocsp_check_interval = merged(base.config.ocsp_check_interval, add.config.ocsp_check_interval);
    out.ocsp_responder_url = merged(base.config.ocsp_responder_url, add.config.ocsp_responder_url);
    out.ocsp_check_nonce = merged(base.config.ocsp_check_nonce, add.config.ocsp_check_nonce);
    out.ocsp_socket_timeout = merged(base.config.ocsp_socket_timeout, add.config.ocsp_socket_timeout);
    out.ocsp_failure_timeout = merged(base.config.ocsp_failure_timeout, add.config.ocsp_failure_timeout);
    out.ocsp_cache_timeout = merged(base.config.ocsp_cache_timeout, add.config.ocsp_cache_timeout);
    out.ocsp_fuzz_time = merged(base.config.ocsp_fuzz_time, add.config.ocsp_fuzz_time);
    out.ocsp_auto_refresh = merged(base.config.ocsp_auto_refresh, add.config.ocsp_auto_refresh);
    out.pin = merged(base.config.pin, add.config.pin);
    out.certificate_preference = merged(base.config.certificate_preference, add.config.certificate_preference);
    out.priorities = merged(base.config.priorities, add.config.priorities);
    out.session_tickets = merged(base.config.session_tickets, add.config.session_tickets);
    out.session_ticket_key_file = merged(base.config.session_ticket_key_file, add.config.session_ticket_key_file);
    out.client_verify = merged(base.config.client_verify, add.config.client_verify);
    out.client_ca_file = merged(base.config.client_ca_file, add.config.client_ca_file);
    out.client_crl_file = merged(base.config.client_crl_file, add.config.client_crl_file);
    out.client_key_purposes = merged(base.config.client_key_purposes, add.config.client_key_purposes);
    out.export_certificates_size = merged(base.config.export_certificates_size, add.config.export_certificates_size);
    out.cache_timeout = merged(base.config.cache_timeout, add.config.cache_timeout);
    out.proxy_engine = merged(base.config.proxy_engine, add.config.proxy_engine);
    out.directory_enables_proxy = base.config.directory_enables_proxy || add.config.directory_enables_proxy;
    out.proxy_ca_file = merged(base.config.proxy_ca_file, add.config.proxy_ca_file);
    out.proxy_crl_file = merged(base.config.proxy_crl_file, add.config.proxy_crl_file);
    out.proxy_certificate_file = merged(base.config.proxy_certificate_file, add.config.proxy_certificate_file);
    out.proxy_key_file = merged(base.config.proxy_key_file, add.config.proxy_key_file);
    out.proxy_priorities = merged(base.config.proxy_priorities, add.config.proxy_priorities);
    out.proxy_check_peer_name = merged(base.config.proxy_check_peer_name, add.config.proxy_check_peer_name);
    out.proxy_check_peer_expire = merged(base.config.proxy_check_peer_expire, add.config.proxy_check_peer_expire);
    out.directory_verifies_clients = base.config.directory_verifies_clients || add.config.directory_verifies_clients;
    out.first_directive_file = add.config.first_directive_file ? add.config.first_directive_file
                                                               : base.config.first_directive_file;
    out.first_directive_line = add.config.first_directive_file ? add.config.first_directive_line
                                                               : base.config.first_directive_line;
    return pool_own(pool, std::move(merged_holder));
}

// Trivially destructible: it lives in the pool without a cleanup.
static_assert(std::is_trivially_destructible_v<DirectoryConfig>);

void* create_directory_config(apr_pool_t* pool, char*) {
    return new (apr_palloc(pool, sizeof(DirectoryConfig))) DirectoryConfig{};
}

void* merge_directory_config(apr_pool_t* pool, void* base_ptr, void* add_ptr) {
    const auto& base = *static_cast<const DirectoryConfig*>(base_ptr);
    const auto& add = *static_cast<const DirectoryConfig*>(add_ptr);
    return new (apr_palloc(pool, sizeof(DirectoryConfig))) DirectoryConfig{merged(base.client_verify, add.client_verify),
                                                                              merged(base.proxy_engine, add.proxy_engine)};
}

const DirectoryConfig& directory_config(const request_rec* r) {
    return *static_cast<const DirectoryConfig*>(ap_get_module_config(r->per_dir_config, &gtls_module));
}

const char* chain_origin_name(ChainOrigin origin) {
    switch (origin) {
        case ChainOrigin::Configured: return "configured";
        case ChainOrigin::Managed: return "mod_md";
        case ChainOrigin::Fallback: return "mod_md-fallback";
    }
    return "?";
}

std::string server_name_port(const server_rec* s) {
    std::string name = s->server_hostname ? s->server_hostname : "_default_";
    return name + ":" + std::to_string(s->addrs && s->addrs->host_port ? s->addrs->host_port : s->port);
}

std::string describe_server(const server_rec* s) {
    std::string text = server_name_port(s);
    if (s->defn_name != nullptr) {
        text += " (" + std::string(s->defn_name) + ":" + std::to_string(s->defn_line_number) + ")";
    }
    return text;
}

}  // namespace gtls
