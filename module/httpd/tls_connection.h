// Per-connection TLS state: the GnuTLS session, the vhost chosen by SNI, the
// handshake driver and the plaintext/ciphertext buffers the filters share.
// Created in pre_connection, owned by c->pool. The connection's thread drives it;
// h2 stream threads only read its SSL_* values once the handshake is done.
#pragma once

#include "core/byte_buffer.h"
#include "core/owned.h"
#include "core/record_boundaries.h"
#include "httpd/httpd.h"

#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace gtls {

class VhostTls;

// What a client may legally send before its handshake is done, so that every
// ClientHello whose fields keep within their TLS lengths is served and
// anything larger is cut off early. GnuTLS 3.7 buffers a handshake message of
// any announced size (up to 16 MiB) until it is complete, so without a bound
// every connection could be made to hold megabytes until Timeout.
//
// RFC 8446 section 4.1.2 (and RFC 5246 section 7.4.1.2) bounds the fields:
//   legacy_version 2, random 32, legacy_session_id <0..32>,
//   cipher_suites <2..2^16-2>, legacy_compression_methods <1..2^8-1>,
//   extensions <8..2^16-1>
// which, with their length prefixes, is 131,396 bytes of ClientHello body.
inline constexpr apr_size_t kMaxClientHelloBody =
    2 + 32 + (1 + 32) + (2 + 65534) + (1 + 255) + (2 + 65535);
// RFC 8446 section 5.1: a record carries at most 2^14 bytes of plaintext, and
// section 5.2: a protected record at most 2^14 + 256 bytes, after a 5-byte header.
inline constexpr apr_size_t kMaxRecordPlaintextIn = 16384;
inline constexpr apr_size_t kMaxProtectedRecordIn = 5 + 16384 + 256;
// The largest ClientHello (4-byte handshake header included) in full records.
inline constexpr apr_size_t kMaxClientHelloIn =
    (4 + kMaxClientHelloBody) + 5 * ((4 + kMaxClientHelloBody + kMaxRecordPlaintextIn - 1) / kMaxRecordPlaintextIn);
// Everything else a client sends before its handshake completes: after a
// HelloRetryRequest a second ClientHello; rejected 0-RTT data (GnuTLS skips up
// to 16 KiB of it, counted as two full protected records); and the client's
// last flight (TLS 1.2: ClientKeyExchange, ChangeCipherSpec, Finished; TLS 1.3:
// ChangeCipherSpec, Finished), each counted as a full protected record. About
// 354 KiB: a handshake that needs more is not a legal one.
inline constexpr apr_size_t kMaxHandshakeBytesIn = 2 * kMaxClientHelloIn + 2 * kMaxProtectedRecordIn + 3 * kMaxProtectedRecordIn;
// GnuTLS's own cap on the handshake transcript (received and sent messages,
// 128 KiB by default) would refuse the largest legal ClientHellos: two of them
// plus room for the server's own flight (GnuTLS's default for that).
inline constexpr apr_size_t kMaxHandshakeTranscript = 2 * (4 + kMaxClientHelloBody) + 128 * 1024;
// transport_read_status_ once a client went past kMaxHandshakeBytesIn or
// announced a ClientHello longer than kMaxClientHelloBody.
inline constexpr apr_status_t kHandshakeTooLarge = APR_ENOSPC;

class TlsConnection {
public:
    // Creates the TLS state for `c` (whose address selected `vhost`), registers it
    // in c->conn_config, adds the filters. Throws on GnuTLS failure.
    static TlsConnection* attach(conn_rec* c, VhostTls& default_vhost);

    // The TLS state of `c` or of its master connection (HTTP/2 streams); nullptr
    // when the connection is not TLS by mod_gtls.
    static TlsConnection* of(conn_rec* c);

    TlsConnection(conn_rec* c, VhostTls& default_vhost);
    TlsConnection(const TlsConnection&) = delete;
    TlsConnection& operator=(const TlsConnection&) = delete;

    conn_rec* conn() const { return c_; }
    gnutls_session_t session() const { return session_.get(); }
    // The vhost whose credentials the handshake uses (the SNI match, else the
    // address's default).
    VhostTls* vhost() const { return vhost_; }
    server_rec* server() const;
    const std::string& sni() const { return sni_; }
    bool handshake_done() const { return handshake_done_; }
    unsigned session_lifetime_seconds() const;

    // Runs the handshake as far as the transport allows in `block` mode:
    // APR_SUCCESS when done, APR_EAGAIN when non-blocking and waiting for the
    // client, another error when it failed (then the connection is aborted).
    apr_status_t handshake(apr_read_type_e block);

    // Filter entry points (io_filters.cc).
    apr_status_t read(apr_bucket_brigade* bb, ap_input_mode_t mode, apr_read_type_e block, apr_off_t readbytes);
    apr_status_t write(apr_bucket_brigade* bb);

    // An SSL_* variable (mod_ssl's names) for this connection, or nullptr. The
    // values are worked out once, when the handshake is done, in c->pool; one
    // asked for earlier is computed in `pool`. Nothing here writes to the
    // connection after the handshake, so h2 stream threads may call it at once.
    const char* variable(const char* name, apr_pool_t* pool) const;
    // Adds mod_ssl's StdEnvVars set to `env` (a request's subprocess_env).
    void export_variables(apr_table_t* env) const;
    static constexpr std::size_t kVariableCount = 32;

