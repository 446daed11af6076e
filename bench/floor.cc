// The GnuTLS floor: a GnuTLS server and client in one process (two threads over
// a socketpair) doing the benchmark's handshake + one small GET with the same
// certificates and priorities as the servers (mod_gtls's default unless --priority). The server thread's CPU time per
// connection is what no module built on GnuTLS can go under. Prints one JSON line.
// With --tcp the two threads talk over a loopback TCP connection instead, which
// the server thread accepts: what the kernel's TCP adds to the floor.
//
//   gtls-bench-floor --chain F --key F --ca F [--staple DER] [--priority P]
//                    [--client-priority P] [--connections N] [--resume] [--tcp]
#include "core/file_bytes.h"
#include "core/priorities.h"

#include <gnutls/gnutls.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr char kResponse[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n";

std::vector<unsigned char> g_staple;

int staple_callback(gnutls_session_t, void*, gnutls_datum_t* response) {
    auto* copy = static_cast<unsigned char*>(gnutls_malloc(g_staple.size()));
    std::memcpy(copy, g_staple.data(), g_staple.size());
    response->data = copy;
    response->size = static_cast<unsigned>(g_staple.size());
    return 0;
}

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// A listening loopback socket and the connections made to it.
class LoopbackTcp {
public:
    LoopbackTcp() : listener_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof(address);
        if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
            ::listen(listener_, 16) != 0 ||
            ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
            throw std::runtime_error("cannot listen on 127.0.0.1");
        }
        address_ = address;
    }
    ~LoopbackTcp() { ::close(listener_); }
    LoopbackTcp(const LoopbackTcp&) = delete;
    LoopbackTcp& operator=(const LoopbackTcp&) = delete;

    int connect() const {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&address_), sizeof(address_)) != 0) {
            throw std::runtime_error("cannot connect to the loopback listener");
        }
        set_nodelay(fd);
        return fd;
    }
    int accept() const {
        int fd = ::accept(listener_, nullptr, nullptr);
        if (fd >= 0) set_nodelay(fd);
        return fd;
    }

private:
    static void set_nodelay(int fd) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    int listener_;
    sockaddr_in address_{};
};

}  // namespace

int main(int argc, char** argv) try {
    std::string chain, key, ca, staple, client_priority = "NORMAL";
    std::string priority(gtls::kDefaultPriorities);
    long connections = 1000;
    bool resume = false, tcp = false;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::runtime_error("missing value for " + arg);
            return argv[++i];
        };
        if (arg == "--chain") chain = value();
        else if (arg == "--key") key = value();
        else if (arg == "--ca") ca = value();
        else if (arg == "--staple") staple = value();
        else if (arg == "--priority") priority = value();
        else if (arg == "--client-priority") client_priority = value();
        else if (arg == "--connections") connections = std::stol(value());
        else if (arg == "--resume") resume = true;
        else if (arg == "--tcp") tcp = true;
        else throw std::runtime_error("unknown option " + arg);
    }
    gnutls_certificate_credentials_t server_credentials = nullptr;
    gnutls_certificate_allocate_credentials(&server_credentials);
    gnutls_certificate_set_flags(server_credentials, GNUTLS_CERTIFICATE_API_V2);
    int index = gnutls_certificate_set_x509_key_file2(server_credentials, chain.c_str(), key.c_str(),
                                                      GNUTLS_X509_FMT_PEM, nullptr, 0);
    if (index < 0) throw std::runtime_error(std::string("key/chain: ") + gnutls_strerror(index));
    if (!staple.empty()) {
        g_staple = gtls::read_file_bytes(staple, 64 * 1024);
        gnutls_certificate_set_ocsp_status_request_function2(server_credentials, static_cast<unsigned>(index),
                                                             staple_callback, nullptr);
    }
    gnutls_priority_t server_priority = nullptr;
    if (gnutls_priority_init(&server_priority, priority.c_str(), nullptr) < 0) throw std::runtime_error("priority");
    gnutls_datum_t ticket_key{nullptr, 0};
    gnutls_session_ticket_key_generate(&ticket_key);

    gnutls_certificate_credentials_t client_credentials = nullptr;
    gnutls_certificate_allocate_credentials(&client_credentials);
    gnutls_certificate_set_x509_trust_file(client_credentials, ca.c_str(), GNUTLS_X509_FMT_PEM);

    double server_cpu = 0;
    long stapled = 0, resumed = 0, errors = 0;
    gnutls_datum_t saved{nullptr, 0};
    std::unique_ptr<LoopbackTcp> loopback = tcp ? std::make_unique<LoopbackTcp>() : nullptr;
    for (long i = 0; i < connections; ++i) {
        int pair[2] = {-1, -1};
        if (!loopback) socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
        std::thread server([&] {
            double start = thread_cpu_seconds();
            if (loopback) pair[0] = loopback->accept();
            gnutls_session_t s = nullptr;
            gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NO_SIGNAL);
            gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, server_credentials);
            gnutls_priority_set(s, server_priority);
            gnutls_session_ticket_enable_server(s, &ticket_key);
            gnutls_transport_set_int(s, pair[0]);
            int rc;
            do { rc = gnutls_handshake(s); } while (rc < 0 && !gnutls_error_is_fatal(rc));
            if (rc == 0) {
                char buffer[4096];
                ssize_t n;
                std::string request;
                while (request.find("\r\n\r\n") == std::string::npos &&
                       (n = gnutls_record_recv(s, buffer, sizeof(buffer))) > 0) {
                    request.append(buffer, static_cast<std::size_t>(n));
                }
                gnutls_record_send(s, kResponse, sizeof(kResponse) - 1);
                gnutls_bye(s, GNUTLS_SHUT_WR);
            }
            gnutls_deinit(s);
            ::close(pair[0]);
            server_cpu += thread_cpu_seconds() - start;
        });
        if (loopback) pair[1] = loopback->connect();
        gnutls_session_t c = nullptr;
        gnutls_init(&c, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL);
        gnutls_priority_set_direct(c, client_priority.c_str(), nullptr);
        gnutls_credentials_set(c, GNUTLS_CRD_CERTIFICATE, client_credentials);
        gnutls_server_name_set(c, GNUTLS_NAME_DNS, "localhost", 9);
        if (resume && saved.data != nullptr) gnutls_session_set_data(c, saved.data, saved.size);
        gnutls_transport_set_int(c, pair[1]);
        int rc;
        do { rc = gnutls_handshake(c); } while (rc < 0 && !gnutls_error_is_fatal(rc));
        if (rc == 0) {
            gnutls_datum_t status{nullptr, 0};
            if (gnutls_ocsp_status_request_get(c, &status) == 0 && status.size > 0) ++stapled;
            if (gnutls_session_is_resumed(c)) ++resumed;
            static constexpr char kRequest[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
            gnutls_record_send(c, kRequest, sizeof(kRequest) - 1);
            char buffer[4096];
            while (gnutls_record_recv(c, buffer, sizeof(buffer)) > 0) {
            }
            if (resume && saved.data == nullptr) gnutls_session_get_data2(c, &saved);
        } else {
            ++errors;
        }
        gnutls_deinit(c);
        ::close(pair[1]);
        server.join();
    }
    std::printf("{\"connections\": %ld, \"stapled\": %ld, \"resumed\": %ld, \"errors\": %ld, "
                "\"server_cpu_us_per_connection\": %.2f}\n",
                connections, stapled, resumed, errors, server_cpu / static_cast<double>(connections) * 1e6);
    return errors == 0 ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "gtls-bench-floor: %s\n", e.what());
    return 2;
}
