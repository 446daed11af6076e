#include "core/client_hello.h"

#include <exception>
#include <utility>

namespace gtls {

namespace {

unsigned read_u16(const unsigned char* p) { return (unsigned{p[0]} << 8) | p[1]; }

// Lengths are compared with the bytes left rather than by forming pointers past
// the end: a length the client made up must never become an address.

// The body of an extension that is one list with a 16-bit length, or false
// when that length does not fit in the extension.
bool u16_list(const unsigned char* data, unsigned size, const unsigned char*& list, unsigned& list_size) {
    if (size < 2) return false;
    list_size = read_u16(data);
    if (list_size + 2 > size) return false;
    list = data + 2;
    return true;
}

// RFC 6066 section 3:
//   struct { NameType name_type; select (name_type) { case host_name: HostName; } name; } ServerName;
//   enum { host_name(0), (255) } NameType;
//   opaque HostName<1..2^16-1>;
//   struct { ServerName server_name_list<1..2^16-1> } ServerNameList;
// Entries of other types are skipped over by their length.
void parse_server_name(const unsigned char* data, unsigned size, ClientHelloExtensions& out) {
    const unsigned char* p = nullptr;
    unsigned left = 0;
    if (!u16_list(data, size, p, left)) return;
    while (left >= 3) {
        unsigned type = p[0];
        unsigned name_size = read_u16(p + 1);
        p += 3;
        left -= 3;
        if (name_size > left) return;
        if (type == 0 && out.server_name.empty()) {
            out.server_name.assign(reinterpret_cast<const char*>(p), name_size);
        }
        p += name_size;
        left -= name_size;
    }
}

// RFC 7301 section 3.1:
//   opaque ProtocolName<1..2^8-1>;
//   struct { ProtocolName protocol_name_list<2..2^16-1> } ProtocolNameList;
// "Empty strings MUST NOT be included": parsing stops at one.
void parse_alpn(const unsigned char* data, unsigned size, ClientHelloExtensions& out) {
    const unsigned char* p = nullptr;
    unsigned left = 0;
    if (!u16_list(data, size, p, left)) return;
    while (left > 0) {
        unsigned name_size = *p++;
        --left;
        if (name_size == 0 || name_size > left) return;
        out.alpn.emplace_back(reinterpret_cast<const char*>(p), name_size);
        p += name_size;
        left -= name_size;
    }
}

// gnutls_ext_raw_parse's callback runs inside GnuTLS's C code, which an
// exception must not cross: it is parked here and rethrown after the parse.
struct RawParse {
    ClientHelloExtensions extensions;
    std::exception_ptr error;
};

int collect_extension(void* ctx, unsigned tls_id, const unsigned char* data, unsigned size) {
    auto& parse = *static_cast<RawParse*>(ctx);
    try {
        add_client_hello_extension(parse.extensions, tls_id, data, size);
        return 0;
    } catch (...) {
        parse.error = std::current_exception();
        return GNUTLS_E_MEMORY_ERROR;  // stops the parse
    }
}

// RFC 8446 section 4.1.2 (RFC 5246 section 7.4.1.2 is the same up to here):
//   struct { ProtocolVersion legacy_version; Random random; opaque legacy_session_id<0..32>;
//            CipherSuite cipher_suites<2..2^16-2>; opaque legacy_compression_methods<1..2^8-1>;
//            Extension extensions<8..2^16-1>; } ClientHello;
// The extensions field (its length included) of a ClientHello body, or an empty
// datum when the body ends before it. legacy_version is not looked at: GnuTLS
// answers a ClientHello whose version it does not know (0x0401, 0xfe01) with the
// highest version it has, so its extensions count like any other's.
// (gnutls_ext_raw_parse's GNUTLS_EXT_RAW_FLAG_TLS_CLIENT_HELLO skips these fields
// too, but refuses a major version other than 3, and then the module would see
// no server name and no ALPN in a ClientHello GnuTLS goes on to serve.)
gnutls_datum_t extension_block(const gnutls_datum_t& message) {
    const unsigned char* p = message.data;
    unsigned left = message.size;
    auto skip = [&](unsigned n) {
        if (n > left) return false;
        p += n;
        left -= n;
        return true;
    };
    auto skip_vector = [&](unsigned length_bytes) {
        if (length_bytes > left) return false;
        unsigned length = length_bytes == 1 ? p[0] : read_u16(p);
        return skip(length_bytes) && skip(length);
    };
    if (!skip(2 + 32) || !skip_vector(1) || !skip_vector(2) || !skip_vector(1)) return {nullptr, 0};
    return {const_cast<unsigned char*>(p), left};
}

}  // namespace

void add_client_hello_extension(ClientHelloExtensions& out, unsigned tls_id, const unsigned char* data, unsigned size) {
    if (tls_id == kExtensionServerName) parse_server_name(data, size, out);
    if (tls_id == kExtensionAlpn) parse_alpn(data, size, out);
}

ClientHelloExtensions read_client_hello_extensions(const gnutls_datum_t& message) {
    RawParse parse;
    gnutls_datum_t extensions = extension_block(message);
    // The result is not checked on purpose: what the extensions before a
    // malformed one said still counts, and GnuTLS's own parse of the same
    // extensions, right after this hook, rejects the ClientHello.
    if (extensions.size > 0) gnutls_ext_raw_parse(&parse, collect_extension, &extensions, 0);
    if (parse.error) std::rethrow_exception(parse.error);
    return std::move(parse.extensions);
}

}  // namespace gtls
