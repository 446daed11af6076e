#include "httpd/vhost_tls.h"

#include "core/ascii.h"
#include "core/priorities.h"
#include "core/rsa_signer.h"
#include "core/ticket_key.h"
#include "core/trust_files.h"
#include "fetch/ocsp_request.h"
#include "httpd/certificate_providers.h"
#include "httpd/client_verification.h"
#include "httpd/pkcs11_providers.h"
#include "httpd/pool_own.h"
#include "httpd/provided_staple.h"
#include "httpd/tls_connection.h"
#include "httpd/server_config.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace gtls {

namespace {

// The id plus every address the vhost listens on: vhosts of the same name on
// different addresses are different vhosts. Stable across restarts, so cached
// sessions survive a graceful restart.
std::string scope_of(const server_rec* s, const std::string& id) {
    std::string scope = id;
    for (const server_addr_rec* addr = s->addrs; addr != nullptr; addr = addr->next) {
        char ip[64] = "*";
        if (addr->host_addr != nullptr) apr_sockaddr_ip_getbuf(ip, sizeof ip, addr->host_addr);
        scope += " " + std::string(ip) + ":" + std::to_string(addr->host_port);
    }
    return scope;
}

// True when the priority string asks GnuTLS for no session tickets at all
// (%NO_TICKETS; %NO_TICKETS_TLS12 only concerns TLS 1.2 and GnuTLS honours it
// by itself). Enabling tickets on a session would override the former.
bool priorities_disable_tickets(const std::string& priorities) {
    const std::string lower = ascii_lowercase(priorities);
    for (std::size_t at = lower.find("%no_tickets"); at != std::string::npos; at = lower.find("%no_tickets", at + 1)) {
        if (lower.compare(at, 17, "%no_tickets_tls12") != 0) return true;
    }
    return false;
}

[[noreturn]] void fail(const std::string& reason) { throw std::runtime_error(reason); }

// GnuTLS asks this during a handshake when the client sent status_request and
// chose the chain `ptr` belongs to. RFC 6066 section 8: the server may omit the
// status; any other error would abort the handshake, so there is none.
int hand_over(const std::shared_ptr<const Staple>& staple, gnutls_datum_t* response) noexcept {
    if (!staple) return GNUTLS_E_NO_CERTIFICATE_STATUS;
    auto* copy = static_cast<unsigned char*>(gnutls_malloc(staple->der.size()));
    if (copy == nullptr) return GNUTLS_E_NO_CERTIFICATE_STATUS;
    std::memcpy(copy, staple->der.data(), staple->der.size());
    response->data = copy;
    response->size = static_cast<unsigned>(staple->der.size());
    return 0;
}

int staple_callback(gnutls_session_t, void* ptr, gnutls_datum_t* response) noexcept {
    return hand_over(static_cast<StapleSource*>(ptr)->staple_for_handshake(), response);
}

// As staple_callback, for a certificate whose response mod_md keeps.
int provided_staple_callback(gnutls_session_t session, void* ptr, gnutls_datum_t* response) noexcept {
    const auto* connection = static_cast<const TlsConnection*>(gnutls_session_get_ptr(session));
    return hand_over(static_cast<ProvidedStaple*>(ptr)->staple_for_handshake(connection->conn()), response);
}

LogSink log_sink_for(server_rec* s) {
    return [s](LogLevel level, const std::string& message) {
        int httpd_level = level == LogLevel::Error     ? APLOG_ERR
                          : level == LogLevel::Warning ? APLOG_WARNING
                          : level == LogLevel::Info    ? APLOG_INFO
                                                       : APLOG_DEBUG;
        ap_log_error(APLOG_MARK, httpd_level, 0, s, "%s", message.c_str());
    };
}

// The credentials copy the chain and the key.
int add_chain_with_file_key(gnutls_certificate_credentials_t credentials, const CertificateChain& chain) {
    auto certificates = chain.certificates();
    return gnutls_certificate_set_x509_key(credentials, certificates.data(), static_cast<unsigned>(certificates.size()),
                                           chain.key());
}

// The credentials take `key` (a token key: a handle, the key stays on the
// token; or the OpenSSL signer) and the certificates' contents over. GnuTLS
// signs once with the key to check it belongs to the leaf.
int add_chain_with_privkey(gnutls_certificate_credentials_t credentials, const CertificateChain& chain,
                           OwnedAbstractPrivkey key) {
    auto certificates = chain.certificates();
    std::vector<gnutls_pcert_st> pcerts(certificates.size());
    unsigned count = static_cast<unsigned>(certificates.size());
    if (int rc = gnutls_pcert_import_x509_list(pcerts.data(), certificates.data(), &count, 0); rc < 0) return rc;
    int rc = gnutls_certificate_set_key(credentials, nullptr, 0, pcerts.data(), static_cast<int>(count), key.get());
    if (rc < 0) {
        for (unsigned i = 0; i < count; ++i) gnutls_pcert_deinit(&pcerts[i]);
        return rc;
    }
    (void)key.release();
    return rc;
}

// The chain's RSA key file as an OpenSSL signer; with GnuTLSKeyVerifySignatures
// it checks each signature against the leaf's public key.
OwnedAbstractPrivkey openssl_signer_for(const CertificateChain& chain, bool verify_signatures) {
    OwnedPubkey leaf_key;
    if (verify_signatures) {
        gnutls_pubkey_t raw = nullptr;
        if (int rc = gnutls_pubkey_init(&raw); rc < 0) fail(gnutls_strerror(rc));
        leaf_key.reset(raw);
        if (int rc = gnutls_pubkey_import_x509(raw, chain.leaf(), 0); rc < 0) fail(gnutls_strerror(rc));
    }
    return make_openssl_rsa_privkey(chain.key(), std::move(leaf_key));
}

}  // namespace

