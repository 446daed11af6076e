// Parsing of GnuTLS* directive arguments: pure functions, so both the directive
// handlers and the unit tests use exactly the same rules.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gtls {

// A value or the reason the text is not acceptable (for the admin's error message).
template <typename T>
struct Parsed {
    std::optional<T> value;
    std::string error;
    explicit operator bool() const { return value.has_value(); }
};

// "On"/"Off", case-insensitive.
Parsed<bool> parse_on_off(std::string_view text);

// A whole number of seconds in [min, max].
// A whole number of `unit` (for messages: "seconds", "bytes") in [min, max].
Parsed<long> parse_whole_number(std::string_view text, long min, long max, std::string_view unit);
Parsed<long> parse_seconds(std::string_view text, long min, long max);

// GnuTLSCertificatePreference: how a vhost with several chains picks one per
// handshake among those the client accepts.
enum class CertificatePreference {
    Cost,   // the cheapest to sign with (ECDSA/EdDSA before RSA), then configuration order
    Order,  // configuration order
};
// "cost" or "order", case-insensitive.
Parsed<CertificatePreference> parse_certificate_preference(std::string_view text);

// GnuTLSRSASigner: which library computes signatures with RSA keys read from
// files (keys on PKCS #11 tokens and other key types always sign with GnuTLS).
enum class RsaSigner {
    GnuTLS,
    OpenSSL,  // libcrypto, through core/rsa_signer
};

Parsed<RsaSigner> parse_rsa_signer(std::string_view text);

// GnuTLSClientVerify: whether clients are asked for a certificate.
enum class ClientVerify {
    Ignore,   // not asked ("ignore", "none")
    Request,  // asked; a client without one, or with one that fails, is still served
    Require,  // a client without a valid certificate fails the handshake
};
Parsed<ClientVerify> parse_client_verify(std::string_view text);

// GnuTLSCache: which socache provider stores TLS sessions, and its argument.
struct SessionCacheSpec {
    std::string provider;  // empty means no cache ("none")
    std::string argument;  // provider-specific, may be empty

    bool enabled() const { return !provider.empty(); }
    bool operator==(const SessionCacheSpec&) const = default;
};

// Accepts "none", "provider", "provider:argument" (httpd's socache syntax, as in
// SSLSessionCache) and mod_gnutls's legacy two-argument form "provider argument"
// (pass the second word as `legacy_argument`). "dbm"/"gdbm" map to socache "dbm".
// Does not check that the provider module is loaded: only httpd knows that.
Parsed<SessionCacheSpec> parse_session_cache(std::string_view text, std::string_view legacy_argument = {});

}  // namespace gtls
