#include "core/priorities.h"

#include <stdexcept>

namespace gtls {

OwnedPriority compile_priorities(const std::string& text) {
    gnutls_priority_t priority = nullptr;
    const char* error_position = nullptr;
    int rc = gnutls_priority_init2(&priority, text.c_str(), &error_position, 0);
    if (rc != GNUTLS_E_SUCCESS) {
        std::string reason = gnutls_strerror(rc);
        if (error_position != nullptr && *error_position != '\0') {
            reason += " at '" + std::string(error_position) + "'";
        }
        throw std::invalid_argument("invalid priority string '" + text + "': " + reason);
    }
    return OwnedPriority(priority);
}

bool offers_rsa_key_exchange(gnutls_priority_t priorities) {
    const unsigned* list = nullptr;
    const int count = gnutls_priority_kx_list(priorities, &list);
    for (int i = 0; i < count; ++i) {
        if (list[i] == GNUTLS_KX_RSA) return true;
    }
    return false;
}

}  // namespace gtls
