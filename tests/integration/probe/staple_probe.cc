// gtls-staple-probe: the tests' staple observer. Makes TLS handshakes (with
// status_request) one after another and prints, per handshake, the SHA-256 of
// the OCSP staple received ("none" without one, "error: ..." when the handshake
// failed), so a test can check every staple against the files it wrote.
//
//   gtls-staple-probe --port N --sni NAME --ca FILE [--priority P]
//                     [--connections N] [--seconds S]
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace {

struct CredentialsDeleter {
    void operator()(gnutls_certificate_credentials_t c) const noexcept { gnutls_certificate_free_credentials(c); }
};
struct SessionDeleter {
    void operator()(gnutls_session_t s) const noexcept { gnutls_deinit(s); }
};
using Credentials = std::unique_ptr<std::remove_pointer_t<gnutls_certificate_credentials_t>, CredentialsDeleter>;
using Session = std::unique_ptr<std::remove_pointer_t<gnutls_session_t>, SessionDeleter>;

class Socket {
public:
    explicit Socket(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<uint16_t>(port));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
            throw std::runtime_error("cannot connect to port " + std::to_string(port));
        }
    }
    ~Socket() { if (fd_ >= 0) ::close(fd_); }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    int fd() const { return fd_; }

private:
    int fd_;
};

struct Options {
    int port = 0;
    std::string sni = "localhost";
    std::string ca;
    std::string priority = "NORMAL";
    long connections = 1;
    double seconds = 0;  // with --seconds, handshake until this much time has passed
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc) throw std::runtime_error("missing value for " + arg);
        const std::string value = argv[++i];
        if (arg == "--port") o.port = std::stoi(value);
        else if (arg == "--sni") o.sni = value;
        else if (arg == "--ca") o.ca = value;
        else if (arg == "--priority") o.priority = value;
        else if (arg == "--connections") o.connections = std::stol(value);
        else if (arg == "--seconds") o.seconds = std::stod(value);
        else throw std::runtime_error("unknown option " + arg);
    }
    if (o.port == 0 || o.ca.empty()) throw std::runtime_error("--port and --ca are required");
    return o;
}

std::string staple_digest(gnutls_session_t session) {
    gnutls_datum_t staple{nullptr, 0};
    if (gnutls_ocsp_status_request_get(session, &staple) != 0 || staple.size == 0) return "none";
    unsigned char digest[32];
    gnutls_hash_fast(GNUTLS_DIG_SHA256, staple.data, staple.size, digest);
    std::string hex;
    char byte[3];
    for (unsigned char b : digest) {
        std::snprintf(byte, sizeof(byte), "%02x", b);
        hex += byte;
    }
    return hex;
}

std::string one_handshake(const Options& o, gnutls_certificate_credentials_t credentials) {
    Socket socket(o.port);
    gnutls_session_t raw = nullptr;
    if (gnutls_init(&raw, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL) < 0) throw std::runtime_error("gnutls_init failed");
    Session session(raw);
    const char* error_position = nullptr;
    if (gnutls_priority_set_direct(raw, o.priority.c_str(), &error_position) < 0) {
        throw std::runtime_error(std::string("bad priority at ") + (error_position ? error_position : "?"));
    }
    gnutls_credentials_set(raw, GNUTLS_CRD_CERTIFICATE, credentials);
    gnutls_server_name_set(raw, GNUTLS_NAME_DNS, o.sni.data(), o.sni.size());
    gnutls_session_set_verify_cert(raw, o.sni.c_str(), 0);
    gnutls_ocsp_status_request_enable_client(raw, nullptr, 0, nullptr);
    gnutls_transport_set_int(raw, socket.fd());
    gnutls_handshake_set_timeout(raw, 10000);
    int rc;
    do {
        rc = gnutls_handshake(raw);
    } while (rc < 0 && !gnutls_error_is_fatal(rc));
    if (rc < 0) return std::string("error: ") + gnutls_strerror(rc);
    std::string line = staple_digest(raw);
    gnutls_bye(raw, GNUTLS_SHUT_WR);
    return line;
}

}  // namespace

int main(int argc, char** argv) try {
    const Options o = parse(argc, argv);
    gnutls_certificate_credentials_t raw = nullptr;
    gnutls_certificate_allocate_credentials(&raw);
    Credentials credentials(raw);
    if (gnutls_certificate_set_x509_trust_file(raw, o.ca.c_str(), GNUTLS_X509_FMT_PEM) <= 0) {
        throw std::runtime_error("cannot load CA " + o.ca);
    }
    const auto started = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
    for (long i = 0; o.seconds > 0 ? elapsed() < o.seconds : i < o.connections; ++i) {
        std::string line;
        try {
            line = one_handshake(o, raw);
        } catch (const std::runtime_error& e) {
            line = std::string("error: ") + e.what();
        }
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "gtls-staple-probe: %s\n", e.what());
    return 2;
}
