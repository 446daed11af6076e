// Per-server (main server and each VirtualHost) directive values, and the
// TLS state built from them for one configuration generation.
#pragma once

#include "core/directive_values.h"
#include "httpd/httpd.h"
#include "httpd/sni_vhost_index.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gtls {

class ProxyTls;
class VhostTls;
struct SessionCache;
struct SharedBuildState;

// Where a vhost's certificate chain comes from.
enum class ChainOrigin {
    Configured,  // GnuTLSCertificateFile/GnuTLSKeyFile
    Managed,     // mod_md's certificate for the vhost's MDomain
    Fallback,    // mod_md's self-signed stand-in until it has one: requests get 503
};
// "configured", "mod_md", "mod_md-fallback": for log lines and the status page.
const char* chain_origin_name(ChainOrigin origin);

// Directive values of one server_rec, after merging with the main server's.
// Lives in pconf (created by create/merge, owned through pool_own).
struct ServerConfig {
    std::optional<bool> enabled;
    // GnuTLSCertificateFile / GnuTLSKeyFile, in order: the n-th key pairs with the
    // n-th chain, and the pair's position is its GnuTLS certificate index. A vhost
    // that names any of them replaces the main server's lists; it never appends.
    std::vector<std::string> certificate_files;
    std::vector<std::string> key_files;
    // GnuTLSPIN: the token's PIN and the passphrase of encrypted key files.
    std::optional<std::string> pin;
    std::optional<CertificatePreference> certificate_preference;
    std::optional<std::string> priorities;
    std::optional<bool> session_tickets;
    std::optional<std::string> session_ticket_key_file;  // GnuTLSSessionTicketKeyFile
    std::optional<ClientVerify> client_verify;
    // A GnuTLSClientVerify request|require in a <Directory>/<Location> of this
    // server's configuration (or the main server's): its CAs must be named.
    bool directory_verifies_clients = false;
    std::optional<std::string> client_ca_file;   // GnuTLSClientCAFile / GnuTLSX509CAFile
    std::optional<std::string> client_crl_file;  // GnuTLSClientCRLFile
    std::optional<std::vector<std::string>> client_key_purposes;  // GnuTLSClientKeyPurpose OIDs
    std::optional<long> export_certificates_size;  // GnuTLSExportCertificates; 0 = Off
    std::optional<long> cache_timeout;
    // GnuTLSOCSPResponseFile, one entry per occurrence: the n-th belongs to the
    // n-th certificate; entry[0] is the leaf's response file ("" = none), further
    // files (intermediates' responses) are accepted but not stapled.
    std::vector<std::vector<std::string>> ocsp_response_files;
    std::optional<bool> ocsp_stapling;
    std::optional<long> ocsp_check_interval;
    // For certificates without a response file, which mod_gtls fetches itself.
    std::optional<std::string> ocsp_responder_url;  // GnuTLSOCSPResponderURL, else the AIA
    std::optional<bool> ocsp_check_nonce;
    std::optional<long> ocsp_socket_timeout;
    std::optional<long> ocsp_failure_timeout;
    std::optional<long> ocsp_cache_timeout;  // GnuTLSOCSPCacheTimeout: ask again after this long
    std::optional<long> ocsp_fuzz_time;      // GnuTLSOCSPFuzzTime: ask up to this long earlier
    std::optional<bool> ocsp_auto_refresh;   // GnuTLSOCSPAutoRefresh Off: refresh only what is used

    // TLS to proxy backends (mod_proxy's https://, h2://, wss:// workers).
    std::optional<bool> proxy_engine;             // GnuTLSProxyEngine
    // A GnuTLSProxyEngine On in a <Proxy>/<Location>/<Directory> of this server's
    // configuration (or the main server's): its ProxyTls must be built.
    bool directory_enables_proxy = false;
    std::optional<std::string> proxy_ca_file;           // GnuTLSProxyCAFile
    std::optional<std::string> proxy_crl_file;          // GnuTLSProxyCRLFile
    std::optional<std::string> proxy_certificate_file;  // GnuTLSProxyCertificateFile
    std::optional<std::string> proxy_key_file;          // GnuTLSProxyKeyFile
    std::optional<std::string> proxy_priorities;        // GnuTLSProxyPriorities
    std::optional<bool> proxy_check_peer_name;          // GnuTLSProxyCheckPeerName
    std::optional<bool> proxy_check_peer_expire;        // GnuTLSProxyCheckPeerExpire

