#include "httpd/pkcs11_providers.h"

#include <gnutls/pkcs11.h>

#include <set>
#include <stdexcept>

namespace gtls {

namespace {

// Per process: the parent keeps it across graceful restarts, and workers inherit it.
std::set<std::string>& loaded_providers() {
    static std::set<std::string> loaded;
    return loaded;
}

}  // namespace

void load_pkcs11_providers(const std::vector<std::string>& modules) {
    if (modules.empty()) return;
    std::set<std::string>& loaded = loaded_providers();
    if (loaded.empty()) {
        // Only the named providers, not p11-kit's whole configuration.
        if (int rc = gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_MANUAL, nullptr); rc < 0) {
            throw std::runtime_error(std::string("GnuTLSP11Module: cannot initialize PKCS #11: ") + gnutls_strerror(rc));
        }
    }
    for (const std::string& module : modules) {
        if (loaded.contains(module)) continue;
        if (int rc = gnutls_pkcs11_add_provider(module.c_str(), nullptr); rc < 0) {
            throw std::runtime_error("GnuTLSP11Module " + module + ": cannot load the provider: " + gnutls_strerror(rc));
        }
        loaded.insert(module);
    }
}

void reinitialize_pkcs11_in_child(server_rec* s) {
    if (int rc = gnutls_pkcs11_reinit(); rc < 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "GTLS0104: PKCS #11 could not be set up again in worker process %d: %s",
                     static_cast<int>(getpid()), gnutls_strerror(rc));
    }
}

}  // namespace gtls
