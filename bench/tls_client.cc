// The benchmark's load client: sequential TLS connections with GnuTLS, each doing
// a handshake (full or resumed) and one or more HTTP/1.1 GETs. It always sends
// status_request and counts the staples it receives. Prints one JSON line.
//
//   gtls-bench-client --port N --sni NAME --ca FILE [--priority P] [--connections N]
//                     [--requests K] [--path /x] [--resume] [--seconds S] [--plain]
//                     [--address 127.0.0.1] [--resume-address 127.0.0.2]
//
// --plain speaks HTTP/1.1 without TLS: what httpd itself spends per connection.
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

namespace {

struct Options {
    int port = 0;
    std::string sni = "localhost";
    std::string ca;
    std::string priority = "NORMAL";
    long connections = 100;
    long requests = 1;
    std::string path = "/";
    bool resume = false;
    std::string address = "127.0.0.1";
    std::string resume_address;  // with --resume: where the resumed connections go ("" = --address)
    bool plain = false;
    double seconds = 0;  // stop early after this long (0 = no limit)
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::runtime_error("missing value for " + arg);
            return argv[++i];
        };
        if (arg == "--port") o.port = std::stoi(value());
        else if (arg == "--sni") o.sni = value();
        else if (arg == "--ca") o.ca = value();
        else if (arg == "--priority") o.priority = value();
        else if (arg == "--connections") o.connections = std::stol(value());
        else if (arg == "--requests") o.requests = std::stol(value());
        else if (arg == "--path") o.path = value();
        else if (arg == "--resume") o.resume = true;
        else if (arg == "--address") o.address = value();
        else if (arg == "--resume-address") o.resume_address = value();
        else if (arg == "--plain") o.plain = true;
        else if (arg == "--seconds") o.seconds = std::stod(value());
        else throw std::runtime_error("unknown option " + arg);
    }
    if (o.port == 0 || (o.ca.empty() && !o.plain)) throw std::runtime_error("--port and --ca are required");
    return o;
}

struct Counters {
    long connections = 0, requests = 0, resumed = 0, stapled = 0, errors = 0;
    unsigned long long body_bytes = 0;
    std::string suite;  // of the first handshake, e.g. TLS_AES_128_GCM_SHA256
    std::string server_key;  // what signed the first handshake: the chain served, e.g. EC/ECDSA or RSA
};

// `host` is an IPv4 address; only loopback ones are used.
int connect_to(const std::string& host, int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) return -1;
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
        ::close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

// gnutls_record_recv, retrying what is not an error (TLS 1.3 tickets arrive as
// post-handshake messages and surface as GNUTLS_E_AGAIN/INTERRUPTED).
ssize_t receive(gnutls_session_t session, char* data, std::size_t size) {
    ssize_t n;
    do {
        n = gnutls_record_recv(session, data, size);
    } while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
    return n;
}

// Reads one HTTP/1.1 response with Content-Length; returns the body size or -1.
// `receive` is (char*, size) -> bytes, <= 0 at the end.
template <typename Receive>
long long read_response(Receive&& receive, std::string& buffer) {
    char chunk[65536];
    for (;;) {
        auto header_end = buffer.find("\r\n\r\n");
        if (header_end != std::string::npos) {
            auto position = buffer.find("Content-Length:");
            if (position == std::string::npos || position > header_end) position = buffer.find("content-length:");
            if (position == std::string::npos || position > header_end) return -1;
            long long length = std::atoll(buffer.c_str() + position + 15);
            unsigned long long have = buffer.size() - (header_end + 4);
            while (have < static_cast<unsigned long long>(length)) {
                ssize_t n = receive(chunk, sizeof(chunk));
                if (n <= 0) return -1;
                have += static_cast<unsigned long long>(n);
            }
            // Anything beyond belongs to the next response; keep-alive responses are sequential.
            buffer.erase(0, std::min<std::size_t>(buffer.size(), header_end + 4 + static_cast<std::size_t>(length)));
            return length;
        }
        ssize_t n = receive(chunk, sizeof(chunk));
        if (n <= 0) return -1;
        buffer.append(chunk, static_cast<std::size_t>(n));
    }
}

std::string request_for(const Options& o, long index) {
    return "GET " + o.path + " HTTP/1.1\r\nHost: " + o.sni + "\r\n" +
           (index + 1 == o.requests ? "Connection: close\r\n" : "") + "\r\n";
}

