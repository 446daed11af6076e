#include "fetch/ocsp_request.h"

#include "core/owned.h"

#include <gnutls/crypto.h>
#include <gnutls/ocsp.h>

#include <algorithm>
#include <stdexcept>

namespace gtls {

namespace {

[[noreturn]] void fail(const std::string& what, int rc) {
    throw std::runtime_error(what + ": " + gnutls_strerror(rc));
}

gnutls_datum_t datum_of(std::span<const unsigned char> bytes) {
    return {const_cast<unsigned char*>(bytes.data()), static_cast<unsigned>(bytes.size())};
}

}  // namespace

OcspRequest build_ocsp_request(gnutls_x509_crt_t leaf, gnutls_x509_crt_t issuer, gnutls_digest_algorithm_t digest,
                               bool with_nonce) {
    gnutls_ocsp_req_t raw = nullptr;
    if (int rc = gnutls_ocsp_req_init(&raw); rc < 0) fail("cannot create the OCSP request", rc);
    OwnedOcspReq request(raw);
    if (int rc = gnutls_ocsp_req_add_cert(raw, digest, issuer, leaf); rc < 0) {
        fail("cannot add the certificate to the OCSP request", rc);
    }
    OcspRequest out;
    if (with_nonce) {
        out.nonce.resize(32);
        if (int rc = gnutls_rnd(GNUTLS_RND_NONCE, out.nonce.data(), out.nonce.size()); rc < 0) {
            fail("cannot make a nonce", rc);
        }
        gnutls_datum_t nonce = datum_of(out.nonce);
        if (int rc = gnutls_ocsp_req_set_nonce(raw, 0, &nonce); rc < 0) fail("cannot set the nonce", rc);
    }
    OwnedDatum der;
    if (int rc = gnutls_ocsp_req_export(raw, der.out()); rc < 0) fail("cannot encode the OCSP request", rc);
    out.der.assign(der.data(), der.data() + der.size());
    return out;
}

std::string responder_url(gnutls_x509_crt_t leaf) {
    for (unsigned seq = 0;; ++seq) {
        OwnedDatum uri;
        int rc = gnutls_x509_crt_get_authority_info_access(leaf, seq, GNUTLS_IA_OCSP_URI, uri.out(), nullptr);
        if (rc == GNUTLS_E_UNKNOWN_ALGORITHM) continue;  // an access method other than OCSP
        if (rc < 0) return "";
        return std::string(reinterpret_cast<const char*>(uri.data()), uri.size());
    }
}

std::string get_url(const std::string& url, std::span<const unsigned char> request) {
    OwnedDatum base64;
    gnutls_datum_t der = datum_of(request);
    if (gnutls_base64_encode2(&der, base64.out()) < 0) return "";
    std::string encoded;
    for (unsigned i = 0; i < base64.size(); ++i) {
        const char ch = static_cast<char>(base64.data()[i]);
        if (ch == '+') encoded += "%2B";
        else if (ch == '/') encoded += "%2F";
        else if (ch == '=') encoded += "%3D";
        else encoded += ch;
    }
    if (encoded.size() > 255) return "";
    return url + (url.ends_with('/') ? "" : "/") + encoded;
}

bool nonce_matches(std::span<const unsigned char> response, std::span<const unsigned char> nonce) {
    if (nonce.empty()) return true;
    gnutls_ocsp_resp_t raw = nullptr;
    if (gnutls_ocsp_resp_init(&raw) < 0) return false;
    OwnedOcspResp parsed(raw);
    gnutls_datum_t der = datum_of(response);
    if (gnutls_ocsp_resp_import(raw, &der) < 0) return false;
    OwnedDatum echoed;
    int rc = gnutls_ocsp_resp_get_nonce(raw, nullptr, echoed.out());
    if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) return true;
    if (rc < 0) return false;
    return echoed.size() == nonce.size() && std::equal(nonce.begin(), nonce.end(), echoed.data());
}

}  // namespace gtls