RsaSigner rsa_signer_in_use(const GlobalConfig& global) {
    if (!openssl_rsa_signer_available()) return RsaSigner::GnuTLS;
    return global.rsa_signer.value_or(RsaSigner::OpenSSL);
}

std::unique_ptr<VhostTls> VhostTls::build(server_rec* s, const ServerConfig& config, SharedBuildState& shared) {
    PriorityCaches& priority_caches = shared.priority_caches;
    std::unique_ptr<VhostTls> tls(new VhostTls());
    tls->server_ = s;
    tls->id_ = server_name_port(s);

    // mod_md's files, when it provides any, replace the configured ones: the
    // vhost belongs to its MDomain (as with mod_ssl, where mod_md's
    // certificate takes the place of a configured one of the same key type).
    const bool provided = !config.provided_certificate_files.empty();
    tls->origin_ = provided ? config.provided_origin : ChainOrigin::Configured;
    const std::vector<std::string>& certificate_files = provided ? config.provided_certificate_files : config.certificate_files;
    const std::vector<std::string>& key_files = provided ? config.provided_key_files : config.key_files;
    if (certificate_files.empty()) {
        fail(certificate_providers_hooked()
                 ? "GnuTLSEnable is On but no GnuTLSCertificateFile is configured and no module (mod_md: MDomain) "
                   "provides a certificate for it"
                 : "GnuTLSEnable is On but no GnuTLSCertificateFile is configured");
    }
    if (key_files.size() != certificate_files.size()) {
        fail("GnuTLSKeyFile: " + std::to_string(key_files.size()) + " key file(s) for " +
             std::to_string(certificate_files.size()) +
             " GnuTLSCertificateFile(s); each certificate chain needs the key at the same position");
    }

    gnutls_certificate_credentials_t credentials = nullptr;
    if (int rc = gnutls_certificate_allocate_credentials(&credentials); rc < 0) fail(gnutls_strerror(rc));
    tls->credentials_.reset(credentials);
    gnutls_certificate_set_flags(credentials, GNUTLS_CERTIFICATE_API_V2);

    std::vector<CertificateChain> chains;
    for (std::size_t index = 0; index < certificate_files.size(); ++index) {
        try {
            chains.push_back(CertificateChain::load(certificate_files[index], key_files[index],
                                                    config.pin && !provided ? &*config.pin : nullptr));
        } catch (const ChainLoadError& e) {
            const bool chain_file = e.file() == ChainLoadError::File::Chain;
            fail("certificate " + tls->certificate_id(index) + ": " +
                 (provided ? std::string(chain_origin_name(tls->origin_)) + (chain_file ? " certificate file " : " key file ")
                           : std::string(chain_file ? "GnuTLSCertificateFile " : "GnuTLSKeyFile ")) +
                 e.what());
        }
    }

    // GnuTLS serves the first chain in the credentials that the client accepts
    // (its signature algorithms, groups and, in TLS 1.2, the cipher suite), not
    // the client's preferred one, and every client accepts RSA. So the order the
    // credentials hold the chains in is the preference.
    std::vector<std::size_t> offer_order(chains.size());
    for (std::size_t index = 0; index < offer_order.size(); ++index) offer_order[index] = index;
    if (config.certificate_preference.value_or(CertificatePreference::Cost) == CertificatePreference::Cost) {
        std::stable_sort(offer_order.begin(), offer_order.end(), [&](std::size_t a, std::size_t b) {
            return chains[a].signing_cost_rank() < chains[b].signing_cost_rank();
        });
    }
    const std::string priorities = config.priorities.value_or(std::string(kDefaultPriorities));
    SharedPriorities& compiled = priority_caches[priorities];
    if (!compiled) {
        try {
            compiled = compile_priorities(priorities);
        } catch (const std::exception& e) {
            priority_caches.erase(priorities);
            fail(std::string("GnuTLSPriorities: ") + e.what());
        }
    }
    tls->priorities_ = compiled;

    // RSA key files sign with libcrypto unless GnuTLSRSASigner says gnutls.
    // The OpenSSL signer cannot decrypt, so a vhost whose priorities allow
    // TLS 1.2's RSA key exchange keeps GnuTLS's signer.
    GlobalConfig& global = global_config(s);
    bool openssl_rsa = rsa_signer_in_use(global) == RsaSigner::OpenSSL;
    if (openssl_rsa && offers_rsa_key_exchange(compiled.get()) &&
        std::any_of(chains.begin(), chains.end(),
                    [](const CertificateChain& chain) { return openssl_rsa_signer_accepts(chain.key()); })) {
        // Logged with GTLS0105 in post_config, where the error log is open.
        global.rsa_signer_fallbacks.push_back(
            tls->id_ + ": its GnuTLSPriorities allow the RSA key exchange, which the OpenSSL signer cannot serve: "
                       "its RSA keys sign with GnuTLS");
        openssl_rsa = false;
    }

    tls->credential_index_.resize(chains.size());
    for (std::size_t configured : offer_order) {
        CertificateChain& chain = chains[configured];
        int rc = 0;
        if (chain.key() == nullptr) {
            rc = add_chain_with_privkey(credentials, chain, chain.take_token_key());
        } else if (openssl_rsa && openssl_rsa_signer_accepts(chain.key())) {
            OwnedAbstractPrivkey signer;
            try {
                signer = openssl_signer_for(chain, global.verify_signatures);
            } catch (const std::exception& e) {
                fail("certificate " + tls->certificate_id(configured) + ": GnuTLSKeyFile " + chain.key_path() + ": " +
                     e.what() + " (GnuTLSRSASigner gnutls keeps GnuTLS's signer)");
            }
            rc = add_chain_with_privkey(credentials, chain, std::move(signer));
            if (rc >= 0) ++tls->openssl_rsa_keys_;
        } else {
            rc = add_chain_with_file_key(credentials, chain);
        }
        if (rc < 0) {
            fail("certificate " + tls->certificate_id(configured) + ": " +
                 (provided ? std::string(chain_origin_name(tls->origin_)) + " certificate file " : "GnuTLSCertificateFile ") +
                 chain.chain_path() + ": GnuTLS rejected the chain: " + gnutls_strerror(rc));
        }
        tls->credential_index_[configured] = static_cast<unsigned>(rc);
    }

    tls->bind_staples(config, chains, shared.staple_sources);
    for (const CertificateChain& chain : chains) tls->chains_.push_back({chain.chain_path(), chain.leaf_facts()});

    tls->session_lifetime_seconds_ = static_cast<unsigned>(config.cache_timeout.value_or(kDefaultCacheTimeoutSeconds));
    // A lifetime of 0 means no resumption at all: GnuTLS must never see 0 as
    // the cache expiration, since its ticket key rotation divides by it.
    if (config.session_tickets.value_or(true) && tls->session_lifetime_seconds_ > 0 &&
        !priorities_disable_tickets(priorities)) {
        if (config.session_ticket_key_file) {
            // Read as root at every (graceful) restart: a new file and a reload rotate it.
            std::vector<unsigned char> master;
            try {
                master = load_ticket_key_file(*config.session_ticket_key_file);
            } catch (const std::runtime_error& e) {
                fail(std::string("GnuTLSSessionTicketKeyFile ") + e.what());
            }
            tls->ticket_key_ = derive_vhost_ticket_key(master, tls->id_);
            gnutls_memset(master.data(), 0, master.size());
        } else if (int rc = gnutls_session_ticket_key_generate(tls->ticket_key_.out()); rc < 0) {
            fail(std::string("cannot generate a session ticket key: ") + gnutls_strerror(rc));
        }
    }
    tls->session_scope_ = scope_of(s, tls->id_);
    tls->load_client_verification(config);
    return tls;
}

