// libFuzzer target: arbitrary bytes as what a client sends to a GnuTLS server
// session set up the way TlsConnection (module/httpd/tls_connection.cc) sets up
// one: non-blocking, the module's default priorities, a session ticket key, and
// a GNUTLS_HANDSHAKE_CLIENT_HELLO / GNUTLS_HOOK_PRE hook that reads the server
// name and ALPN list with gtls::read_client_hello_extensions, switches to
// another "virtual host" (credentials, priorities, ticket key) when the name is
// b.fuzz.test, and sets the ALPN protocol as TlsConnection::select_protocol does.
// So GnuTLS frames the records and handshake messages and the module's parser
// gets exactly the ClientHello a server would hand it, including a second one
// after a HelloRetryRequest. No httpd is involved.
//
// Besides crashes, leaks and UB it stops when the module and GnuTLS disagree
// about a ClientHello GnuTLS accepted: the server name GnuTLS read (and selects
// its certificate by) must be one the module read too, and a negotiated ALPN
// protocol must be the one the module chose (see check_agreement).
//
// Seeds: real ClientHellos captured from gnutls-cli and openssl s_client
// (fuzz/make-corpora.sh).
#include "core/client_hello.h"
#include "core/owned.h"
#include "core/priorities.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <strings.h>
#include <vector>

namespace {

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "client_hello_fuzzer: %s\n", what.c_str());
    std::abort();
}

void must(int rc, const char* what) {
    if (rc < 0) fail(std::string(what) + ": " + gnutls_strerror(rc));
}

// One virtual host: what TlsConnection::select_vhost puts into the session.
struct Vhost {
    gtls::OwnedCredentials credentials;
    gtls::OwnedPriority priorities;
    gtls::OwnedDatum ticket_key;
};

// A fresh ECDSA P-256 key and a self-signed certificate for `name`, valid now.
void add_self_signed(gnutls_certificate_credentials_t credentials, const std::string& name) {
    gnutls_x509_privkey_t raw_key = nullptr;
    must(gnutls_x509_privkey_init(&raw_key), "gnutls_x509_privkey_init");
    gtls::OwnedPrivkey key(raw_key);
    must(gnutls_x509_privkey_generate(raw_key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
         "gnutls_x509_privkey_generate");
    gnutls_x509_crt_t raw_crt = nullptr;
    must(gnutls_x509_crt_init(&raw_crt), "gnutls_x509_crt_init");
    gtls::OwnedCrt crt(raw_crt);
    const unsigned char serial[] = {0x01};
    time_t now = std::time(nullptr);
    must(gnutls_x509_crt_set_version(raw_crt, 3), "set_version");
    must(gnutls_x509_crt_set_serial(raw_crt, serial, sizeof(serial)), "set_serial");
    must(gnutls_x509_crt_set_activation_time(raw_crt, now - 86400), "set_activation_time");
    must(gnutls_x509_crt_set_expiration_time(raw_crt, now + 10 * 365 * 86400L), "set_expiration_time");
    must(gnutls_x509_crt_set_dn_by_oid(raw_crt, GNUTLS_OID_X520_COMMON_NAME, 0, name.data(),
                                       static_cast<unsigned>(name.size())),
         "set_dn_by_oid");
    must(gnutls_x509_crt_set_subject_alt_name(raw_crt, GNUTLS_SAN_DNSNAME, name.data(),
                                              static_cast<unsigned>(name.size()), GNUTLS_FSAN_SET),
         "set_subject_alt_name");
    must(gnutls_x509_crt_set_key_usage(raw_crt, GNUTLS_KEY_DIGITAL_SIGNATURE), "set_key_usage");
    must(gnutls_x509_crt_set_key(raw_crt, raw_key), "set_key");
    must(gnutls_x509_crt_sign2(raw_crt, raw_crt, raw_key, GNUTLS_DIG_SHA256, 0), "sign2");
    must(gnutls_certificate_set_x509_key(credentials, &raw_crt, 1, raw_key), "gnutls_certificate_set_x509_key");
}

Vhost* make_vhost(const std::string& name, const std::string& priorities) {
    auto* vhost = new Vhost;
    gnutls_certificate_credentials_t credentials = nullptr;
    must(gnutls_certificate_allocate_credentials(&credentials), "gnutls_certificate_allocate_credentials");
    vhost->credentials.reset(credentials);
    gnutls_certificate_set_flags(credentials, GNUTLS_CERTIFICATE_API_V2);
    add_self_signed(credentials, name);
    vhost->priorities = gtls::compile_priorities(priorities);
    must(gnutls_session_ticket_key_generate(vhost->ticket_key.out()), "gnutls_session_ticket_key_generate");
    return vhost;
}

// GTLS_FUZZ_VERBOSE=1 prints what each input did: for reproducing a finding and
// for checking that the seeds get through the handshake.
bool verbose = false;

Vhost* default_vhost = nullptr;  // the address's first vhost, the module's default priorities
Vhost* named_vhost = nullptr;    // b.fuzz.test, selected by SNI, GnuTLS's NORMAL priorities
constexpr char kNamedVhost[] = "b.fuzz.test";

// One connection: the client's bytes and what the module decided so far
// (TlsConnection's vhost_from_sni_, protocol_chosen_).
struct Connection {
    Connection(const unsigned char* data, std::size_t size) : data(data), size(size) {}
    const unsigned char* data;
    std::size_t size;
    std::size_t read = 0;
    bool exhausted = false;
    bool vhost_from_sni = false;
    bool protocol_chosen = false;
    unsigned hellos = 0;
    // The server names the module read from all ClientHellos (two after a
    // HelloRetryRequest), and the ALPN protocol it set.
    std::vector<std::string> names_seen;
    std::string chosen_protocol;
};

ssize_t pull(gnutls_transport_ptr_t ptr, void* buffer, std::size_t size) {
    auto& connection = *static_cast<Connection*>(ptr);
    std::size_t left = connection.size - connection.read;
    if (left == 0) {
        // No more client bytes yet: what a non-blocking socket says.
        connection.exhausted = true;
        errno = EAGAIN;
        return -1;
    }
    std::size_t n = std::min(left, size);
    std::copy_n(connection.data + connection.read, n, static_cast<unsigned char*>(buffer));
    connection.read += n;
    return static_cast<ssize_t>(n);
}

ssize_t push(gnutls_transport_ptr_t, const void*, std::size_t size) { return static_cast<ssize_t>(size); }

void select_vhost(gnutls_session_t session, const Vhost& vhost) {
    must(gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, vhost.credentials.get()), "gnutls_credentials_set");
    must(gnutls_priority_set(session, vhost.priorities.get()), "gnutls_priority_set");
    gnutls_session_ticket_enable_server(session, &vhost.ticket_key.get());
}

