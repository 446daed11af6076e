// What the module reads from a ClientHello before GnuTLS processes it: the
// server name (RFC 6066) that picks the virtual host and the ALPN list
// (RFC 7301) that picks the protocol. The bytes come straight from the client.
#pragma once

#include <gnutls/gnutls.h>

#include <string>
#include <vector>

namespace gtls {

// TLS ExtensionType values (RFC 6066 section 3, RFC 7301 section 3.1).
inline constexpr unsigned kExtensionServerName = 0;
inline constexpr unsigned kExtensionAlpn = 16;

struct ClientHelloExtensions {
    // The first non-empty host_name of server_name; empty when there is none.
    // Arbitrary client bytes: not checked to be a DNS name (GnuTLS checks that
    // later in the same handshake).
    std::string server_name;
    // ALPN protocol names in the client's order, each 1 to 255 bytes; the names
    // before the first malformed entry when the list is malformed.
    std::vector<std::string> alpn;
};

// Adds what one ClientHello extension says to `out`: `tls_id` is its
// ExtensionType, `data`/`size` its extension_data (borrowed for the call). Other
// extensions and malformed lengths are ignored, never read past `size`. A
// server_name already set is kept. Pure; any thread; throws only std::bad_alloc.
void add_client_hello_extension(ClientHelloExtensions& out, unsigned tls_id, const unsigned char* data, unsigned size);

// The server name and ALPN list of a whole ClientHello handshake message body
// (what a GNUTLS_HANDSHAKE_CLIENT_HELLO hook receives), whatever its
// legacy_version, through gnutls_ext_raw_parse. When the extension block is
// malformed, the result holds what the extensions before the malformed part
// said. Any thread; throws only std::bad_alloc (caught inside the GnuTLS
// callback and rethrown here).
ClientHelloExtensions read_client_hello_extensions(const gnutls_datum_t& message);

}  // namespace gtls
