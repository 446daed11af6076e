// One configured certificate chain and its private key, loaded and checked.
#pragma once

#include "core/certificate_facts.h"
#include "core/owned.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace gtls {

// Whether GnuTLSCertificateFile/GnuTLSKeyFile names a PKCS #11 object (RFC 7512;
// the directives write the scheme in lower case) rather than a file.
bool is_pkcs11_uri(const std::string& path);

// Why a chain could not be loaded, and which of the two files is at fault.
class ChainLoadError : public std::runtime_error {
public:
    enum class File { Chain, Key };
    ChainLoadError(File file, const std::string& reason) : std::runtime_error(reason), file_(file) {}
    File file() const { return file_; }

private:
    File file_;
};

// A leaf certificate, the rest of its chain and its private key, as configured by
// one GnuTLSCertificateFile/GnuTLSKeyFile pair. Built at configuration time (as
// root); immutable afterwards.
class CertificateChain {
public:
    // Loads a PEM chain (leaf first) and a PEM or DER private key (PKCS #1,
    // SEC 1 or PKCS #8, encrypted with `pin` when it is encrypted). Either may
    // be a PKCS #11 URI ("pkcs11:..."): the certificate is then read from the
    // token (the leaf alone), the key stays on it and `pin` logs in. Throws
    // ChainLoadError with a reason naming the file when a file is unreadable,
    // holds no certificate, holds a broken key, an encrypted key without a
    // `pin` or with the wrong one, when the token refuses the PIN or holds no
    // such object, or when the key does not belong to the leaf. `pin` may be
    // nullptr; otherwise it must outlive the chain's token key, which logs in
    // again with it after a fork.
    static CertificateChain load(const std::string& chain_path, const std::string& key_path,
                                 const std::string* pin = nullptr);
    // Loads only the certificates of a PEM chain (leaf first), for tools that
    // need no private key; key() is nullptr. Throws ChainLoadError like load().
    static CertificateChain load_certificates(const std::string& chain_path);

    const std::string& chain_path() const { return chain_path_; }
    const std::string& key_path() const { return key_path_; }

    // The leaf (index 0) and the rest of the chain; borrowed, valid while *this lives.
    gnutls_x509_crt_t leaf() const { return certificates_.front().get(); }
    std::vector<gnutls_x509_crt_t> certificates() const;
    // The private key read from a file; nullptr when it is on a token.
    gnutls_x509_privkey_t key() const { return key_.get(); }
    // The private key on a PKCS #11 token, handed over once (to GnuTLS's
    // credentials, which then own it); nullptr for a key from a file.
    OwnedAbstractPrivkey take_token_key() { return std::move(token_key_); }

    // The certificate that issued the leaf, when the chain file includes it (second
    // certificate and it verifies as the issuer); nullptr otherwise.
    gnutls_x509_crt_t issuer() const;

    // True when the leaf carries the TLS Feature extension with status_request
    // (RFC 7633, "must-staple").
    bool must_staple() const { return must_staple_; }

    // "RSA", "ECDSA", "EdDSA (Ed25519)", ... for log lines.
    std::string key_type() const;
    // How costly a handshake signature with this chain's key is, as a rank: 0 for
    // elliptic-curve keys (ECDSA, EdDSA), 1 for RSA and RSA-PSS, 2 for anything
    // else. Measured on a server CPU: a TLS 1.3 handshake signed with ECDSA P-256
    // costs about a third of one signed with RSA-2048, and RSA-3072/4096 more still.
    int signing_cost_rank() const;
    // The leaf's subject DN in RFC 4514 form.
    std::string subject() const;
    // The leaf's SSL_SERVER_* facts, worked out at load time.
    const CertificateFacts& leaf_facts() const { return leaf_facts_; }

private:
    static CertificateChain load_certificates(const std::string& chain_path, const std::string* pin);

    std::string chain_path_;
    std::string key_path_;
    std::vector<OwnedCrt> certificates_;
    OwnedPrivkey key_;
    OwnedAbstractPrivkey token_key_;
    bool must_staple_ = false;
    CertificateFacts leaf_facts_;
};

}  // namespace gtls
