// The ClientHello's server_name and ALPN extensions as the module reads them:
// well-formed lists, and the malformed ones a client can send.
#include "core/client_hello.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gtls {
namespace {

using Bytes = std::vector<unsigned char>;

void append_u16(Bytes& out, unsigned value) {
    out.push_back(static_cast<unsigned char>(value >> 8));
    out.push_back(static_cast<unsigned char>(value));
}

void append(Bytes& out, const std::string& text) { out.insert(out.end(), text.begin(), text.end()); }

// One ServerName entry: name_type, then a HostName<1..2^16-1>.
Bytes server_name_entry(unsigned type, const std::string& name) {
    Bytes entry{static_cast<unsigned char>(type)};
    append_u16(entry, static_cast<unsigned>(name.size()));
    append(entry, name);
    return entry;
}

// A 16-bit length, then `body`: ServerNameList, ProtocolNameList, an extension block.
Bytes with_u16_length(const Bytes& body) {
    Bytes out;
    append_u16(out, static_cast<unsigned>(body.size()));
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
    return out;
}

// ProtocolName entries: an 8-bit length, then the name.
Bytes protocol_names(std::initializer_list<std::string> names) {
    Bytes out;
    for (const auto& name : names) {
        out.push_back(static_cast<unsigned char>(name.size()));
        append(out, name);
    }
    return out;
}

ClientHelloExtensions parse(unsigned tls_id, const Bytes& data) {
    ClientHelloExtensions out;
    add_client_hello_extension(out, tls_id, data.data(), static_cast<unsigned>(data.size()));
    return out;
}

TEST(ClientHello, ServerName) {
    auto out = parse(kExtensionServerName, with_u16_length(server_name_entry(0, "www.example.com")));
    EXPECT_EQ(out.server_name, "www.example.com");
    EXPECT_TRUE(out.alpn.empty());
}

TEST(ClientHello, FirstHostNameWinsOtherTypesAreSkipped) {
    auto list = with_u16_length(concat({server_name_entry(7, "not-a-host-name"), server_name_entry(0, "first.test"),
                                        server_name_entry(0, "second.test")}));
    EXPECT_EQ(parse(kExtensionServerName, list).server_name, "first.test");
    // An empty host_name is no name: the next one is taken.
    auto empty_first = with_u16_length(concat({server_name_entry(0, ""), server_name_entry(0, "named.test")}));
    EXPECT_EQ(parse(kExtensionServerName, empty_first).server_name, "named.test");
}

TEST(ClientHello, ServerNameAlreadySetIsKept) {
    ClientHelloExtensions out;
    auto first = with_u16_length(server_name_entry(0, "first.test"));
    auto second = with_u16_length(server_name_entry(0, "second.test"));
    add_client_hello_extension(out, kExtensionServerName, first.data(), static_cast<unsigned>(first.size()));
    add_client_hello_extension(out, kExtensionServerName, second.data(), static_cast<unsigned>(second.size()));
    EXPECT_EQ(out.server_name, "first.test");
}

TEST(ClientHello, MalformedServerNameLengths) {
    EXPECT_EQ(parse(kExtensionServerName, {}).server_name, "");
    EXPECT_EQ(parse(kExtensionServerName, {0x00}).server_name, "");
    // The list claims more bytes than the extension has.
    auto list = with_u16_length(server_name_entry(0, "www.example.com"));
    list[0] = 0xff;
    list[1] = 0xff;
    EXPECT_EQ(parse(kExtensionServerName, list).server_name, "");
    // The list is one byte short of its last entry: the entry is dropped.
    auto truncated = with_u16_length(server_name_entry(0, "www.example.com"));
    truncated.pop_back();
    truncated[1] -= 1;
    EXPECT_EQ(parse(kExtensionServerName, truncated).server_name, "");
    // A name length past the end of the list, after a good entry: the good one counts.
    auto overrun = with_u16_length(concat({server_name_entry(0, "good.test"), Bytes{0x00, 0xff, 0xff, 'x'}}));
    EXPECT_EQ(parse(kExtensionServerName, overrun).server_name, "good.test");
    // Less than one entry header left at the end of the list, and bytes after the list: ignored.
    auto trailing = concat({with_u16_length(concat({server_name_entry(0, "a.test"), Bytes{0x00, 0x00}})), Bytes{0x00}});
    EXPECT_EQ(parse(kExtensionServerName, trailing).server_name, "a.test");
}

TEST(ClientHello, AlpnList) {
    auto out = parse(kExtensionAlpn, with_u16_length(protocol_names({"h2", "http/1.1"})));
    EXPECT_EQ(out.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
    EXPECT_EQ(out.server_name, "");
    std::string longest(255, 'p');
    EXPECT_EQ(parse(kExtensionAlpn, with_u16_length(protocol_names({longest}))).alpn,
              std::vector<std::string>{longest});
}

TEST(ClientHello, ZeroLengthProtocolNameEndsTheList) {
    auto out = parse(kExtensionAlpn, with_u16_length(protocol_names({"h2", "", "http/1.1"})));
    EXPECT_EQ(out.alpn, std::vector<std::string>{"h2"});
    EXPECT_TRUE(parse(kExtensionAlpn, with_u16_length(protocol_names({""}))).alpn.empty());
}

TEST(ClientHello, MalformedAlpnLengths) {
    EXPECT_TRUE(parse(kExtensionAlpn, {}).alpn.empty());
    EXPECT_TRUE(parse(kExtensionAlpn, {0x00}).alpn.empty());
    EXPECT_TRUE(parse(kExtensionAlpn, {0x00, 0x00}).alpn.empty());
    // The list claims more bytes than the extension has.
    auto oversized = with_u16_length(protocol_names({"h2"}));
    oversized[1] += 1;
    EXPECT_TRUE(parse(kExtensionAlpn, oversized).alpn.empty());
    // A name longer than what is left of the list: the names before it count.
    auto overrun = with_u16_length(concat({protocol_names({"h2"}), Bytes{0x09, 'h', 't', 't', 'p'}}));
    EXPECT_EQ(parse(kExtensionAlpn, overrun).alpn, std::vector<std::string>{"h2"});
    // Bytes after the list are not names.
    auto trailing = concat({with_u16_length(protocol_names({"h2"})), protocol_names({"http/1.1"})});
    EXPECT_EQ(parse(kExtensionAlpn, trailing).alpn, std::vector<std::string>{"h2"});
}

TEST(ClientHello, OtherExtensionsAreIgnored) {
    auto out = parse(kExtensionServerName + 1, with_u16_length(server_name_entry(0, "www.example.com")));
    EXPECT_EQ(out.server_name, "");
    EXPECT_TRUE(parse(kExtensionAlpn + 1, with_u16_length(protocol_names({"h2"}))).alpn.empty());
}

// A ClientHello body (RFC 8446 section 4.1.2) with the given extension block.
Bytes client_hello(const Bytes& extension_block, Bytes legacy_version = {0x03, 0x03}) {
    Bytes hello = legacy_version;
    hello.insert(hello.end(), 32, 0x2a);      // random
    hello.push_back(0);                       // legacy_session_id
    append_u16(hello, 2);                     // cipher_suites
    hello.insert(hello.end(), {0x13, 0x01});  // TLS_AES_128_GCM_SHA256
    hello.insert(hello.end(), {0x01, 0x00});  // legacy_compression_methods: null
    hello.insert(hello.end(), extension_block.begin(), extension_block.end());
    return hello;
}

Bytes extension(unsigned type, const Bytes& data) {
    Bytes out;
    append_u16(out, type);
    append_u16(out, static_cast<unsigned>(data.size()));
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

ClientHelloExtensions read(Bytes message) {
    gnutls_datum_t datum{message.data(), static_cast<unsigned>(message.size())};
    return read_client_hello_extensions(datum);
}

TEST(ClientHello, WholeClientHello) {
    auto block = with_u16_length(concat({extension(23, {}),  // extended_master_secret
                                         extension(kExtensionServerName, with_u16_length(server_name_entry(0, "h.test"))),
                                         extension(kExtensionAlpn, with_u16_length(protocol_names({"h2", "http/1.1"})))}));
    auto out = read(client_hello(block));
    EXPECT_EQ(out.server_name, "h.test");
    EXPECT_EQ(out.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
}

// Found by client_hello_fuzzer: GnuTLS serves a ClientHello whose legacy_version
// it does not know (it answers with the highest version it has), so its server
// name and ALPN list must count; gnutls_ext_raw_parse's ClientHello mode had
// refused any major version but 3, and such a client got the default vhost and
// no ALPN while GnuTLS itself went by its server name.
TEST(ClientHello, UnknownLegacyVersionStillCounts) {
    auto block = with_u16_length(concat({extension(kExtensionServerName, with_u16_length(server_name_entry(0, "b.test"))),
                                         extension(kExtensionAlpn, with_u16_length(protocol_names({"h2"})))}));
    for (Bytes version : {Bytes{0x04, 0x01}, Bytes{0xfe, 0x01}, Bytes{0x03, 0x04}}) {
        auto out = read(client_hello(block, version));
        EXPECT_EQ(out.server_name, "b.test") << int{version[0]} << "." << int{version[1]};
        EXPECT_EQ(out.alpn, std::vector<std::string>{"h2"});
    }
}

TEST(ClientHello, WholeClientHelloWithMalformedExtensionBlock) {
    // The ALPN extension claims more bytes than the block has: the server name before it still counts.
    auto alpn = extension(kExtensionAlpn, with_u16_length(protocol_names({"h2"})));
    alpn[3] = 0x7f;
    auto block = with_u16_length(concat({extension(kExtensionServerName, with_u16_length(server_name_entry(0, "h.test"))), alpn}));
    auto out = read(client_hello(block));
    EXPECT_EQ(out.server_name, "h.test");
    EXPECT_TRUE(out.alpn.empty());
    // Cut inside the fixed fields: nothing.
    auto cut = client_hello(block);
    cut.resize(20);
    EXPECT_EQ(read(cut).server_name, "");
    EXPECT_EQ(read({}).server_name, "");
}

}  // namespace
}  // namespace gtls