// TlsConnection::on_client_hello, with the vhost search reduced to one name and
// ap_select_protocol to "h2 if offered, else http/1.1" (Protocols h2 http/1.1).
int on_client_hello(gnutls_session_t session, const gnutls_datum_t& message) {
    auto& connection = *static_cast<Connection*>(gnutls_session_get_ptr(session));
    gtls::ClientHelloExtensions extensions = gtls::read_client_hello_extensions(message);
    ++connection.hellos;
    if (extensions.server_name.size() > message.size) fail("server name longer than the ClientHello");
    for (const auto& name : extensions.alpn) {
        if (name.empty() || name.size() > 255) fail("ALPN name outside 1..255 bytes");
    }
    if (!extensions.server_name.empty() && !connection.vhost_from_sni) {
        if (strcasecmp(extensions.server_name.c_str(), kNamedVhost) == 0) {
            connection.vhost_from_sni = true;
            select_vhost(session, *named_vhost);
        }
    }
    if (!extensions.alpn.empty() && !connection.protocol_chosen) {
        connection.protocol_chosen = true;
        bool h2 = std::find(extensions.alpn.begin(), extensions.alpn.end(), "h2") != extensions.alpn.end();
        static const char* const kH2 = "h2";
        static const char* const kHttp11 = "http/1.1";
        const char* chosen = h2 ? kH2 : kHttp11;
        gnutls_datum_t protocol{reinterpret_cast<unsigned char*>(const_cast<char*>(chosen)),
                                static_cast<unsigned>(std::strlen(chosen))};
        must(gnutls_alpn_set_protocols(session, &protocol, 1, GNUTLS_ALPN_SERVER_PRECEDENCE), "gnutls_alpn_set_protocols");
        connection.chosen_protocol = chosen;
    }
    if (!extensions.server_name.empty()) connection.names_seen.push_back(extensions.server_name);
    return 0;
}

