// gtls-ocsp-fetch: keeps mod_gtls's OCSP response files fresh. For each
// (certificate, response file) binding it asks the certificate's responder when
// the file on disk is due, validates the answer with the module's own validator
// and replaces the file atomically only with something at least as good.
//
//   gtls-ocsp-fetch --chain CHAIN.pem --out RESPONSE.der [--url URL] [options]
//   gtls-ocsp-fetch --from-httpd [--httpd-command CMD] [options]
//
// One line per binding on stdout (or one JSON document with --json); the exit
// code is the worst outcome (see usage()).
#include "fetch/response_refresher.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace gtls {
namespace {

// Exit codes besides the worst RefreshSeverity of the bindings (0 to 3).
enum Exit : int {
    kOk = 0,
    kUsage = 64,        // bad command line
    kNoBindings = 78,   // --from-httpd could not get the bindings from httpd
};

struct Options {
    std::string chain;
    std::string out;
    bool from_httpd = false;
    std::string httpd_command = "apache2ctl";
    RefreshSettings refresh;
    bool json = false;
    bool quiet = false;
};

struct Binding {
    std::string id;  // "ServerName:port#index", or the chain file
    std::string chain;
    std::string out;
};

struct Outcome {
    Binding binding;
    RefreshOutcome result;
};

void usage(std::ostream& out) {
    out << "usage: gtls-ocsp-fetch --chain CHAIN.pem --out RESPONSE.der [--url URL] [options]\n"
           "       gtls-ocsp-fetch --from-httpd [--httpd-command CMD] [options]\n"
           "  --chain FILE          leaf certificate followed by its issuer (PEM)\n"
           "  --out FILE            the response file httpd reads (GnuTLSOCSPResponseFile)\n"
           "  --from-httpd          every binding httpd's configuration has (runs CMD -t -D GTLS_DUMP_OCSP_BINDINGS)\n"
           "  --httpd-command CMD   default apache2ctl\n"
           "  --url URL             the responder (default: the certificate's AIA OCSP URI)\n"
           "  --sha256              hash the CertID with SHA-256 (default SHA-1, which all responders match)\n"
           "  --nonce               send a nonce; a response carrying another nonce is refused\n"
           "  --timeout SECONDS     per attempt, connect and transfer (default 10)\n"
           "  --retries N           further attempts after a failed one, 1 s, 2 s, 4 s ... apart (default 2)\n"
           "  --refresh-fraction F  fetch once this share of the file's lifetime has passed (default 0.5)\n"
           "  --jitter F            and up to this share earlier, at random (default 0.1)\n"
           "  --force               fetch even when the file is fresh\n"
           "  --mode OCTAL          mode of written files (default 0644: httpd's User must read them)\n"
           "  --json                one JSON document instead of one line per binding\n"
           "  --quiet               print only the bindings that need attention (exit code not 0), for cron\n"
           "exit: 0 all good, 1 a fetch failed but the file is still good, 2 a file holds no good response,\n"
           "      3 a certificate is revoked, 64 usage, 78 httpd's bindings could not be read\n";
}

double parse_number(const std::string& option, const std::string& value, double low, double high) {
    try {
        std::size_t used = 0;
        double number = std::stod(value, &used);
        if (used == value.size() && number >= low && number <= high) return number;
    } catch (const std::exception&) {
    }
    throw std::invalid_argument(option + " wants a number from " + std::to_string(low) + " to " +
                                std::to_string(high) + ", not '" + value + "'");
}

Options parse_options(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
            return argv[++i];
        };
        if (arg == "--chain") o.chain = value();
        else if (arg == "--out") o.out = value();
        else if (arg == "--url") o.refresh.url = value();
        else if (arg == "--from-httpd") o.from_httpd = true;
        else if (arg == "--httpd-command") o.httpd_command = value();
        else if (arg == "--sha256") o.refresh.digest = GNUTLS_DIG_SHA256;
        else if (arg == "--nonce") o.refresh.nonce = true;
        else if (arg == "--timeout") o.refresh.timeout = std::chrono::milliseconds(static_cast<long>(parse_number(arg, value(), 0.1, 600) * 1000));
        else if (arg == "--retries") o.refresh.retries = static_cast<int>(parse_number(arg, value(), 0, 10));
        else if (arg == "--refresh-fraction") o.refresh.refresh_fraction = parse_number(arg, value(), 0, 1);
        else if (arg == "--jitter") o.refresh.jitter = parse_number(arg, value(), 0, 1);
        else if (arg == "--force") o.refresh.force = true;
        else if (arg == "--mode") {
            const std::string text = value();
            char* end = nullptr;
            const long mode = std::strtol(text.c_str(), &end, 8);
            if (end == text.c_str() || *end != '\0' || mode < 0 || mode > 07777) {
                throw std::invalid_argument("--mode wants an octal mode such as 0644, not '" + text + "'");
            }
            o.refresh.mode = static_cast<mode_t>(mode);
        } else if (arg == "--json") o.json = true;
        else if (arg == "--quiet") o.quiet = true;
        else if (arg == "--help" || arg == "-h") {
            usage(std::cout);
            std::exit(kOk);
        } else throw std::invalid_argument("unknown option " + arg);
    }
    if (o.from_httpd == !(o.chain.empty() && o.out.empty())) {
        throw std::invalid_argument("give either --chain and --out, or --from-httpd");
    }
    if (!o.from_httpd && (o.chain.empty() || o.out.empty())) throw std::invalid_argument("--chain needs --out");
    if (o.from_httpd && !o.refresh.url.empty()) throw std::invalid_argument("--url goes with --chain; httpd's bindings use each certificate's AIA");
    return o;
}