bool VhostTls::serves_like(const VhostTls& other) const {
    // Compiled priorities are shared by every vhost of a build with the same string.
    if (priorities_ != other.priorities_ || credential_index_ != other.credential_index_) return false;
    if (client_verify_ != other.client_verify_ || client_ca_file_ != other.client_ca_file_ ||
        client_crl_file_ != other.client_crl_file_ || client_key_purposes_ != other.client_key_purposes_) {
        return false;
    }
    return std::equal(chains_.begin(), chains_.end(), other.chains_.begin(), other.chains_.end(),
                      [](const ServedChain& a, const ServedChain& b) { return a.chain_path == b.chain_path; });
}

const Clock& staple_clock() {
    static const SystemClock clock;
    return clock;
}

namespace {

// The file a fetched response for `leaf` is kept in: named after the
// certificate, so vhosts sharing it share the file and a renewed certificate
// never meets its predecessor's response.
std::string fetched_response_file(const std::string& directory, gnutls_x509_crt_t leaf) {
    unsigned char digest[32];
    std::size_t size = sizeof(digest);
    int rc = gnutls_x509_crt_get_fingerprint(leaf, GNUTLS_DIG_SHA256, digest, &size);
    if (rc < 0) fail(std::string("cannot hash the certificate: ") + gnutls_strerror(rc));
    std::string name = directory + "/";
    static constexpr char kHex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < size; ++i) {
        name += kHex[digest[i] >> 4];
        name += kHex[digest[i] & 0xf];
    }
    return name + ".der";
}

}  // namespace