    // SSL_CLIENT_VERIFY, as the handshake's verification found it ("" until
    // then; a resumed session is judged when its variables are worked out).
    const std::string& client_verify_result() const { return client_verify_result_; }
    void set_client_verify_result(std::string verdict) { client_verify_result_ = std::move(verdict); }

    // Whether the client was asked for a certificate: by the handshake (its
    // vhost's GnuTLSClientVerify) or afterwards.
    bool client_was_asked() const;

    enum class AskOutcome { Answered, TooMuchData, Failed };
    // TLS 1.3 post-handshake authentication (RFC 8446 section 4.6.2): asks the
    // client for its certificate and waits, in the request's thread, for the
    // answer; then SSL_CLIENT_* describe it. Request data the client sends
    // meanwhile is decrypted and held for the request, up to `max_held` bytes.
    // The caller has checked the session allows it (TLS 1.3, client offered
    // post_handshake_auth). Failed: the connection is closed (logged).
    AskOutcome ask_for_client_certificate(apr_size_t max_held);

    // ClientHello hook: picks the vhost by SNI and the protocol by ALPN.
    int on_client_hello(const gnutls_datum_t* message);

private:
    friend struct Transport;

    void remember_variables();
    void select_vhost(VhostTls& vhost);
    // Turns on tickets and the cache lifetime of the vhost the first ClientHello chose.
    void enable_resumption();
    void select_protocol(const std::vector<std::string>& client_protocols);
    // Makes room in plain_ after plain_end_ for one record's plaintext.
    void make_room_for_record();
    apr_status_t fill_plaintext(apr_read_type_e block);
    apr_status_t send_plaintext(const char* data, apr_size_t length);
    apr_status_t pass_ciphertext(bool flush);
    apr_status_t close_notify();
    // After the EOC the connection only lingers for the client's FIN. Mod_ssl
    // frees its SSL there too: the memory goes back now, in the worker thread
    // that allocated it, not when the event MPM's listener thread recycles the
    // pool after the lingering close (up to two seconds later).
    void release_session();
    void log_handshake_failure(int gnutls_error);
    // Answers 400 in plain text when the client spoke HTTP; true if it did.
    bool answer_plain_http_if_spoken();
    // Sends the alert RFC 8446 section 6.2 asks for after `gnutls_error` (none
    // after the client's own fatal alert or a failed write) and flushes it to
    // the socket, so it is on the wire before the connection closes.
    void send_fatal_alert(int gnutls_error);
    void abort_connection();

    conn_rec* c_;
    OwnedSession session_;
    VhostTls* vhost_;
    std::string sni_;
    bool vhost_from_sni_ = false;
    bool protocol_chosen_ = false;
    bool resumption_settled_ = false;
    bool handshake_done_ = false;
    bool failed_ = false;
    bool closed_ = false;
    bool asked_after_handshake_ = false;

    // Transport: ciphertext from and to the next filters.
    ap_filter_t* input_filter_ = nullptr;
    ap_filter_t* output_filter_ = nullptr;
    apr_bucket_brigade* ciphertext_in_ = nullptr;
    apr_bucket_brigade* ciphertext_out_ = nullptr;
    apr_size_t ciphertext_out_bytes_ = 0;
    apr_read_type_e transport_block_ = APR_BLOCK_READ;
    apr_status_t transport_read_status_ = APR_SUCCESS;
    apr_status_t transport_write_status_ = APR_SUCCESS;
    // The first bytes the client sent: the record and handshake headers of its
    // ClientHello (or an HTTP method).
    unsigned char first_bytes_[9] = {};
    apr_size_t first_bytes_length_ = 0;
    apr_size_t handshake_bytes_in_ = 0;  // ciphertext read while the handshake runs
    // Record headers of everything read, so a record TLS 1.3 forbids after the
    // handshake is refused with unexpected_message rather than left to GnuTLS.
    RecordBoundaries records_in_;
    bool tls13_ = false;  // the handshake negotiated TLS 1.3
    int unexpected_record_type_ = -1;  // the outer type of such a record, once seen
    // A renegotiation ClientHello was refused and GnuTLS still holds it; the
    // next read reports it once as GNUTLS_E_UNEXPECTED_PACKET.
    bool refused_hello_buffered_ = false;
    apr_size_t announced_client_hello_ = 0;  // the ClientHello length its header announced, when too long

    // Small response data waiting for the next write or metadata bucket (write()).
    std::string held_plaintext_;

    // Decrypted bytes not yet handed to the filters above: [plain_begin_, plain_end_).
    // Allocated when a read needs it and freed when the connection waits with
    // nothing buffered, so idle keep-alive connections do not hold it.
    ByteBuffer plain_;
    apr_size_t plain_begin_ = 0;
    apr_size_t plain_end_ = 0;
    bool plain_eof_ = false;

    // SSL_* values, in the order of ssl_variables.cc's table, from the handshake
    // on (worked out again when a certificate is asked for after it).
    std::array<const char*, kVariableCount> variables_{};
    // SSL_{SERVER,CLIENT}_{S,I}_DN_*, _SAN_*, SSL_CLIENT_V_REMAIN: (name, value) in c->pool.
    std::vector<std::pair<const char*, const char*>> certificate_parts_;
    // SSL_CLIENT_CERT_CHAIN_n: the PEM of the certificates the client sent after
    // its own, exported like SSL_CLIENT_CERT (GnuTLSExportCertificates).
    std::vector<std::pair<const char*, const char*>> client_chain_;
    std::string client_verify_result_;
};

// pre_connection hook body.
int start_tls_connection(conn_rec* c, void* csd);

}  // namespace gtls