    // Certificate/key files another module (mod_md) provides through httpd's
    // ssl_add_cert_files or ssl_add_fallback_cert_files hook, asked for in
    // post_config of each generation. They come after the configured chains.
    std::vector<std::string> provided_certificate_files;
    std::vector<std::string> provided_key_files;
    ChainOrigin provided_origin = ChainOrigin::Configured;  // Managed or Fallback when any are provided

    // Where this server's first GnuTLS directive was, for error messages.
    const char* first_directive_file = nullptr;
    unsigned first_directive_line = 0;

    // Built by check_config for enabled servers; owned by pconf.
    VhostTls* tls = nullptr;
    // Built by check_config for servers that proxy over TLS; owned by pconf.
    ProxyTls* proxy_tls = nullptr;

    bool is_enabled() const { return enabled.value_or(false); }
    bool stapling_on() const { return ocsp_stapling.value_or(true); }
    // The response file configured for the certificate at `index` ("" entries
    // mean none), or nullptr; whether stapling is on is stapling_on()'s business.
    const std::string* response_file(std::size_t index) const {
        if (index >= ocsp_response_files.size() || ocsp_response_files[index].empty()) return nullptr;
        const std::string& file = ocsp_response_files[index].front();
        return file.empty() ? nullptr : &file;
    }
};

// Server-wide (main server context only) values, held by the main server's
// ServerConfig owner and shared by all vhosts.
// Debian's state directory for httpd: survives restarts and reboots.
inline constexpr const char* kDefaultOcspResponseDir = "/var/lib/apache2/gtls-ocsp";

struct GlobalConfig {
    SessionCacheSpec session_cache;
    const ap_socache_provider_t* cache_provider = nullptr;
    ap_socache_instance_t* cache_instance = nullptr;
    // The cache as set up by post_config for this generation (owned by pconf),
    // nullptr without GnuTLSCache or when a worker cannot use it.
    SessionCache* session_cache_in_use = nullptr;
    // GnuTLSOCSPResponseDir: where fetched responses are kept.
    std::string ocsp_response_dir = kDefaultOcspResponseDir;
    SniVhostIndex sni_vhosts;
    // GnuTLSP11Module: PKCS #11 providers to load; empty means p11-kit's configuration.
    std::vector<std::string> pkcs11_modules;
    // Some certificate or key of this generation is on a PKCS #11 token.
    bool uses_tokens = false;
    // GnuTLSRSASigner; unset means OpenSSL when this build has libcrypto.
    std::optional<RsaSigner> rsa_signer;
    // GnuTLSKeyVerifySignatures: verify each OpenSSL signature with GnuTLS before it is sent.
    bool verify_signatures = false;
    // How many RSA key files of this generation sign with OpenSSL, for the
    // startup line (GTLS0105).
    unsigned openssl_rsa_keys = 0;
    // Why some RSA keys sign with GnuTLS although OpenSSL was asked for (GTLS0106).
    std::vector<std::string> rsa_signer_fallbacks;
    // What the vhosts built in this generation share (compiled priorities,
    // staple sources), kept for vhosts built again in post_config with the
    // certificates mod_md provides.
    std::shared_ptr<SharedBuildState> vhost_build_state;
    // Some vhost can verify client certificates, so sessions keep what TLS 1.3
    // post-handshake authentication needs when the client offers it.
    bool offer_post_handshake_auth = false;
};

// Per-directory values (<Directory>, <Location>, .htaccess).
struct DirectoryConfig {
    std::optional<ClientVerify> client_verify;
    std::optional<bool> proxy_engine;  // GnuTLSProxyEngine in <Proxy>, <Location>, ...
};

inline constexpr long kDefaultCacheTimeoutSeconds = 300;
inline constexpr long kDefaultOcspCheckIntervalSeconds = 1;
inline constexpr long kDefaultOcspSocketTimeoutSeconds = 6;     // as mod_gnutls
inline constexpr long kDefaultOcspFailureTimeoutSeconds = 300;  // as mod_gnutls
inline constexpr long kDefaultOcspCacheTimeoutSeconds = 3600;    // as mod_gnutls and mod_ssl

ServerConfig& server_config(server_rec* s);
GlobalConfig& global_config(server_rec* s);

// Module record callbacks.
void* create_server_config(apr_pool_t* pool, server_rec* s);
void* merge_server_config(apr_pool_t* pool, void* base, void* add);
void* create_directory_config(apr_pool_t* pool, char* path);
void* merge_directory_config(apr_pool_t* pool, void* base, void* add);
const DirectoryConfig& directory_config(const request_rec* r);

// "ServerName:port": the id of a server's TLS state in log lines.
std::string server_name_port(const server_rec* s);
// Human-readable "name:port (file:line)" for log lines about a server.
std::string describe_server(const server_rec* s);

}  // namespace gtls
