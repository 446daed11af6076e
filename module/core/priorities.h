// GnuTLS priority strings: the module's default and validation with a readable reason.
#pragma once

#include "core/owned.h"

#include <string>
#include <string_view>

namespace gtls {

// TLS 1.2 and 1.3 only, forward-secret AEAD suites only, server's order
// preferred: AES-GCM first (hardware-accelerated on servers), ChaCha20 after.
inline constexpr std::string_view kDefaultPriorities =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-RSA:-DHE-RSA:-DHE-DSS:"
    "-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:"
    "%SERVER_PRECEDENCE";

// Compiles `text`; on failure throws std::invalid_argument naming the offending
// part. The caller owns the returned cache; it is read-only and thread-safe.
OwnedPriority compile_priorities(const std::string& text);

}  // namespace gtls
