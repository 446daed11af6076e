#include "core/directive_values.h"

#include "core/ascii.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace gtls {

Parsed<bool> parse_on_off(std::string_view text) {
    if (ascii_iequals(text, "on")) return {true, {}};
    if (ascii_iequals(text, "off")) return {false, {}};
    return {std::nullopt, "must be On or Off, not '" + std::string(text) + "'"};
}

Parsed<ClientVerify> parse_client_verify(std::string_view text) {
    if (ascii_iequals(text, "ignore") || ascii_iequals(text, "none") || ascii_iequals(text, "off")) {
        return {ClientVerify::Ignore, {}};
    }
    if (ascii_iequals(text, "request")) return {ClientVerify::Request, {}};
    if (ascii_iequals(text, "require")) return {ClientVerify::Require, {}};
    return {std::nullopt, "must be ignore, none, off, request or require, not '" + std::string(text) + "'"};
}

Parsed<CertificatePreference> parse_certificate_preference(std::string_view text) {
    if (ascii_iequals(text, "cost")) return {CertificatePreference::Cost, {}};
    if (ascii_iequals(text, "order")) return {CertificatePreference::Order, {}};
    return {std::nullopt, "must be cost or order, not '" + std::string(text) + "'"};
}

Parsed<RsaSigner> parse_rsa_signer(std::string_view text) {
    if (ascii_iequals(text, "gnutls")) return {RsaSigner::GnuTLS, {}};
    if (ascii_iequals(text, "openssl")) return {RsaSigner::OpenSSL, {}};
    return {std::nullopt, "must be gnutls or openssl, not '" + std::string(text) + "'"};
}

Parsed<long> parse_whole_number(std::string_view text, long min, long max, std::string_view unit) {
    long value = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || ptr != end) {
        return {std::nullopt, "must be a whole number of " + std::string(unit) + ", not '" + std::string(text) + "'"};
    }
    if (value < min || value > max) {
        return {std::nullopt, "must be between " + std::to_string(min) + " and " + std::to_string(max) + " " +
                                  std::string(unit) + ", not " + std::to_string(value)};
    }
    return {value, {}};
}

Parsed<long> parse_seconds(std::string_view text, long min, long max) {
    return parse_whole_number(text, min, max, "seconds");
}

Parsed<SessionCacheSpec> parse_session_cache(std::string_view text, std::string_view legacy_argument) {
    if (text.empty()) return {std::nullopt, "needs a cache type such as 'shmcb' or 'none'"};
    std::string_view provider = text;
    std::string_view argument;
    if (auto colon = text.find(':'); colon != std::string_view::npos) {
        if (!legacy_argument.empty()) {
            return {std::nullopt, "takes either 'type:argument' or 'type argument', not both"};
        }
        provider = text.substr(0, colon);
        argument = text.substr(colon + 1);
    } else {
        argument = legacy_argument;
    }
    std::string name = ascii_lowercase(provider);
    if (name == "none") {
        if (!argument.empty()) return {std::nullopt, "'none' takes no argument"};
        return {SessionCacheSpec{}, {}};
    }
    if (name == "gdbm") name = "dbm";
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](unsigned char ch) {
            return std::isalnum(ch) || ch == '_' || ch == '-';
        })) {
        return {std::nullopt, "'" + std::string(provider) + "' is not a cache type name"};
    }
    return {SessionCacheSpec{name, std::string(argument)}, {}};
}

}  // namespace gtls
