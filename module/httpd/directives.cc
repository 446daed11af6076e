// Directive handlers: parse and store values; anything that needs files or the
// whole configuration is checked later in check_config (see vhost_tls.cc), so
// that `apachectl -t` reports it too.
#include "httpd/directives.h"

#include "core/directive_values.h"
#include "core/priorities.h"
#include "httpd/guard.h"
#include "httpd/server_config.h"

#include <cstring>

namespace gtls {

namespace {

const char* directive_error(cmd_parms* cmd, const std::string& reason) {
    return apr_psprintf(cmd->pool, "%s %s", cmd->cmd->name, reason.c_str());
}

// Runs a directive body at the C boundary: exceptions become an error naming the directive.
template <typename Body>
const char* handle(cmd_parms* cmd, Body&& body) noexcept {
    try {
        ServerConfig& config = server_config(cmd->server);
        if (config.first_directive_file == nullptr && cmd->directive != nullptr) {
            config.first_directive_file = cmd->directive->filename;
            config.first_directive_line = static_cast<unsigned>(cmd->directive->line_num);
        }
        return body(config);
    } catch (const std::exception& e) {
        return directive_error(cmd, e.what());
    } catch (...) {
        return directive_error(cmd, "failed: unknown error");
    }
}

// An On|Off directive stored in `Field`.
template <std::optional<bool> ServerConfig::*Field>
const char* set_on_off(cmd_parms* cmd, void*, const char* arg) {
    return handle(cmd, [&](ServerConfig& config) -> const char* {
        auto value = parse_on_off(arg);
        if (!value) return directive_error(cmd, value.error);
        config.*Field = *value.value;
        return nullptr;
    });
}

// A number of seconds in [Min, Max] stored in `Field`.
template <std::optional<long> ServerConfig::*Field, long Min, long Max>
const char* set_seconds(cmd_parms* cmd, void*, const char* arg) {
    return handle(cmd, [&](ServerConfig& config) -> const char* {
        auto value = parse_seconds(arg, Min, Max);
        if (!value) return directive_error(cmd, value.error);
        config.*Field = *value.value;
        return nullptr;
    });
}

const char* set_session_ticket_key_file(cmd_parms* cmd, void*, const char* arg) {
    return handle(cmd, [&](ServerConfig& config) -> const char* {
        config.session_ticket_key_file = ap_server_root_relative(cmd->pool, arg);
        return nullptr;
    });
}

// Server and virtual host: the handshake asks for a certificate. In a
// <Directory>/<Location>/.htaccess: requests there need one, asked for after
// the handshake when it did not (client_verification.cc).
const char* set_client_verify(cmd_parms* cmd, void* directory, const char* arg) {
    auto value = parse_client_verify(arg);
    if (!value) return directive_error(cmd, value.error);
    if (cmd->path != nullptr) {
        static_cast<DirectoryConfig*>(directory)->client_verify = *value.value;
        // .htaccess files are read while serving: the server's configuration is settled by then.
        if (*value.value != ClientVerify::Ignore && ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_RUN_MPM) {
            server_config(cmd->server).directory_verifies_clients = true;
        }
        return nullptr;
    }
    return handle(cmd, [&](ServerConfig& config) -> const char* {
        config.client_verify = *value.value;
        return nullptr;
    });
}

// GnuTLSProxyEngine: in the server or virtual host, or in a <Proxy>,
// <Location> or <Directory> section for the backends proxied from there.
const char* set_proxy_engine(cmd_parms* cmd, void* directory, const char* arg) {
    auto value = parse_on_off(arg);
    if (!value) return directive_error(cmd, value.error);
    if (cmd->path != nullptr) {
        static_cast<DirectoryConfig*>(directory)->proxy_engine = *value.value;
        if (*value.value && ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_RUN_MPM) {
            server_config(cmd->server).directory_enables_proxy = true;
        }
        return nullptr;
    }
    return handle(cmd, [&](ServerConfig& config) -> const char* {
        config.proxy_engine = *value.value;
        return nullptr;
    });
}

template <std::optional<std::string> ServerConfig::*Field>
const char* set_file(cmd_parms* cmd, void*, const char* arg) {
    return handle(cmd, [&](ServerConfig& config) -> const char* {
        config.*Field = ap_server_root_relative(cmd->pool, arg);
        return nullptr;
    });
}

const char* set_client_key_purposes(cmd_parms* cmd, void*, int argc, char* const argv[]) {
    return handle(cmd, [&](ServerConfig& config) -> const char* {
        if (argc == 0) return directive_error(cmd, "needs at least one OID");
        std::vector<std::string> oids;
        for (int i = 0; i < argc; ++i) {
            const std::string oid = argv[i];
            const bool dotted = !oid.empty() && oid.find_first_not_of("0123456789.") == std::string::npos &&
                                oid.front() != '.' && oid.back() != '.' && oid.find("..") == std::string::npos;
            if (!dotted) return directive_error(cmd, "wants dotted OIDs such as 1.3.6.1.5.5.7.3.2, not '" + oid + "'");
            oids.push_back(oid);
        }
        config.client_key_purposes = std::move(oids);
        return nullptr;
    });
}

// mod_gnutls's values: Off, On (16 KiB) or the largest PEM size in bytes.
const char* set_export_certificates(cmd_parms* cmd, void*, const char* arg) {
    return handle(cmd, [&](ServerConfig& config) -> const char* {
        if (strcasecmp(arg, "off") == 0) {
            config.export_certificates_size = 0;
        } else if (strcasecmp(arg, "on") == 0) {
            config.export_certificates_size = 16 * 1024;
        } else {
            auto size = parse_whole_number(arg, 0, 1024 * 1024, "bytes");
            if (!size) return directive_error(cmd, "must be On, Off or a size in bytes up to 1048576, not '" +
                                                       std::string(arg) + "'");
            config.export_certificates_size = *size.value;
        }
        return nullptr;
    });
}

const char* set_ocsp_response_dir(cmd_parms* cmd, void*, const char* arg) {
    if (const char* context_error = ap_check_cmd_context(cmd, GLOBAL_ONLY)) return context_error;
    return handle(cmd, [&](ServerConfig&) -> const char* {
        if (*arg == '\0') return directive_error(cmd, "needs a directory");
        global_config(cmd->server).ocsp_response_dir = ap_server_root_relative(cmd->pool, arg);
        return nullptr;
    });
}

const char* set_ocsp_responder_url(cmd_parms* cmd, void*, const char* arg) {
    return handle(cmd, [&](ServerConfig& config) -> const char* {
        const std::string url = arg;
        if (!url.starts_with("http://") && !url.starts_with("https://")) {
            return directive_error(cmd, "must be an http:// or https:// URL, not '" + url + "'");
        }
        config.ocsp_responder_url = url;
        return nullptr;
    });
}

// A file relative to ServerRoot, or a PKCS #11 URI (RFC 7512) as it stands,
// its scheme in lower case.
std::string file_or_uri(cmd_parms* cmd, const char* arg) {
    if (strncasecmp(arg, "pkcs11:", 7) == 0) return std::string("pkcs11:") + (arg + 7);
    return ap_server_root_relative(cmd->pool, arg);
}

const char* add_certificate_file(cmd_parms* cmd, void*, const char* arg) {
    return handle(cmd, [&](ServerConfig& config) -> const char* {
        config.certificate_files.emplace_back(file_or_uri(cmd, arg));
        return nullptr;
    });
}

const char* add_key_file(cmd_parms* cmd, void*, const char* arg) {
    return handle(cmd, [&](ServerConfig& config) -> const char* {
        config.key_files.emplace_back(file_or_uri(cmd, arg));
        return nullptr;
    });
}

// mod_gnutls takes the rest of the line as the PIN; a quoted one loses its quotes.
const char* set_pin(cmd_parms* cmd, void*, const char* args) {
    return handle(cmd, [&](ServerConfig& config) -> const char* {
        std::string pin = args != nullptr ? args : "";
        while (!pin.empty() && (pin.back() == ' ' || pin.back() == '\t')) pin.pop_back();
        if (!pin.empty() && (pin.front() == '"' || pin.front() == '\'')) {
            const char* rest = pin.c_str();
            pin = ap_getword_conf(cmd->temp_pool, &rest);
        }
        if (pin.empty()) return directive_error(cmd, "needs the PIN or passphrase");
        config.pin = std::move(pin);
        return nullptr;
    });
}

const char* add_pkcs11_module(cmd_parms* cmd, void*, const char* arg) {
    return handle(cmd, [&](ServerConfig&) -> const char* {
        if (cmd->server->is_virtual) return directive_error(cmd, "belongs in the server config, outside <VirtualHost>");
        global_config(cmd->server).pkcs11_modules.emplace_back(ap_server_root_relative(cmd->pool, arg));
        return nullptr;
    });
}

// Server-wide: the signer is chosen once for every vhost of the generation.
const char* set_rsa_signer(cmd_parms* cmd, void*, const char* arg) {
    if (const char* context_error = ap_check_cmd_context(cmd, GLOBAL_ONLY)) return context_error;
    return handle(cmd, [&](ServerConfig&) -> const char* {
        auto value = parse_rsa_signer(arg);
        if (!value) return directive_error(cmd, value.error);
        global_config(cmd->server).rsa_signer = *value.value;
        return nullptr;
    });
}

const char* set_key_verify_signatures(cmd_parms* cmd, void*, const char* arg) {
    if (const char* context_error = ap_check_cmd_context(cmd, GLOBAL_ONLY)) return context_error;
    return handle(cmd, [&](ServerConfig&) -> const char* {
        auto value = parse_on_off(arg);
        if (!value) return directive_error(cmd, value.error);
        global_config(cmd->server).verify_signatures = *value.value;
        return nullptr;
    });
}

const char* set_certificate_preference(cmd_parms* cmd, void*, const char* arg) {
    return handle(cmd, [&](ServerConfig& config) -> const char* {
        auto value = parse_certificate_preference(arg);
        if (!value) return directive_error(cmd, value.error);
        config.certificate_preference = *value.value;
        return nullptr;
    });
}

// A GnuTLS priority string stored in `Field` (GnuTLSPriorities, GnuTLSProxyPriorities).
template <std::optional<std::string> ServerConfig::*Field>
const char* set_priorities(cmd_parms* cmd, void*, const char* arg) {
    return handle(cmd, [&](ServerConfig& config) -> const char* {
        compile_priorities(arg);  // throws with the reason when GnuTLS rejects it
        config.*Field = arg;
        return nullptr;
    });
}

const char* set_cache(cmd_parms* cmd, void*, const char* type, const char* legacy_argument) {
    if (const char* context_error = ap_check_cmd_context(cmd, GLOBAL_ONLY)) return context_error;
    return handle(cmd, [&](ServerConfig&) -> const char* {
        auto spec = parse_session_cache(type, legacy_argument ? legacy_argument : "");
        if (!spec) return directive_error(cmd, spec.error);
        GlobalConfig& global = global_config(cmd->server);
        global.session_cache = *spec.value;
        global.cache_provider = nullptr;
        global.cache_instance = nullptr;
        if (!global.session_cache.enabled()) return nullptr;
        const auto* provider = static_cast<const ap_socache_provider_t*>(ap_lookup_provider(
            AP_SOCACHE_PROVIDER_GROUP, global.session_cache.provider.c_str(), AP_SOCACHE_PROVIDER_VERSION));
        if (provider == nullptr) {
            return directive_error(cmd, "unknown session cache type '" + global.session_cache.provider +
                                            "' (is mod_socache_" + global.session_cache.provider +
                                            " loaded before this line?)");
        }
        const char* argument = global.session_cache.argument.empty() ? nullptr : global.session_cache.argument.c_str();
        if (const char* error = provider->create(&global.cache_instance, argument, cmd->temp_pool, cmd->pool)) {
            return directive_error(cmd, std::string("'") + type + "': " + error);
        }
        global.cache_provider = provider;
        return nullptr;
    });
}

const char* add_ocsp_response_files(cmd_parms* cmd, void*, int argc, char* const argv[]) {
    return handle(cmd, [&](ServerConfig& config) -> const char* {
        // httpd's argument splitter stops at an empty word, so `""` arrives as no
        // argument at all: no response file for this certificate. Only the raw
        // line tells it from a directive given nothing, which is a mistake.
        if (argc == 0 && cmd->directive != nullptr &&
            (cmd->directive->args == nullptr || cmd->directive->args[std::strspn(cmd->directive->args, " \t")] == '\0')) {
            return directive_error(cmd, "needs a response FILE, or \"\" for none");
        }
        std::vector<std::string> files;
        for (int i = 0; i < argc; ++i) {
            files.emplace_back(argv[i][0] == '\0' ? "" : ap_server_root_relative(cmd->pool, argv[i]));
        }
        config.ocsp_response_files.push_back(std::move(files));
        return nullptr;
    });
}

// mod_gnutls directives that have no effect in mod_gtls (its OCSP cache, DH
// parameter files): accepted so a mod_gnutls configuration runs unchanged.
const char* ignore_directive(cmd_parms* cmd, void*, const char*, const char*) {
    ap_log_error(APLOG_MARK, APLOG_INFO | APLOG_STARTUP, 0, cmd->server,
                 "GTLS0103: %s is accepted for mod_gnutls compatibility and has no effect in mod_gtls",
                 cmd->cmd->name);
    return nullptr;
}

const char* refuse_srk_pin(cmd_parms* cmd, void*, const char*) {
    return directive_error(cmd, "is refused: TPM 1.2 keys are not supported by mod_gtls; keep the key in a file "
                                "(encrypted with GnuTLSPIN if you like) or on a PKCS #11 token");
}

using Take1 = const char* (*)(cmd_parms*, void*, const char*);
using Take2 = const char* (*)(cmd_parms*, void*, const char*, const char*);

command_rec take1(const char* name, Take1 handler, int context, const char* help) {
    command_rec rec{};
    rec.name = name;
    rec.func = reinterpret_cast<cmd_func>(reinterpret_cast<void (*)()>(handler));  // C++ sees cmd_func as an untyped function pointer
    rec.cmd_data = nullptr;
    rec.req_override = context;
    rec.args_how = TAKE1;
    rec.errmsg = help;
    return rec;
}

command_rec raw_args(const char* name, Take1 handler, int context, const char* help) {
    command_rec rec = take1(name, handler, context, help);
    rec.args_how = RAW_ARGS;
    return rec;
}

using TakeArgv = const char* (*)(cmd_parms*, void*, int, char* const*);

command_rec take_argv(const char* name, TakeArgv handler, int context, const char* help) {
    command_rec rec{};
    rec.name = name;
    rec.func = reinterpret_cast<cmd_func>(reinterpret_cast<void (*)()>(handler));
    rec.req_override = context;
    rec.args_how = TAKE_ARGV;
    rec.errmsg = help;
    return rec;
}

command_rec take12(const char* name, Take2 handler, int context, const char* help) {
    command_rec rec{};
    rec.name = name;
    rec.func = reinterpret_cast<cmd_func>(reinterpret_cast<void (*)()>(handler));
    rec.cmd_data = nullptr;
    rec.req_override = context;
    rec.args_how = TAKE12;
    rec.errmsg = help;
    return rec;
}

}  // namespace

const command_rec kDirectives[] = {
    take1("GnuTLSEnable", set_on_off<&ServerConfig::enabled>, RSRC_CONF, "On|Off: serve TLS on this server's addresses"),
    take1("GnuTLSCertificateFile", add_certificate_file, RSRC_CONF,
          "PEM file with a certificate chain, leaf first (repeatable; pairs with the GnuTLSKeyFile of the same position)"),
    take1("GnuTLSKeyFile", add_key_file, RSRC_CONF,
          "Private key file (PEM or DER) of the certificate chain at the same position (repeatable)"),
    take1("GnuTLSP11Module", add_pkcs11_module, RSRC_CONF,
          "PKCS #11 provider library to load instead of p11-kit's configured ones (repeatable)"),
    raw_args("GnuTLSPIN", set_pin, RSRC_CONF,
             "PIN of the PKCS #11 token holding the keys, or passphrase of encrypted key files"),
    take1("GnuTLSRSASigner", set_rsa_signer, RSRC_CONF,
          "gnutls|openssl: the library that signs with RSA key files (default openssl when built with libcrypto)"),
    take1("GnuTLSKeyVerifySignatures", set_key_verify_signatures, RSRC_CONF,
          "On|Off: verify every OpenSSL RSA signature with GnuTLS before sending it (default Off)"),
    take1("GnuTLSCertificatePreference", set_certificate_preference, RSRC_CONF,
          "cost|order: which of several chains a client that accepts them all gets (default cost: ECDSA/EdDSA before RSA)"),
    take1("GnuTLSPriorities", set_priorities<&ServerConfig::priorities>, RSRC_CONF, "GnuTLS priority string (protocols, ciphers, groups)"),
    take1("GnuTLSSessionTickets", set_on_off<&ServerConfig::session_tickets>, RSRC_CONF, "On|Off: TLS session tickets (default On)"),
    take1("GnuTLSSessionTicketKeyFile", set_session_ticket_key_file, RSRC_CONF,
          "File with the 64-byte ticket master key shared by several servers (raw or base64; mode 0600)"),
    take12("GnuTLSCache", set_cache, RSRC_CONF,
           "Session cache: 'none' or an socache provider with argument, e.g. 'shmcb:/run/gtls_cache(512000)'"),
    take1("GnuTLSCacheTimeout", set_seconds<&ServerConfig::cache_timeout, 0, 604800>, RSRC_CONF,
          "Lifetime of resumable sessions and tickets, in seconds (default 300)"),
    take1("GnuTLSOCSPStapling", set_on_off<&ServerConfig::ocsp_stapling>, RSRC_CONF,
          "On|Off: staple OCSP responses (default On where a response file is configured)"),
    take_argv("GnuTLSOCSPResponseFile", add_ocsp_response_files, RSRC_CONF,
              "OCSP response file(s) of the certificate at the same position: leaf first; \"\" for none (repeatable)"),
    take1("GnuTLSOCSPCheckInterval", set_seconds<&ServerConfig::ocsp_check_interval, 0, 86400>, RSRC_CONF,
          "Seconds between checks of a response file for changes (default 1; 0 = every 250 ms)"),
    take1("GnuTLSOCSPResponseDir", set_ocsp_response_dir, RSRC_CONF,
          "Directory of the responses mod_gtls fetches for certificates without GnuTLSOCSPResponseFile"),
    take1("GnuTLSOCSPResponderURL", set_ocsp_responder_url, RSRC_CONF,
          "OCSP responder to ask instead of the one the certificate names (AIA)"),
    take1("GnuTLSOCSPCheckNonce", set_on_off<&ServerConfig::ocsp_check_nonce>, RSRC_CONF,
          "On|Off: send a nonce with each OCSP request and refuse answers with another (default On)"),
    take1("GnuTLSOCSPSocketTimeout", set_seconds<&ServerConfig::ocsp_socket_timeout, 1, 300>, RSRC_CONF,
          "Seconds an OCSP request may take, connect and transfer (default 6)"),
    take1("GnuTLSOCSPFailureTimeout", set_seconds<&ServerConfig::ocsp_failure_timeout, 1, 86400>, RSRC_CONF,
          "Longest wait before asking a failed OCSP responder again (default 300)"),
    take1("GnuTLSOCSPCacheTimeout", set_seconds<&ServerConfig::ocsp_cache_timeout, 1, 604800>, RSRC_CONF,
          "Seconds after which a fetched OCSP response is asked for again; lifetime of one without nextUpdate "
          "(default 3600)"),
    take1("GnuTLSOCSPFuzzTime", set_seconds<&ServerConfig::ocsp_fuzz_time, 0, 604800>, RSRC_CONF,
          "Ask for a fetched OCSP response between this and half this many seconds before "
          "GnuTLSOCSPCacheTimeout ends (default: the larger of CacheTimeout/8 and 2 x FailureTimeout)"),
    take1("GnuTLSOCSPAutoRefresh", set_on_off<&ServerConfig::ocsp_auto_refresh>, RSRC_CONF,
          "On|Off: refresh fetched OCSP responses whether or not handshakes use them (default On)"),
    take1("GnuTLSClientVerify", set_client_verify, RSRC_CONF | OR_AUTHCFG,
          "ignore|none|request|require: ask clients for a certificate (server, virtual host, directory, .htaccess)"),
    take1("GnuTLSClientCAFile", set_file<&ServerConfig::client_ca_file>, RSRC_CONF,
          "PEM file of the CAs whose client certificates are accepted"),
    take1("GnuTLSClientCRLFile", set_file<&ServerConfig::client_crl_file>, RSRC_CONF,
          "PEM file of CRLs checked when verifying client certificates"),
    take_argv("GnuTLSClientKeyPurpose", set_client_key_purposes, RSRC_CONF,
              "Extended key usage OIDs a client certificate must all carry"),
    take1("GnuTLSExportCertificates", set_export_certificates, RSRC_CONF,
          "On|Off|BYTES: put SSL_SERVER_CERT and SSL_CLIENT_CERT (PEM) in CGI/SSI environments"),
    // mod_gnutls's other names for the certificate and key directives.
    take1("GnuTLSX509CertificateFile", add_certificate_file, RSRC_CONF, "same as GnuTLSCertificateFile"),
    take1("GnuTLSX509KeyFile", add_key_file, RSRC_CONF, "same as GnuTLSKeyFile"),
    take1("GnuTLSX509CAFile", set_file<&ServerConfig::client_ca_file>, RSRC_CONF, "same as GnuTLSClientCAFile"),
    // mod_gnutls compatibility: accepted, no effect.
    take12("GnuTLSOCSPCache", ignore_directive, RSRC_CONF,
           "no effect in mod_gtls: fetched responses are kept in GnuTLSOCSPResponseDir"),
    take12("GnuTLSDHFile", ignore_directive, RSRC_CONF, "no effect in mod_gtls (GnuTLS uses RFC 7919 groups)"),
    // TLS to proxy backends (mod_gnutls's names, and mod_ssl's checks).
    take1("GnuTLSProxyEngine", set_proxy_engine, RSRC_CONF | OR_AUTHCFG | PROXY_CONF,
          "On|Off: TLS to https://, h2:// and wss:// proxy backends by mod_gtls (server, virtual host, <Proxy>, <Location>)"),
    take1("GnuTLSProxyCAFile", set_file<&ServerConfig::proxy_ca_file>, RSRC_CONF,
          "PEM file of the CAs that backend certificates must lead to (default: the system's CAs)"),
    take1("GnuTLSProxyCRLFile", set_file<&ServerConfig::proxy_crl_file>, RSRC_CONF,
          "PEM file of CRLs checked when verifying backend certificates"),
    take1("GnuTLSProxyCertificateFile", set_file<&ServerConfig::proxy_certificate_file>, RSRC_CONF,
          "PEM file with the client certificate chain shown to backends that ask for one"),
    take1("GnuTLSProxyKeyFile", set_file<&ServerConfig::proxy_key_file>, RSRC_CONF,
          "Private key of GnuTLSProxyCertificateFile"),
    take1("GnuTLSProxyPriorities", set_priorities<&ServerConfig::proxy_priorities>, RSRC_CONF,
          "GnuTLS priority string for connections to backends (default: the module's)"),
    take1("GnuTLSProxyCheckPeerName", set_on_off<&ServerConfig::proxy_check_peer_name>, RSRC_CONF,
          "On|Off: a backend's certificate must name the host it is reached by (default On)"),
    take1("GnuTLSProxyCheckPeerExpire", set_on_off<&ServerConfig::proxy_check_peer_expire>, RSRC_CONF,
          "On|Off: a backend's certificate must be in date (default On)"),
    // mod_gnutls features mod_gtls refuses rather than doing less than asked.
    raw_args("GnuTLSSRKPIN", refuse_srk_pin, RSRC_CONF, "refused: TPM 1.2 keys are not supported by mod_gtls"),
    command_rec{},
};

}  // namespace gtls