// The module's guard(): nothing thrown crosses GnuTLS's C frames.
int client_hello_hook(gnutls_session_t session, unsigned, unsigned, unsigned, const gnutls_datum_t* message) {
    try {
        return on_client_hello(session, *message);
    } catch (const std::exception& e) {
        fail(std::string("the ClientHello hook threw: ") + e.what());
    }
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

// After GnuTLS accepted everything the client sent: it and the module read the
// ClientHellos alike. GnuTLS keeps an extension of the first ClientHello when
// the second one (after a HelloRetryRequest) leaves it out, and the module
// decides by the first one that has it, so with two ClientHellos only "GnuTLS
// uses nothing the module did not see" holds, not equality.
void check_agreement(gnutls_session_t session, const Connection& connection) {
    std::vector<char> name(65536 + 1);
    std::size_t name_size = name.size();
    unsigned type = 0;
    int rc = gnutls_server_name_get(session, name.data(), &name_size, &type, 0);
    if (rc == GNUTLS_E_SUCCESS && type == GNUTLS_NAME_DNS) {
        std::string gnutls_name(name.data(), name_size);
        if (!contains(connection.names_seen, gnutls_name)) {
            fail("GnuTLS read server name '" + gnutls_name + "', which the module did not see");
        }
    } else if (connection.hellos == 1 && !connection.names_seen.empty()) {
        fail("the module read server name '" + connection.names_seen.front() + "', GnuTLS none (" +
             gnutls_strerror(rc) + ")");
    }
    // Not "offered in what the module read": GnuTLS takes the bytes after the
    // ProtocolNameList, up to the end of the extension, as more names, so it can
    // match the module's fallback (http/1.1) in bytes the module rightly ignores.
    gnutls_datum_t selected{nullptr, 0};
    if (gnutls_alpn_get_selected_protocol(session, &selected) == GNUTLS_E_SUCCESS) {
        std::string protocol(reinterpret_cast<const char*>(selected.data), selected.size);
        if (protocol != connection.chosen_protocol) {
            fail("GnuTLS negotiated ALPN '" + protocol + "', the module chose '" + connection.chosen_protocol + "'");
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    verbose = std::getenv("GTLS_FUZZ_VERBOSE") != nullptr;
    default_vhost = make_vhost("fuzz.test", std::string(gtls::kDefaultPriorities));
    named_vhost = make_vhost(kNamedVhost, "NORMAL");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    gnutls_session_t raw = nullptr;
    must(gnutls_init(&raw, GNUTLS_SERVER | GNUTLS_NO_SIGNAL | GNUTLS_NONBLOCK), "gnutls_init");
    gtls::OwnedSession session(raw);
    Connection connection(data, size);
    gnutls_session_set_ptr(raw, &connection);
    select_vhost(raw, *default_vhost);
    gnutls_handshake_set_hook_function(raw, GNUTLS_HANDSHAKE_CLIENT_HELLO, GNUTLS_HOOK_PRE, client_hello_hook);
    gnutls_transport_set_ptr(raw, &connection);
    gnutls_transport_set_pull_function(raw, pull);
    gnutls_transport_set_push_function(raw, push);

    // TlsConnection::handshake: retry what is not fatal, stop when the client has
    // nothing more to say.
    int rc = GNUTLS_E_AGAIN;
    for (unsigned round = 0; round < 100; ++round) {
        rc = gnutls_handshake(raw);
        if (rc == GNUTLS_E_SUCCESS) break;
        if ((rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) && connection.exhausted) break;
        if (gnutls_error_is_fatal(rc)) break;
    }
    if (verbose) {
        std::fprintf(stderr, "client_hello_fuzzer: %u ClientHello(s), handshake: %s, last sent: %s, SNI vhost: %s, ALPN: %s\n",
                     connection.hellos, gnutls_strerror(rc),
                     gnutls_handshake_description_get_name(gnutls_handshake_get_last_out(raw)),
                     connection.vhost_from_sni ? kNamedVhost : "default",
                     connection.chosen_protocol.empty() ? "-" : connection.chosen_protocol.c_str());
    }
    if (connection.hellos > 0 && !gnutls_error_is_fatal(rc)) check_agreement(raw, connection);
    return 0;
}
