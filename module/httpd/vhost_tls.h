// The TLS state of one enabled server (main server or VirtualHost) for one
// configuration generation: credentials with every certificate chain, the
// compiled priorities and the session ticket key.
#pragma once

#include "core/certificate_chain.h"
#include "core/owned.h"
#include "core/staple_source.h"
#include "httpd/httpd.h"
#include "httpd/server_config.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace gtls {

struct ServerConfig;
class ProvidedStaple;

// What handshakes and status lines need of a configured chain once the
// credentials hold it: its file and the leaf's SSL_SERVER_* facts. (The parsed
// certificates and the key are dropped after the build: a parsed certificate
// alone costs ~19 KB, which a thousand vhosts would otherwise keep for nothing.)
struct ServedChain {
    std::string chain_path;
    CertificateFacts leaf_facts;
};

// A certificate whose response mod_gtls fetches itself (it has no
// GnuTLSOCSPResponseFile): what the fetcher needs to keep its file fresh.
struct FetchedStaple {
    std::string id;              // "ServerName:port#index"
    std::string chain_path;      // leaf and issuer
    std::string response_file;   // in GnuTLSOCSPResponseDir; the StapleSource reads it
    std::string responder;       // GnuTLSOCSPResponderURL or the certificate's AIA
    bool nonce = true;
    std::chrono::seconds timeout{kDefaultOcspSocketTimeoutSeconds};
    std::chrono::seconds failure_timeout{kDefaultOcspFailureTimeoutSeconds};
    std::chrono::seconds cache_timeout{kDefaultOcspCacheTimeoutSeconds};
    std::chrono::seconds fuzz_time{0};
    bool auto_refresh = true;
    bool must_staple = false;
    StapleSource* source = nullptr;  // serves the file; owned by the VhostTls, counts staples handed out
};

// Compiled priority strings of one configuration generation, shared by every
// vhost with the same string (a cache costs ~8 KB and ~0.1 ms to compile;
// GnuTLS sessions only read it).
using SharedPriorities = std::shared_ptr<std::remove_pointer_t<gnutls_priority_t>>;
using PriorityCaches = std::map<std::string, SharedPriorities>;

// The staple sources of one configuration generation, one per distinct
// (response file, leaf DER, issuer DER): vhosts that name the same file for the
// same certificate share one source, so each process checks and reads that
// file once. Each chain's status callback still points at the source for its
// own leaf.
using StapleSourceKey = std::tuple<std::string, std::vector<unsigned char>, std::vector<unsigned char>>;
using StapleSources = std::map<StapleSourceKey, std::shared_ptr<StapleSource>>;

// What the vhosts of one build share.
struct SharedBuildState {
    PriorityCaches priority_caches;
    StapleSources staple_sources;
};

class VhostTls {
public:
    // Loads and checks every chain/key pair of `config` and builds the GnuTLS
    // credentials (GNUTLS_CERTIFICATE_API_V2), cheapest chain first unless
    // GnuTLSCertificatePreference is order. Throws
    // std::runtime_error naming the directive, the certificate index and the
    // reason. Runs in check_config, as root, before workers exist.
    // `shared` lends compiled priority strings and staple sources across the
    // vhosts of one build.
    static std::unique_ptr<VhostTls> build(server_rec* s, const ServerConfig& config, SharedBuildState& shared);

    VhostTls(const VhostTls&) = delete;
    VhostTls& operator=(const VhostTls&) = delete;
    ~VhostTls();

    server_rec* server() const { return server_; }
    // "ServerName:port", the prefix of certificate ids in log lines.
    const std::string& id() const { return id_; }

