// PKCS #11 providers (GnuTLSP11Module) and what keys on tokens need across fork.
#pragma once

#include "httpd/httpd.h"

#include <string>
#include <vector>

namespace gtls {

// Loads each provider library not loaded into this process yet, before any
// chain is read. Without GnuTLSP11Module GnuTLS loads p11-kit's configured
// providers when a pkcs11: URI is first used. A provider stays loaded for the
// life of the process (GnuTLS cannot unload one), so removing the directive
// takes a restart, not a graceful one. Throws std::runtime_error naming the
// library when it cannot be loaded.
void load_pkcs11_providers(const std::vector<std::string>& modules);

// child_init: PKCS #11 sessions do not survive fork (PKCS #11 section 6.7.7);
// each worker process starts its own and logs in again with GnuTLSPIN.
void reinitialize_pkcs11_in_child(server_rec* s);

}  // namespace gtls
