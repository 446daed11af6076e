#include "core/certificate_chain.h"

#include "core/file_bytes.h"

#include <cstring>
#include <stdexcept>

namespace gtls {

bool is_pkcs11_uri(const std::string& path) { return path.rfind("pkcs11:", 0) == 0; }

namespace {

// Certificate and key files are small; anything bigger is a mistake.
constexpr std::size_t kMaxPemFileSize = 1024 * 1024;
constexpr unsigned kTlsFeatureStatusRequest = 5;  // RFC 7633, RFC 6066 extension id

[[noreturn]] void fail(ChainLoadError::File file, const std::string& path, const std::string& reason) {
    throw ChainLoadError(file, path + ": " + reason);
}

std::vector<unsigned char> read_small_file(ChainLoadError::File file, const std::string& path) {
    try {
        return read_file_bytes(path, kMaxPemFileSize);
    } catch (const std::exception& e) {
        throw ChainLoadError(file, e.what());
    }
}

// GnuTLS's PIN callback: answers once with the configured PIN and never again
// for the same login, so a wrong PIN costs the token one failed attempt, not a
// loop of them that would lock it.
int answer_pin(void* userdata, int attempt, const char*, const char*, unsigned flags, char* pin, size_t pin_max) {
    const auto* configured = static_cast<const std::string*>(userdata);
    if (configured == nullptr || configured->empty() || attempt > 0 || (flags & GNUTLS_PIN_WRONG) != 0 ||
        configured->size() >= pin_max) {
        return -1;
    }
    std::memcpy(pin, configured->c_str(), configured->size() + 1);
    return 0;
}

std::string token_error(int rc) {
    switch (rc) {
        case GNUTLS_E_PKCS11_PIN_ERROR:
        case GNUTLS_E_PKCS11_PIN_EXPIRED:
        case GNUTLS_E_PKCS11_PIN_LOCKED:
        case GNUTLS_E_PKCS11_USER_ERROR:
            return std::string("the token refused the login (") + gnutls_strerror(rc) + "); check GnuTLSPIN";
        case GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE:
        case GNUTLS_E_PKCS11_REQUESTED_OBJECT_NOT_AVAILBLE:
            return "no such object on any token (check the URI, the token and GnuTLSP11Module)";
        default:
            return gnutls_strerror(rc);
    }
}

std::vector<OwnedCrt> import_token_certificate(const std::string& uri, const std::string* pin) {
    gnutls_x509_crt_t crt = nullptr;
    if (int rc = gnutls_x509_crt_init(&crt); rc < 0) fail(ChainLoadError::File::Chain, uri, gnutls_strerror(rc));
    OwnedCrt owned(crt);
    gnutls_x509_crt_set_pin_function(crt, answer_pin, const_cast<std::string*>(pin));
    if (int rc = gnutls_x509_crt_import_url(crt, uri.c_str(), 0); rc < 0) {
        fail(ChainLoadError::File::Chain, uri, token_error(rc));
    }
    std::vector<OwnedCrt> single;
    single.push_back(std::move(owned));
    return single;
}

std::vector<OwnedCrt> import_chain(const std::string& path, const std::string* pin) {
    if (is_pkcs11_uri(path)) return import_token_certificate(path, pin);
    auto bytes = read_small_file(ChainLoadError::File::Chain, path);
    gnutls_datum_t data{bytes.data(), static_cast<unsigned>(bytes.size())};
    gnutls_x509_crt_t* list = nullptr;
    unsigned count = 0;
    int rc = gnutls_x509_crt_list_import2(&list, &count, &data, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || count == 0) {
        // A single DER certificate is acceptable too.
        gnutls_x509_crt_t crt = nullptr;
        if (gnutls_x509_crt_init(&crt) == 0) {
            OwnedCrt owned(crt);
            if (gnutls_x509_crt_import(crt, &data, GNUTLS_X509_FMT_DER) == 0) {
                std::vector<OwnedCrt> single;
                single.push_back(std::move(owned));
                return single;
            }
        }
        fail(ChainLoadError::File::Chain, path, std::string("no certificate could be read (") + gnutls_strerror(rc) + ")");
    }
    std::vector<OwnedCrt> chain;
    chain.reserve(count);
    for (unsigned i = 0; i < count; ++i) chain.emplace_back(list[i]);
    free_gnutls_memory(list);
    return chain;
}

OwnedPrivkey import_key(const std::string& path, const std::string* pin) {
    auto bytes = read_small_file(ChainLoadError::File::Key, path);
    gnutls_datum_t data{bytes.data(), static_cast<unsigned>(bytes.size())};
    gnutls_x509_privkey_t key = nullptr;
    if (int rc = gnutls_x509_privkey_init(&key); rc < 0) fail(ChainLoadError::File::Key, path, gnutls_strerror(rc));
    OwnedPrivkey owned(key);
    const char* password = pin != nullptr && !pin->empty() ? pin->c_str() : nullptr;
    int rc = gnutls_x509_privkey_import2(key, &data, GNUTLS_X509_FMT_PEM, password, 0);
    if (rc < 0 && rc != GNUTLS_E_DECRYPTION_FAILED) rc = gnutls_x509_privkey_import2(key, &data, GNUTLS_X509_FMT_DER, password, 0);
    std::memset(bytes.data(), 0, bytes.size());
    if (rc == GNUTLS_E_DECRYPTION_FAILED) {
        fail(ChainLoadError::File::Key, path, password == nullptr
                                                  ? "the private key is encrypted and no GnuTLSPIN gives its passphrase"
                                                  : "the private key is encrypted and GnuTLSPIN is not its passphrase");
    }
    if (rc < 0) fail(ChainLoadError::File::Key, path, std::string("no private key could be read (") + gnutls_strerror(rc) + ")");
    return owned;
}

OwnedAbstractPrivkey import_token_key(const std::string& uri, const std::string* pin) {
    gnutls_privkey_t key = nullptr;
    if (int rc = gnutls_privkey_init(&key); rc < 0) fail(ChainLoadError::File::Key, uri, gnutls_strerror(rc));
    OwnedAbstractPrivkey owned(key);
    gnutls_privkey_set_pin_function(key, answer_pin, const_cast<std::string*>(pin));
    if (int rc = gnutls_privkey_import_url(key, uri.c_str(), 0); rc < 0) fail(ChainLoadError::File::Key, uri, token_error(rc));
    return owned;
}

// Whether `key` signs what the leaf's public key verifies: for a key on a
// token, whose public half may not be readable, the only sure check, and it
// proves the login works before httpd starts.
std::string token_key_mismatch(gnutls_privkey_t key, gnutls_x509_crt_t leaf) {
    gnutls_pubkey_t raw = nullptr;
    if (gnutls_pubkey_init(&raw) < 0) return "out of memory";
    OwnedPubkey pubkey(raw);
    if (int rc = gnutls_pubkey_import_x509(raw, leaf, 0); rc < 0) return gnutls_strerror(rc);
    const auto algorithm = static_cast<gnutls_pk_algorithm_t>(gnutls_pubkey_get_pk_algorithm(raw, nullptr));
    const gnutls_sign_algorithm_t sign = algorithm == GNUTLS_PK_EDDSA_ED25519 ? GNUTLS_SIGN_EDDSA_ED25519
                                         : algorithm == GNUTLS_PK_EDDSA_ED448 ? GNUTLS_SIGN_EDDSA_ED448
                                                                              : gnutls_pk_to_sign(algorithm, GNUTLS_DIG_SHA256);
    static const unsigned char kProbe[] = "mod_gtls: does this key belong to this certificate?";
    const gnutls_datum_t probe{const_cast<unsigned char*>(kProbe), sizeof(kProbe) - 1};
    OwnedDatum signature;
    if (int rc = gnutls_privkey_sign_data2(key, sign, 0, &probe, signature.out()); rc < 0) {
        return std::string("the key cannot sign: ") + token_error(rc);
    }
    if (gnutls_pubkey_verify_data2(raw, sign, 0, &probe, &signature.get()) < 0) return "the private key does not match the certificate";
    return "";
}

bool has_must_staple(gnutls_x509_crt_t crt) {
    gnutls_x509_tlsfeatures_t features = nullptr;
    if (gnutls_x509_tlsfeatures_init(&features) < 0) return false;
    bool found = false;
    if (gnutls_x509_crt_get_tlsfeatures(crt, features, 0, nullptr) == 0) {
        unsigned feature = 0;
        for (unsigned i = 0; gnutls_x509_tlsfeatures_get(features, i, &feature) == 0; ++i) {
            if (feature == kTlsFeatureStatusRequest) found = true;
        }
    }
    gnutls_x509_tlsfeatures_deinit(features);
    return found;
}

// SHA-256 key id of a certificate's or a private key's public key.
template <typename Handle, typename Getter>
std::vector<unsigned char> key_id(Handle handle, Getter getter) {
    std::vector<unsigned char> id(64);
    size_t size = id.size();
    if (getter(handle, GNUTLS_KEYID_USE_SHA256, id.data(), &size) < 0) return {};
    id.resize(size);
    return id;
}

}  // namespace

CertificateChain CertificateChain::load_certificates(const std::string& chain_path) {
    return load_certificates(chain_path, nullptr);
}

CertificateChain CertificateChain::load_certificates(const std::string& chain_path, const std::string* pin) {
    CertificateChain chain;
    chain.chain_path_ = chain_path;
    chain.certificates_ = import_chain(chain_path, pin);
    chain.must_staple_ = has_must_staple(chain.leaf());
    try {
        chain.leaf_facts_ = describe_certificate(chain.leaf());
    } catch (const std::runtime_error& e) {
        fail(ChainLoadError::File::Chain, chain_path, e.what());
    }
    return chain;
}

CertificateChain CertificateChain::load(const std::string& chain_path, const std::string& key_path,
                                        const std::string* pin) {
    CertificateChain chain = load_certificates(chain_path, pin);
    chain.key_path_ = key_path;
    if (is_pkcs11_uri(key_path)) {
        chain.token_key_ = import_token_key(key_path, pin);
        if (std::string mismatch = token_key_mismatch(chain.token_key_.get(), chain.leaf()); !mismatch.empty()) {
            fail(ChainLoadError::File::Key, key_path, mismatch + " in " + chain_path);
        }
        return chain;
    }
    chain.key_ = import_key(key_path, pin);
    auto certificate_id = key_id(chain.leaf(), gnutls_x509_crt_get_key_id);
    if (certificate_id.empty() || certificate_id != key_id(chain.key(), gnutls_x509_privkey_get_key_id)) {
        fail(ChainLoadError::File::Key, key_path, "the private key does not match the certificate in " + chain_path);
    }
    return chain;
}

std::vector<gnutls_x509_crt_t> CertificateChain::certificates() const {
    std::vector<gnutls_x509_crt_t> raw;
    raw.reserve(certificates_.size());
    for (const auto& crt : certificates_) raw.push_back(crt.get());
    return raw;
}

gnutls_x509_crt_t CertificateChain::issuer() const {
    if (certificates_.size() < 2) return nullptr;
    gnutls_x509_crt_t candidate = certificates_[1].get();
    return gnutls_x509_crt_check_issuer(leaf(), candidate) != 0 ? candidate : nullptr;
}

std::string CertificateChain::key_type() const {
    unsigned bits = 0;
    int algorithm = gnutls_x509_crt_get_pk_algorithm(leaf(), &bits);
    const char* name = gnutls_pk_algorithm_get_name(static_cast<gnutls_pk_algorithm_t>(algorithm));
    return name != nullptr ? name : "unknown";
}

int CertificateChain::signing_cost_rank() const {
    switch (gnutls_x509_crt_get_pk_algorithm(leaf(), nullptr)) {
        case GNUTLS_PK_ECDSA:
        case GNUTLS_PK_EDDSA_ED25519:
        case GNUTLS_PK_EDDSA_ED448:
            return 0;
        case GNUTLS_PK_RSA:
        case GNUTLS_PK_RSA_PSS:
            return 1;
        default:
            return 2;
    }
}

std::string CertificateChain::subject() const {
    OwnedDatum dn;
    if (gnutls_x509_crt_get_dn3(leaf(), dn.out(), 0) < 0) return {};
    return std::string(reinterpret_cast<const char*>(dn.data()), dn.size());
}

}  // namespace gtls
