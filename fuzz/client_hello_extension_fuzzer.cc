// libFuzzer target: arbitrary bytes as the extension_data of one ClientHello
// extension, through gtls::add_client_hello_extension as server_name, as ALPN and
// as another extension. The whole-message path, with GnuTLS framing the bytes
// as a real server does, is client_hello_fuzzer.cc. Besides crashes, leaks and
// UB it stops on results that break the parser's promises.
#include "core/client_hello.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "client_hello_extension_fuzzer: %s\n", what);
    std::abort();
}

gtls::ClientHelloExtensions parse(unsigned tls_id, const unsigned char* data, std::size_t size) {
    gtls::ClientHelloExtensions out;
    gtls::add_client_hello_extension(out, tls_id, data, static_cast<unsigned>(size));
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    // An extension_data is at most 2^16-1 bytes; libFuzzer's -max_len keeps far below.
    if (size > 0xffff) return -1;

    auto sni = parse(gtls::kExtensionServerName, data, size);
    if (!sni.alpn.empty()) fail("server_name produced ALPN names");
    // The name is bytes of the list: at most the extension minus the list length
    // and one entry header.
    if (!sni.server_name.empty() && sni.server_name.size() + 5 > size) fail("server name longer than its extension");
    // A name already chosen is kept when another server_name extension follows.
    gtls::ClientHelloExtensions twice;
    twice.server_name = "chosen.test";
    gtls::add_client_hello_extension(twice, gtls::kExtensionServerName, data, static_cast<unsigned>(size));
    if (twice.server_name != "chosen.test") fail("a second server_name replaced the first");

    auto alpn = parse(gtls::kExtensionAlpn, data, size);
    if (!alpn.server_name.empty()) fail("ALPN produced a server name");
    std::size_t total = 2;
    for (const std::string& name : alpn.alpn) {
        if (name.empty() || name.size() > 255) fail("ALPN name outside 1..255 bytes");
        total += 1 + name.size();
    }
    if (!alpn.alpn.empty() && total > size) fail("ALPN names longer than their extension");

    auto other = parse(gtls::kExtensionAlpn + 1, data, size);
    if (!other.server_name.empty() || !other.alpn.empty()) fail("an unrelated extension was parsed");
    return 0;
}
