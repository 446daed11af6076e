// RSA private-key operations computed by OpenSSL 3's libcrypto for a key GnuTLS
// read, handed to GnuTLS as an external key (gnutls_privkey_import_ext4), so
// GnuTLS still does the whole TLS protocol and only the modular exponentiation
// moves. Measured on the benchmark machine (bench/rsa_sign_bench.cc), libcrypto
// signs RSA-2048 several times faster than nettle 3.8.
//
// Safety, as the libraries guarantee it:
//  - libcrypto's default RSA method (rsa_ossl.c) blinds every private-key
//    operation (RSA_FLAG_NO_BLINDING is never set here), computes with
//    constant-time exponentiation (BN_FLG_CONSTTIME; on x86-64 the RSAZ
//    AVX2/AVX-512 code for 2048/3072/4096-bit moduli), and checks each CRT
//    result with the public exponent, recomputing without CRT on a mismatch;
//  - padding (PKCS #1 v1.5 type 1, PSS) is OpenSSL's own;
//  - optionally (GnuTLSKeyVerifySignatures) every signature is verified once
//    more with GnuTLS before GnuTLS puts it on the wire.
// Key material: the private key is parsed by GnuTLS only (encrypted files,
// PKCS #1, PKCS #8), exported as DER into a buffer that is zeroised, and
// decoded by libcrypto, which clears the key's numbers when it frees them.
// Nothing here logs.
#pragma once

#include "core/owned.h"

#include <string>

namespace gtls {

// Whether this build has libcrypto to sign with (found by CMake at build time).
bool openssl_rsa_signer_available() noexcept;
// "3.0.19" (the libcrypto in use), or "" without one.
std::string openssl_rsa_signer_version();

// Whether `key` is one the OpenSSL signer takes: a plain RSA key (not an
// RSA-PSS-only key, whose parameters GnuTLS enforces itself).
bool openssl_rsa_signer_accepts(gnutls_x509_privkey_t key) noexcept;

// A GnuTLS private key whose signatures libcrypto computes with a copy of
// `key` (borrowed for the call; it may be freed afterwards). It signs RSA
// PKCS #1 v1.5 with any hash GnuTLS asks for (GnuTLS hands over the DigestInfo)
// and RSA-PSS (rsaEncryption keys) with SHA-256/384/512, salt length = hash
// length as TLS 1.3 requires. When `verify_with` is not null (taken over), every
// signature is verified with GnuTLS against it before it is returned, and a
// signature that does not verify is discarded: the signing call then fails
// with GNUTLS_E_PK_SIGN_FAILED and nothing is sent.
// The result may be used by several threads at once (each signature has its
// own OpenSSL context). Throws std::runtime_error when the key is not RSA, when
// libcrypto is not available, or when OpenSSL refuses the key.
OwnedAbstractPrivkey make_openssl_rsa_privkey(gnutls_x509_privkey_t key, OwnedPubkey verify_with);

}  // namespace gtls