void VhostTls::bind_staples(const ServerConfig& config, const std::vector<CertificateChain>& chains,
                            StapleSources& sources) {
    const std::size_t certificates = chains.size();
    if (origin_ == ChainOrigin::Configured && config.ocsp_response_files.size() > certificates) {
        fail("GnuTLSOCSPResponseFile: " + std::to_string(config.ocsp_response_files.size()) + " occurrence(s) for " +
             std::to_string(certificates) + " certificate(s); the n-th occurrence belongs to the n-th certificate");
    }
    const bool stapling = config.stapling_on();
    const auto interval = std::chrono::seconds(config.ocsp_check_interval.value_or(kDefaultOcspCheckIntervalSeconds));
    staples_.resize(certificates);
    provided_staples_.resize(certificates);
    for (std::size_t index = 0; index < certificates; ++index) {
        const CertificateChain& chain = chains[index];
        const std::string certificate_id = this->certificate_id(index);
        // GnuTLSOCSPResponseFile belongs to the configured chain at its position.
        const std::string* configured_file = origin_ == ChainOrigin::Configured ? config.response_file(index) : nullptr;
        // Without a response file mod_gtls fetches the response itself, from
        // GnuTLSOCSPResponderURL or the responder the certificate names.
        const std::string responder = configured_file != nullptr
                                          ? std::string()
                                          : config.ocsp_responder_url.value_or(responder_url(chain.leaf()));
        // Without a response file mod_md may keep the response (MDStapling):
        // asked in post_config, where it can answer.
        if (stapling && configured_file == nullptr && chain.issuer() != nullptr && staple_providers_hooked()) {
            provided_staples_[index] =
                std::make_unique<ProvidedStaple>(server_, certificate_id, chain.leaf(), chain.issuer(), interval);
        }
        if (chain.must_staple() && (!stapling || (configured_file == nullptr && responder.empty()))) {
            fail("certificate " + certificate_id + " (" + chain.chain_path() +
                 ") requires OCSP stapling (TLS Feature status_request) but " +
                 (stapling ? "it names no OCSP responder and no GnuTLSOCSPResponseFile or GnuTLSOCSPResponderURL is "
                             "configured for it"
                           : "GnuTLSOCSPStapling is Off"));
        }
        if (!stapling || (configured_file == nullptr && responder.empty())) continue;
        if (chain.issuer() == nullptr) {
            // As mod_gnutls: stapling that is on only by default gives way to
            // a chain without its issuer; asked for, it is an error.
            if (configured_file == nullptr && !config.ocsp_stapling && !chain.must_staple()) {
                ap_log_error(APLOG_MARK, APLOG_WARNING | APLOG_STARTUP, 0, server_,
                             "GTLS0315: certificate %s: GnuTLSCertificateFile %s holds no issuer certificate after the "
                             "leaf, so OCSP responses cannot be validated: not stapled; add the issuer to staple",
                             certificate_id.c_str(), chain.chain_path().c_str());
                continue;
            }
            fail("certificate " + certificate_id + ": GnuTLSCertificateFile " + chain.chain_path() +
                 " must include the issuer certificate after the leaf, to validate OCSP responses");
        }
        std::string file;
        if (configured_file != nullptr) {
            file = *configured_file;
            const std::vector<std::string>& files = config.ocsp_response_files[index];
            if (files.size() > 1) {
                ap_log_error(APLOG_MARK, APLOG_INFO | APLOG_STARTUP, 0, server_,
                             "GTLS0306: %s: %" APR_SIZE_T_FMT " further GnuTLSOCSPResponseFile(s) for intermediate "
                             "certificates are accepted but not stapled (TLS 1.3 and GnuTLS staple the leaf's response only)",
                             certificate_id.c_str(), files.size() - 1);
            }
        } else {
            file = fetched_response_file(global_config(server_).ocsp_response_dir, chain.leaf());
            FetchedStaple& fetched = fetched_staples_.emplace_back();
            fetched.id = certificate_id;
            fetched.chain_path = chain.chain_path();
            fetched.response_file = file;
            fetched.responder = responder;
            fetched.nonce = config.ocsp_check_nonce.value_or(true);
            fetched.timeout = std::chrono::seconds(config.ocsp_socket_timeout.value_or(kDefaultOcspSocketTimeoutSeconds));
            fetched.failure_timeout =
                std::chrono::seconds(config.ocsp_failure_timeout.value_or(kDefaultOcspFailureTimeoutSeconds));
            fetched.cache_timeout =
                std::chrono::seconds(config.ocsp_cache_timeout.value_or(kDefaultOcspCacheTimeoutSeconds));
            // mod_gnutls's default: early enough to ride out two failed attempts.
            fetched.fuzz_time = config.ocsp_fuzz_time
                                    ? std::chrono::seconds(*config.ocsp_fuzz_time)
                                    : std::max(fetched.cache_timeout / 8, fetched.failure_timeout * 2);
            fetched.auto_refresh = config.ocsp_auto_refresh.value_or(true);
            fetched.must_staple = chain.must_staple();
        }
        std::shared_ptr<StapleSource>& source =
            sources[StapleSourceKey(file, certificate_der(chain.leaf()), certificate_der(chain.issuer()))];
        if (source) {
            source->add_certificate(certificate_id, interval);
        } else {
            source = std::make_shared<StapleSource>(certificate_id, file, chain.leaf(), chain.issuer(), interval,
                                                    chain.must_staple(), staple_clock(), log_sink_for(server_));
        }
        staples_[index] = source;
        if (configured_file == nullptr) {
            source->expect_fetched(fetched_staples_.back().cache_timeout);
            fetched_staples_.back().source = source.get();
        }
        int rc = gnutls_certificate_set_ocsp_status_request_function2(credentials_.get(), credential_index_[index],
                                                                      staple_callback, staples_[index].get());
        if (rc < 0) fail("certificate " + certificate_id + ": cannot bind its OCSP staple: " + gnutls_strerror(rc));
    }
}

