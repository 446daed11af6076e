// One TLS session over one httpd connection, in either direction: the GnuTLS
// session, the transport that moves its records through the connection's
// filters, record reading and writing, alerts and close_notify, and the
// handshake driver. What only one side does sits on top:
//   IncomingTlsConnection (incoming_tls_connection.h): a client connected to
//     us: vhost by SNI, ALPN, tickets, client certificates, SSL_* variables;
//   OutgoingTlsConnection (outgoing_tls_connection.h): mod_proxy's connection
//     to a backend: SNI, ALPN, verification of the backend, its sessions.
// Owned by c->pool; the connection's thread drives it.
#pragma once

#include "core/byte_buffer.h"
#include "core/owned.h"
#include "core/record_boundaries.h"
#include "httpd/httpd.h"

#include <cstddef>
#include <string>

namespace gtls {

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
    // The TLS state of `c` or of its master connection (HTTP/2 streams), either
    // direction; nullptr when mod_gtls does not do TLS on it.
    static TlsConnection* of(conn_rec* c);

    TlsConnection(const TlsConnection&) = delete;
    TlsConnection& operator=(const TlsConnection&) = delete;
    virtual ~TlsConnection() = default;

    conn_rec* conn() const { return c_; }
    gnutls_session_t session() const { return session_.get(); }
    bool handshake_done() const { return handshake_done_; }

    // Runs the handshake as far as the transport allows in `block` mode:
    // APR_SUCCESS when done, APR_EAGAIN when non-blocking and waiting for the
    // peer, another error when it failed (then the connection is aborted).
    apr_status_t handshake(apr_read_type_e block);

    // Filter entry points (io_filters.cc).
    apr_status_t read(apr_bucket_brigade* bb, ap_input_mode_t mode, apr_read_type_e block, apr_off_t readbytes);
    apr_status_t write(apr_bucket_brigade* bb);

protected:
    // A handshake step GnuTLS repeats this often without progress is given up.
    static constexpr unsigned kMaxHandshakeRounds = 10000;

    // gnutls_init with `flags` (GNUTLS_SERVER or GNUTLS_CLIENT, ...). Throws on failure.
    TlsConnection(conn_rec* c, unsigned flags);

    // Registers the connection in c->conn_config (so of() finds it).
    void register_with_connection();
    // Installs the transport and adds GTLS_IN/GTLS_OUT to the connection.
    void add_filters();

    // Called once, before the handshake's first step.
    virtual void prepare_handshake() {}
    // Called once when the handshake completed (not on failure).
    virtual void on_handshake_done() = 0;
    // Logs why the handshake failed, with transport_read_status_ set.
    virtual void log_handshake_failure(int gnutls_error) = 0;
    // After a failed handshake: answers in plain text when the peer spoke
    // something else than TLS; true if it did (then no alert is sent).
    virtual bool answer_plain_text_if_spoken() { return false; }
    // What write() returns to its caller when the handshake it ran failed.
    virtual apr_status_t write_after_failed_handshake(apr_status_t handshake_status) { return handshake_status; }
    // Log prefix: the vhost (and for outgoing connections, the backend).
    virtual const char* log_name() const = 0;
    // The peer in log lines: the client's address, or the backend.
    virtual const char* peer_name() const = 0;
    // How loud a failed read or write is: a client's troubles are its own
    // (info), a backend's are the administrator's (error).
    virtual int failure_log_level() const { return APLOG_INFO; }

    // Makes room in plain_ after plain_end_ for one record's plaintext.
    void make_room_for_record();
    apr_status_t pass_ciphertext(bool flush);
    // Sends the alert RFC 8446 section 6.2 asks for after `gnutls_error` (none
    // after the peer's own fatal alert or a failed write) and flushes it to
    // the socket, so it is on the wire before the connection closes.
    void send_fatal_alert(int gnutls_error);
    void abort_connection();

    conn_rec* c_;
    // Credentials of this connection alone (a tls-alpn-01 challenge's
    // certificate), declared before session_ so that they outlive it.
    OwnedCredentials own_credentials_;
    OwnedSession session_;
    bool handshake_started_ = false;
    bool handshake_done_ = false;
    bool failed_ = false;
    // Whether what the peer sends before its handshake is done is bounded
    // (kMaxHandshakeBytesIn): clients are; a backend we chose is not.
    bool bound_handshake_input_ = false;

    // Transport: ciphertext from and to the next filters.
    ap_filter_t* input_filter_ = nullptr;
    ap_filter_t* output_filter_ = nullptr;
    apr_bucket_brigade* ciphertext_in_ = nullptr;
    apr_bucket_brigade* ciphertext_out_ = nullptr;
    apr_size_t ciphertext_out_bytes_ = 0;
    apr_read_type_e transport_block_ = APR_BLOCK_READ;
    apr_status_t transport_read_status_ = APR_SUCCESS;
    apr_status_t transport_write_status_ = APR_SUCCESS;
    // The first bytes the peer sent: the record and handshake headers of its
    // ClientHello (or an HTTP method).
    unsigned char first_bytes_[9] = {};
    apr_size_t first_bytes_length_ = 0;
    apr_size_t handshake_bytes_in_ = 0;  // ciphertext read while the handshake runs
    apr_size_t announced_client_hello_ = 0;  // the ClientHello length its header announced, when too long

    // Decrypted bytes not yet handed to the filters above: [plain_begin_, plain_end_).
    // Allocated when a read needs it and freed when the connection waits with
    // nothing buffered, so idle keep-alive connections do not hold it.
    ByteBuffer plain_;
    apr_size_t plain_begin_ = 0;
    apr_size_t plain_end_ = 0;
    bool plain_eof_ = false;

private:
    friend struct Transport;

    apr_status_t fill_plaintext(apr_read_type_e block);
    apr_status_t send_plaintext(const char* data, apr_size_t length);
    apr_status_t close_notify();
    // After the EOC the connection only lingers for the peer's FIN. Mod_ssl
    // frees its SSL there too: the memory goes back now, in the worker thread
    // that allocated it, not when the event MPM's listener thread recycles the
    // pool after the lingering close (up to two seconds later).
    void release_session();

    bool closed_ = false;
    // Record headers of everything read, so a record TLS 1.3 forbids after the
    // handshake is refused with unexpected_message rather than left to GnuTLS.
    RecordBoundaries records_in_;
    bool tls13_ = false;  // the handshake negotiated TLS 1.3
    int unexpected_record_type_ = -1;  // the outer type of such a record, once seen
    // A renegotiation ClientHello was refused and GnuTLS still holds it; the
    // next read reports it once as GNUTLS_E_UNEXPECTED_PACKET.
    bool refused_hello_buffered_ = false;

    // A response head waiting for its body (write()).
    std::string held_plaintext_;
};

// pre_connection hook body: TLS for a client on a GnuTLSEnable address, or
// for a backend connection mod_proxy asked mod_gtls to secure.
int start_tls_connection(conn_rec* c, void* csd);

}  // namespace gtls