    // Read-only while handshakes use them; safe to share between threads.
    gnutls_certificate_credentials_t credentials() const { return credentials_.get(); }
    gnutls_priority_t priorities() const { return priorities_.get(); }
    // The key that encrypts this vhost's session tickets (its own, random), or
    // nullptr when tickets are off (GnuTLSSessionTickets Off, GnuTLSCacheTimeout 0
    // or %NO_TICKETS in the priorities).
    const gnutls_datum_t* ticket_key() const { return ticket_key_.size() ? &ticket_key_.get() : nullptr; }
    // GnuTLSCacheTimeout; 0 means sessions are neither cached nor resumed.
    unsigned session_lifetime_seconds() const { return session_lifetime_seconds_; }
    // What scopes this vhost's entries in the session cache: unique among the
    // configured vhosts and the same after a restart.
    const std::string& session_scope() const { return session_scope_; }
    // One entry per chain, in configuration order (the position is the "#n" of
    // certificate ids): the configured chains, or mod_md's.
    const std::vector<ServedChain>& chains() const { return chains_; }
    // Where the chains come from. On mod_md's fallback certificate requests
    // are answered with 503 (nothing real can be served yet).
    ChainOrigin origin() const { return origin_; }
    // Whether a handshake with `other` would have given the client the same
    // connection: the same chains in the same preference, the same priorities
    // and the same client certificate verification.
    bool serves_like(const VhostTls& other) const;
    // GnuTLSClientVerify; the CAs and CRLs are in credentials().
    ClientVerify client_verify() const { return client_verify_; }
    // Whether client certificates can be verified here (a GnuTLSClientCAFile is loaded).
    bool verifies_clients() const { return !client_ca_file_.empty(); }
    // GnuTLSClientKeyPurpose: extended key usages a client certificate must carry.
    const std::vector<std::string>& client_key_purposes() const { return client_key_purposes_; }
    // GnuTLSExportCertificates: largest PEM put in CGI environments, 0 for none.
    std::size_t export_certificates_size() const { return export_certificates_size_; }
    // One entry per configured chain, as chains(); nullptr where nothing is
    // stapled. A source may be shared with other vhosts (see StapleSources).
    const std::vector<std::shared_ptr<StapleSource>>& staples() const { return staples_; }
    // "ServerName:port#index" of the configured chain `index`.
    std::string certificate_id(std::size_t index) const { return id_ + "#" + std::to_string(index); }
    // One entry per chain, as chains(); non-null where mod_md keeps the
    // response (after offer_staples_to_providers).
    const std::vector<std::unique_ptr<ProvidedStaple>>& provided_staples() const { return provided_staples_; }
    // Lets mod_md (MDStapling) keep the responses of the chains that have no
    // GnuTLSOCSPResponseFile: those it takes are stapled from it, no longer
    // from mod_gtls's fetcher. post_config, before any handshake.
    void offer_staples_to_providers(apr_pool_t* pool);
    // The chains whose responses mod_gtls fetches, in configuration order.
    const std::vector<FetchedStaple>& fetched_staples() const { return fetched_staples_; }
    // How many of the chains' keys sign with OpenSSL (GnuTLSRSASigner).
    unsigned openssl_rsa_keys() const { return openssl_rsa_keys_; }

private:
    VhostTls() = default;

    server_rec* server_ = nullptr;
    std::string id_;
    ChainOrigin origin_ = ChainOrigin::Configured;
    std::vector<ServedChain> chains_;
    // The GnuTLS certificate index of each configured chain: the credentials hold
    // the chains in the order of GnuTLSCertificatePreference.
    std::vector<unsigned> credential_index_;
    OwnedCredentials credentials_;
    SharedPriorities priorities_;
    OwnedDatum ticket_key_;
    unsigned session_lifetime_seconds_ = 0;
    std::string session_scope_;
    ClientVerify client_verify_ = ClientVerify::Ignore;
    std::string client_ca_file_, client_crl_file_;
    std::vector<std::string> client_key_purposes_;
    std::size_t export_certificates_size_ = 0;
    std::vector<std::shared_ptr<StapleSource>> staples_;
    std::vector<std::unique_ptr<ProvidedStaple>> provided_staples_;
    std::vector<FetchedStaple> fetched_staples_;
    unsigned openssl_rsa_keys_ = 0;

    void bind_staples(const ServerConfig& config, const std::vector<CertificateChain>& chains, StapleSources& sources);
    void load_client_verification(const ServerConfig& config);
};

// The clock staples are judged by in httpd (the real one).
const Clock& staple_clock();

// `apachectl -t -D GTLS_DUMP_OCSP_BINDINGS` prints the stapled certificates,
// one line each, for tools that keep the response files fresh
// (gtls-ocsp-fetch --from-httpd). From the configuration alone: no key (or
// other file) is read, so an unprivileged user can ask for it.
//   GTLSOCSPBinding <TAB> ServerName:port#index <TAB> chain file <TAB> response file
inline constexpr const char* kDumpOcspBindingsDefine = "GTLS_DUMP_OCSP_BINDINGS";
void dump_ocsp_bindings(server_rec* main_server, FILE* out);

// The signer RSA key files use in this generation: GnuTLSRSASigner, OpenSSL
// by default, GnuTLS when the build has no libcrypto.
RsaSigner rsa_signer_in_use(const GlobalConfig& global);
// Logs GTLS0105 (which library signs with RSA keys) and any GTLS0106 (RSA
// keys that sign with GnuTLS against GnuTLSRSASigner openssl), once per start.
void log_rsa_signer(server_rec* main_server);

// Builds the VhostTls of every enabled server and stores it in its ServerConfig
// (owned by pconf). Logs each problem and returns false if any server failed.
// An enabled server without certificate lines is left for post_config when a
// module (mod_md) may provide its certificate (see certificate_providers.h).
bool build_all_vhost_tls(server_rec* main_server, apr_pool_t* pconf);
// Builds (again) the VhostTls of the enabled server `s`, in the generation
// build_all_vhost_tls started, and stores it in its ServerConfig. Logs the
// problem (GTLS0101) and returns false if it cannot be built.
bool install_vhost_tls(server_rec* s, apr_pool_t* pconf);

}  // namespace gtls