void VhostTls::offer_staples_to_providers(apr_pool_t* pool) {
    for (std::size_t index = 0; index < provided_staples_.size(); ++index) {
        std::unique_ptr<ProvidedStaple>& provided = provided_staples_[index];
        if (!provided) continue;
        if (!provided->prime(pool)) {
            provided.reset();
            continue;
        }
        const std::string certificate_id = this->certificate_id(index);
        int rc = gnutls_certificate_set_ocsp_status_request_function2(credentials_.get(), credential_index_[index],
                                                                      provided_staple_callback, provided.get());
        if (rc < 0) fail("certificate " + certificate_id + ": cannot bind its OCSP staple: " + gnutls_strerror(rc));
        // mod_md fetches it: mod_gtls's fetcher and its file step aside.
        staples_[index] = nullptr;
        std::erase_if(fetched_staples_, [&](const FetchedStaple& fetched) { return fetched.id == certificate_id; });
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, server_, "GTLS0318: %s: mod_md keeps its OCSP response (MDStapling)",
                     certificate_id.c_str());
    }
}

// GnuTLS sends the CA file's subjects as the acceptable CAs and checks client
// certificates against them (and the CRLs) when the connection verifies. The
// CAs are loaded whenever a file is named: a <Directory> or .htaccess may ask
// for a certificate after the handshake even when the vhost does not.
void VhostTls::load_client_verification(const ServerConfig& config) {
    export_certificates_size_ = static_cast<std::size_t>(config.export_certificates_size.value_or(0));
    // As mod_gnutls: TLS Web Client Authentication unless told otherwise.
    client_key_purposes_ = config.client_key_purposes.value_or(std::vector<std::string>{GNUTLS_KP_TLS_WWW_CLIENT});
    client_verify_ = config.client_verify.value_or(ClientVerify::Ignore);
    if (!config.client_ca_file) {
        if (client_verify_ != ClientVerify::Ignore) {
            fail("GnuTLSClientVerify asks for client certificates but no GnuTLSClientCAFile names the CAs to trust");
        }
        if (config.directory_verifies_clients) {
            fail("GnuTLSClientVerify in a <Directory> or <Location> asks for client certificates but no "
                 "GnuTLSClientCAFile names the CAs to trust");
        }
        return;
    }
    client_ca_file_ = *config.client_ca_file;
    load_trusted_cas(credentials_.get(), "GnuTLSClientCAFile", client_ca_file_);
    if (config.client_crl_file) {
        client_crl_file_ = *config.client_crl_file;
        load_crls(credentials_.get(), "GnuTLSClientCRLFile", client_crl_file_);
    }
    gnutls_certificate_set_verify_function(credentials_.get(), verify_client_certificate);
}