// httpd's bindings, from the module's dump in `apachectl -t` (see vhost_tls.h).
std::vector<Binding> bindings_from_httpd(const std::string& command) {
    const std::string line_command = command + " -t -D GTLS_DUMP_OCSP_BINDINGS";
    FILE* pipe = ::popen(line_command.c_str(), "r");
    if (pipe == nullptr) throw std::runtime_error("cannot run " + line_command);
    std::string output;
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof(buffer), pipe)) output.append(buffer, n);
    const int status = ::pclose(pipe);
    if (status != 0) throw std::runtime_error(line_command + " failed (the configuration test did not pass)");
    std::vector<Binding> bindings;
    std::istringstream lines(output);
    for (std::string line; std::getline(lines, line);) {
        static const std::string kPrefix = "GTLSOCSPBinding\t";
        if (!line.starts_with(kPrefix)) continue;
        std::vector<std::string> fields;
        std::istringstream parts(line.substr(kPrefix.size()));
        for (std::string field; std::getline(parts, field, '\t');) fields.push_back(field);
        if (fields.size() == 3) bindings.push_back({fields[0], fields[1], fields[2]});
    }
    return bindings;
}

std::string json_string(const std::string& text) {
    std::string out = "\"";
    for (unsigned char ch : text) {
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += static_cast<char>(ch);
        } else if (ch < 0x20) {
            char escaped[8];
            std::snprintf(escaped, sizeof(escaped), "\\u%04x", ch);
            out += escaped;
        } else {
            out += static_cast<char>(ch);
        }
    }
    return out + "\"";
}

void report(const std::vector<Outcome>& outcomes, int exit_code, const Options& options) {
    if (!options.json) {
        for (const Outcome& o : outcomes) {
            if (options.quiet && o.result.severity == RefreshSeverity::Ok) continue;
            std::cout << "gtls-ocsp-fetch: " << o.result.status << ' ' << o.binding.id << ' ' << o.binding.out << ": "
                      << o.result.detail << '\n';
        }
        return;
    }
    std::cout << "{\"exit\": " << exit_code << ", \"bindings\": [";
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        const Outcome& o = outcomes[i];
        std::cout << (i ? ", " : "") << "{\"id\": " << json_string(o.binding.id) << ", \"chain\": "
                  << json_string(o.binding.chain) << ", \"file\": " << json_string(o.binding.out)
                  << ", \"status\": " << json_string(o.result.status) << ", \"detail\": " << json_string(o.result.detail)
                  << ", \"next_update\": " << (o.result.next_update.empty() ? "null" : json_string(o.result.next_update))
                  << ", \"exit\": " << static_cast<int>(o.result.severity) << "}";
    }
    std::cout << "]}\n";
}

int run(int argc, char** argv) {
    Options options;
    try {
        options = parse_options(argc, argv);
    } catch (const std::invalid_argument& e) {
        std::cerr << "gtls-ocsp-fetch: " << e.what() << '\n';
        usage(std::cerr);
        return kUsage;
    }
    std::vector<Binding> bindings;
    if (options.from_httpd) {
        try {
            bindings = bindings_from_httpd(options.httpd_command);
        } catch (const std::runtime_error& e) {
            std::cerr << "gtls-ocsp-fetch: " << e.what() << '\n';
            return kNoBindings;
        }
        if (bindings.empty()) {
            std::cerr << "gtls-ocsp-fetch: httpd's configuration staples nothing (no GnuTLSOCSPResponseFile)\n";
        }
    } else {
        bindings.push_back({options.chain, options.chain, options.out});
    }
    std::mt19937_64 random(std::random_device{}());
    std::vector<Outcome> outcomes;
    int exit_code = kOk;
    for (const Binding& binding : bindings) {
        outcomes.push_back({binding, refresh_response_file(binding.chain, binding.out, options.refresh, random)});
        exit_code = std::max(exit_code, static_cast<int>(outcomes.back().result.severity));
    }
    report(outcomes, exit_code, options);
    return exit_code;
}

}  // namespace
}  // namespace gtls

int main(int argc, char** argv) {
    try {
        return gtls::run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "gtls-ocsp-fetch: " << e.what() << '\n';
        return static_cast<int>(gtls::RefreshSeverity::NoValidFile);
    }
}
