#include "core/certificate_chain.h"

#include "core/file_bytes.h"

#include <cstring>
#include <stdexcept>

namespace gtls {

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

std::vector<OwnedCrt> import_chain(const std::string& path) {
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

OwnedPrivkey import_key(const std::string& path) {
    auto bytes = read_small_file(ChainLoadError::File::Key, path);
    gnutls_datum_t data{bytes.data(), static_cast<unsigned>(bytes.size())};
    gnutls_x509_privkey_t key = nullptr;
    if (int rc = gnutls_x509_privkey_init(&key); rc < 0) fail(ChainLoadError::File::Key, path, gnutls_strerror(rc));
    OwnedPrivkey owned(key);
    int rc = gnutls_x509_privkey_import2(key, &data, GNUTLS_X509_FMT_PEM, nullptr, 0);
    if (rc < 0) rc = gnutls_x509_privkey_import2(key, &data, GNUTLS_X509_FMT_DER, nullptr, 0);
    std::memset(bytes.data(), 0, bytes.size());
    if (rc == GNUTLS_E_DECRYPTION_FAILED) fail(ChainLoadError::File::Key, path, "the private key is encrypted; mod_gtls needs an unencrypted key");
    if (rc < 0) fail(ChainLoadError::File::Key, path, std::string("no private key could be read (") + gnutls_strerror(rc) + ")");
    return owned;
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
    CertificateChain chain;
    chain.chain_path_ = chain_path;
    chain.certificates_ = import_chain(chain_path);
    chain.must_staple_ = has_must_staple(chain.leaf());
    try {
        chain.leaf_facts_ = describe_certificate(chain.leaf());
    } catch (const std::runtime_error& e) {
        fail(ChainLoadError::File::Chain, chain_path, e.what());
    }
    return chain;
}

CertificateChain CertificateChain::load(const std::string& chain_path, const std::string& key_path) {
    CertificateChain chain = load_certificates(chain_path);
    chain.key_path_ = key_path;
    chain.key_ = import_key(key_path);
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