VhostTls::~VhostTls() {
    if (ticket_key_.size() != 0) {
        gnutls_memset(const_cast<unsigned char*>(ticket_key_.data()), 0, ticket_key_.size());
    }
}

void dump_ocsp_bindings(server_rec* main_server, FILE* out) {
    for (server_rec* s = main_server; s != nullptr; s = s->next) {
        const ServerConfig& config = server_config(s);
        if (!config.is_enabled() || !config.stapling_on()) continue;
        const std::string id = server_name_port(s);
        for (std::size_t index = 0; index < config.certificate_files.size(); ++index) {
            if (const std::string* file = config.response_file(index)) {
                std::fprintf(out, "GTLSOCSPBinding\t%s#%zu\t%s\t%s\n", id.c_str(), index,
                             config.certificate_files[index].c_str(), file->c_str());
            }
        }
    }
    std::fflush(out);
}

void log_rsa_signer(server_rec* main_server) {
    const GlobalConfig& global = global_config(main_server);
    for (const std::string& fallback : global.rsa_signer_fallbacks) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, main_server, "GTLS0106: %s", fallback.c_str());
    }
    if (rsa_signer_in_use(global) == RsaSigner::OpenSSL) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, main_server,
                     "GTLS0105: RSA signer: OpenSSL %s for %u RSA key file(s) (blinded, constant-time; "
                     "GnuTLSKeyVerifySignatures %s); other keys sign with GnuTLS",
                     openssl_rsa_signer_version().c_str(), global.openssl_rsa_keys, global.verify_signatures ? "On" : "Off");
    } else {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, main_server, "GTLS0105: RSA signer: GnuTLS/%s (%s)",
                     gnutls_check_version(nullptr),
                     openssl_rsa_signer_available() ? "GnuTLSRSASigner gnutls" : "built without OpenSSL's libcrypto");
    }
}