// One plain-HTTP connection with o.requests requests; false on any failure.
bool plain_connection(const Options& o, int fd, Counters& counters) {
    std::string buffer;
    auto receive = [fd](char* data, std::size_t size) { return ::recv(fd, data, size, 0); };
    for (long r = 0; r < o.requests; ++r) {
        const std::string request = request_for(o, r);
        if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return false;
        long long body = read_response(receive, buffer);
        if (body < 0) return false;
        ++counters.requests;
        counters.body_bytes += static_cast<unsigned long long>(body);
    }
    ++counters.connections;
    return true;
}

}  // namespace

int main(int argc, char** argv) try {
    Options o = parse(argc, argv);
    gnutls_certificate_credentials_t credentials = nullptr;
    gnutls_certificate_allocate_credentials(&credentials);
    if (!o.plain && gnutls_certificate_set_x509_trust_file(credentials, o.ca.c_str(), GNUTLS_X509_FMT_PEM) <= 0) {
        throw std::runtime_error("cannot load CA " + o.ca);
    }
    Counters counters;
    gnutls_datum_t saved_session{nullptr, 0};
    const auto started = std::chrono::steady_clock::now();
    for (long i = 0; i < o.connections; ++i) {
        if (o.seconds > 0 && std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() > o.seconds) {
            break;
        }
        // With --resume-address, the session comes from --address and every
        // later connection resumes it on the other server.
        const bool to_other = o.resume && !o.resume_address.empty() && saved_session.data != nullptr;
        int fd = connect_to(to_other ? o.resume_address : o.address, o.port);
        if (fd < 0) { ++counters.errors; continue; }
        if (o.plain) {
            if (!plain_connection(o, fd, counters)) ++counters.errors;
            ::close(fd);
            continue;
        }
        gnutls_session_t session = nullptr;
        gnutls_init(&session, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL);
        gnutls_priority_set_direct(session, o.priority.c_str(), nullptr);
        gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, credentials);
        gnutls_server_name_set(session, GNUTLS_NAME_DNS, o.sni.data(), o.sni.size());
        gnutls_session_set_verify_cert(session, o.sni.c_str(), 0);
        if (o.resume && saved_session.data != nullptr) gnutls_session_set_data(session, saved_session.data, saved_session.size);
        gnutls_transport_set_int(session, fd);
        int rc;
        do { rc = gnutls_handshake(session); } while (rc < 0 && !gnutls_error_is_fatal(rc));
        bool ok = rc == 0;
        if (ok) {
            ++counters.connections;
            if (counters.suite.empty()) {
                const char* suite = gnutls_ciphersuite_get(session);
                counters.suite = suite != nullptr ? suite : "";
                const char* key = gnutls_pk_get_name(gnutls_sign_get_pk_algorithm(static_cast<gnutls_sign_algorithm_t>(gnutls_sign_algorithm_get(session))));
                counters.server_key = key != nullptr ? key : "";
            }
            if (gnutls_session_is_resumed(session)) ++counters.resumed;
            gnutls_datum_t staple{nullptr, 0};
            if (gnutls_ocsp_status_request_get(session, &staple) == 0 && staple.size > 0) ++counters.stapled;
            std::string buffer;
            auto tls_receive = [session](char* data, std::size_t size) { return receive(session, data, size); };
            for (long r = 0; r < o.requests && ok; ++r) {
                const std::string request = request_for(o, r);
                ok = gnutls_record_send(session, request.data(), request.size()) == static_cast<ssize_t>(request.size());
                long long body = ok ? read_response(tls_receive, buffer) : -1;
                ok = body >= 0;
                if (ok) { ++counters.requests; counters.body_bytes += static_cast<unsigned long long>(body); }
            }
            if (ok && o.resume && saved_session.data == nullptr) {
                // TLS 1.3 tickets arrive after the handshake; they are in hand once a response was read.
                gnutls_session_get_data2(session, &saved_session);
            }
            gnutls_bye(session, GNUTLS_SHUT_WR);
        }
        if (!ok) ++counters.errors;
        gnutls_deinit(session);
        ::close(fd);
    }
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::printf("{\"connections\": %ld, \"requests\": %ld, \"resumed\": %ld, \"stapled\": %ld, \"errors\": %ld, "
                "\"body_bytes\": %llu, \"seconds\": %.4f, \"suite\": \"%s\", \"server_key\": \"%s\"}\n",
                counters.connections, counters.requests, counters.resumed, counters.stapled, counters.errors,
                counters.body_bytes, elapsed, counters.suite.c_str(), counters.server_key.c_str());
    gnutls_free(saved_session.data);
    gnutls_certificate_free_credentials(credentials);
    return counters.errors == 0 ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "gtls-bench-client: %s\n", e.what());
    return 2;
}
