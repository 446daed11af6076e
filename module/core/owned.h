// Single-owner RAII wrappers for GnuTLS handles and gnutls_malloc'd memory.
#pragma once

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/ocsp.h>
#include <gnutls/x509.h>

#include <memory>

namespace gtls {

template <auto Deleter>
struct HandleDeleter {
    template <typename T>
    void operator()(T* handle) const noexcept { Deleter(handle); }
};

// Owned<gnutls_x509_crt_t, gnutls_x509_crt_deinit>: a unique_ptr over a GnuTLS
// opaque handle type (itself a pointer), released with its deinit function.
template <typename Handle, auto Deleter>
using Owned = std::unique_ptr<std::remove_pointer_t<Handle>, HandleDeleter<Deleter>>;

using OwnedCrt = Owned<gnutls_x509_crt_t, gnutls_x509_crt_deinit>;
using OwnedPrivkey = Owned<gnutls_x509_privkey_t, gnutls_x509_privkey_deinit>;
using OwnedAbstractPrivkey = Owned<gnutls_privkey_t, gnutls_privkey_deinit>;
using OwnedPubkey = Owned<gnutls_pubkey_t, gnutls_pubkey_deinit>;
using OwnedOcspResp = Owned<gnutls_ocsp_resp_t, gnutls_ocsp_resp_deinit>;
using OwnedOcspReq = Owned<gnutls_ocsp_req_t, gnutls_ocsp_req_deinit>;
using OwnedCredentials = Owned<gnutls_certificate_credentials_t, gnutls_certificate_free_credentials>;
using OwnedPriority = Owned<gnutls_priority_t, gnutls_priority_deinit>;
using OwnedSession = Owned<gnutls_session_t, gnutls_deinit>;

// gnutls_free is a macro over a function pointer variable; wrap it once.
inline void free_gnutls_memory(void* p) noexcept { gnutls_free(p); }

// Owns a gnutls_datum_t's data that GnuTLS allocated (e.g. from *_export2()).
class OwnedDatum {
public:
    OwnedDatum() = default;
    OwnedDatum(const OwnedDatum&) = delete;
    OwnedDatum& operator=(const OwnedDatum&) = delete;
    OwnedDatum(OwnedDatum&& other) noexcept : datum_(other.datum_) { other.datum_ = {nullptr, 0}; }
    OwnedDatum& operator=(OwnedDatum&& other) noexcept {
        if (this != &other) {
            reset();
            datum_ = other.datum_;
            other.datum_ = {nullptr, 0};
        }
        return *this;
    }
    ~OwnedDatum() { reset(); }

    // For passing to a GnuTLS function that fills it; releases what was held first.
    gnutls_datum_t* out() noexcept { reset(); return &datum_; }
    const gnutls_datum_t& get() const noexcept { return datum_; }
    const unsigned char* data() const noexcept { return datum_.data; }
    unsigned size() const noexcept { return datum_.size; }

    void reset() noexcept {
        if (datum_.data != nullptr) free_gnutls_memory(datum_.data);
        datum_ = {nullptr, 0};
    }

private:
    gnutls_datum_t datum_{nullptr, 0};
};

}  // namespace gtls