bool install_vhost_tls(server_rec* s, apr_pool_t* pconf) {
    ServerConfig& config = server_config(s);
    GlobalConfig& global = global_config(s);
    VhostTls* previous = config.tls;
    try {
        VhostTls* tls = pool_own(pconf, VhostTls::build(s, config, *global.vhost_build_state));
        config.tls = tls;
        if (previous != nullptr) global.openssl_rsa_keys -= previous->openssl_rsa_keys();
        if (tls->verifies_clients()) global.offer_post_handshake_auth = true;
        global.openssl_rsa_keys += tls->openssl_rsa_keys();
        for (const auto* list : {&config.certificate_files, &config.key_files}) {
            for (const std::string& name : *list) {
                if (is_pkcs11_uri(name)) global.uses_tokens = true;
            }
        }
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "GTLS0102: %s: TLS enabled with %" APR_SIZE_T_FMT " certificate chain(s) (%s)",
                     tls->id().c_str(), tls->chains().size(), chain_origin_name(tls->origin()));
        return true;
    } catch (const std::exception& e) {
        ap_log_error(APLOG_MARK, APLOG_ERR | APLOG_STARTUP, 0, s, "GTLS0101: %s: %s", describe_server(s).c_str(), e.what());
        return false;
    }
}

bool build_all_vhost_tls(server_rec* main_server, apr_pool_t* pconf) {
    bool all_built = true;
    GlobalConfig& global = global_config(main_server);
    global.vhost_build_state = std::make_shared<SharedBuildState>();
    global.offer_post_handshake_auth = false;
    global.uses_tokens = false;
    global.openssl_rsa_keys = 0;
    global.rsa_signer_fallbacks.clear();
    if (global.rsa_signer == RsaSigner::OpenSSL && !openssl_rsa_signer_available()) {
        global.rsa_signer_fallbacks.emplace_back(
            "GnuTLSRSASigner openssl: this mod_gtls was built without OpenSSL's libcrypto; RSA keys sign with GnuTLS");
    }
    try {
        load_pkcs11_providers(global.pkcs11_modules);
    } catch (const std::exception& e) {
        ap_log_error(APLOG_MARK, APLOG_ERR | APLOG_STARTUP, 0, main_server, "GTLS0101: %s", e.what());
        return false;
    }
    for (server_rec* s = main_server; s != nullptr; s = s->next) {
        ServerConfig& config = server_config(s);
        config.tls = nullptr;
        if (!config.is_enabled()) continue;
        if (config.certificate_files.empty() && config.key_files.empty() && certificate_providers_hooked()) {
            // mod_md may provide its certificate; it can be asked in post_config only.
            continue;
        }
        if (!install_vhost_tls(s, pconf)) all_built = false;
    }
    return all_built;
}

}  // namespace gtls
