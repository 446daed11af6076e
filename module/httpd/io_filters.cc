// How bytes move (the map):
//
//   reading:  http/h2 --ap_get_brigade--> GTLS_IN (gtls_input_filter)
//               -> TlsConnection::read -> fill_plaintext -> gnutls_record_recv
//               -> Transport::pull -> ap_get_brigade(GTLS_IN->next, READBYTES)
//               -> [mod_reqtimeout] -> core input filter -> socket
//   writing:  http/h2 --ap_pass_brigade--> GTLS_OUT (gtls_output_filter)
//               -> TlsConnection::write -> send_plaintext -> gnutls_record_send
//               -> Transport::push (appends to ciphertext_out_)
//               -> pass_ciphertext -> ap_pass_brigade(GTLS_OUT->next) -> core output filter
//
// Pull flushes pending ciphertext before it reads, so a handshake flight is on
// the wire before we wait for the client's answer. It also bounds what a client
// may send before its handshake is done (kMaxHandshakeBytesIn, the ClientHello
// length the first record announces) and, after a TLS 1.3 handshake, refuses a
// record whose outer type is not application_data; fill_plaintext and
// handshake() turn those failures, like GnuTLS's own, into an alert. Push never blocks: it only
// appends, and the writer hands the ciphertext down in bounded slices.
#include "httpd/io_filters.h"

#include "httpd/guard.h"
#include "httpd/incoming_tls_connection.h"
#include "httpd/vhost_tls.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace gtls {

namespace {

// GnuTLS records carry at most this much plaintext.
constexpr apr_size_t kMaxRecordPlaintext = 16384;
// Room for two records, so a partly consumed one never forces a move per read.
constexpr apr_size_t kPlaintextBufferSize = 2 * kMaxRecordPlaintext + 256;
// Ciphertext is handed to the core output filter once this much is pending, so
// a large response streams with bounded memory.
constexpr apr_size_t kPassThreshold = 64 * 1024;
// gnutls_record_send answering GNUTLS_E_AGAIN this many times in a row for one
// record makes no progress: the connection is dropped rather than spun on.
constexpr unsigned kMaxSendRetries = 1000;
// Small buckets (headers, chunk markers) are coalesced into one record up to this.
constexpr apr_size_t kCoalesceLimit = kMaxRecordPlaintext;

apr_status_t gtls_input_filter(ap_filter_t* f, apr_bucket_brigade* bb, ap_input_mode_t mode,
                               apr_read_type_e block, apr_off_t readbytes) {
    auto* connection = static_cast<TlsConnection*>(f->ctx);
    return guard(f->c->base_server, "input filter", APR_EGENERAL,
                 [&] { return connection->read(bb, mode, block, readbytes); });
}

apr_status_t gtls_output_filter(ap_filter_t* f, apr_bucket_brigade* bb) {
    auto* connection = static_cast<TlsConnection*>(f->ctx);
    return guard(f->c->base_server, "output filter", APR_EGENERAL, [&] { return connection->write(bb); });
}

// The body length a first record's handshake header announces when the record
// starts with a whole ClientHello header (record header: type 22, version,
// length >= 4; handshake header: type 1, 24-bit length), else 0.
apr_size_t announced_client_hello_length(const unsigned char (&first)[9]) {
    const apr_size_t record_length = (apr_size_t{first[3]} << 8) | first[4];
    if (first[0] != 22 || first[5] != 1 || record_length < 4) return 0;
    return (apr_size_t{first[6]} << 16) | (apr_size_t{first[7]} << 8) | first[8];
}

// "HTTP/1.x NNN ...\r\n...\r\n\r\n" with a status of 200 or more: the head
// of a response whose body httpd passes next. (1xx heads go out at once: the
// client waits for them before it sends more.)
bool is_final_response_head(const char* data, apr_size_t length) {
    return length >= 16 && std::memcmp(data, "HTTP/1.", 7) == 0 && data[9] >= '2' && data[9] <= '9' &&
           std::memcmp(data + length - 4, "\r\n\r\n", 4) == 0;
}

void append_copy(apr_bucket_brigade* bb, const char* data, apr_size_t length) {
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_heap_create(data, length, nullptr, bb->bucket_alloc));
}

}  // namespace

void register_tls_filters() {
    ap_register_input_filter(kInputFilterName, gtls_input_filter, nullptr, static_cast<ap_filter_type>(AP_FTYPE_CONNECTION + 5));
    ap_register_output_filter(kOutputFilterName, gtls_output_filter, nullptr, static_cast<ap_filter_type>(AP_FTYPE_CONNECTION + 5));
}

void Transport::install(TlsConnection& connection) {
    conn_rec* c = connection.c_;
    connection.ciphertext_in_ = apr_brigade_create(c->pool, c->bucket_alloc);
    connection.ciphertext_out_ = apr_brigade_create(c->pool, c->bucket_alloc);
    gnutls_session_t session = connection.session();
    gnutls_transport_set_ptr(session, &connection);
    gnutls_transport_set_pull_function(session, pull);
    gnutls_transport_set_push_function(session, push);
}

ssize_t Transport::pull(gnutls_transport_ptr_t ptr, void* data, size_t size) {
    auto& t = *static_cast<TlsConnection*>(ptr);
    gnutls_session_t session = t.session();
    if (!APR_BRIGADE_EMPTY(t.ciphertext_out_) && t.pass_ciphertext(true) != APR_SUCCESS) {
        gnutls_transport_set_errno(session, EPIPE);
        return -1;
    }
    if (APR_BRIGADE_EMPTY(t.ciphertext_in_)) {
        // Exactly what GnuTLS asks for (a record header, then its body): the core
        // filter keeps the rest of each socket read buffered. Asking for more makes
        // it try a non-blocking read for the difference, which fails with EAGAIN
        // in most handshake steps and also clears APR's "poll before the next
        // read" flag, so the next blocking read costs another EAGAIN read.
        apr_status_t rv = ap_get_brigade(t.input_filter_->next, t.ciphertext_in_, AP_MODE_READBYTES,
                                         t.transport_block_, static_cast<apr_off_t>(size));
        if (rv != APR_SUCCESS) {
            apr_brigade_cleanup(t.ciphertext_in_);
            t.transport_read_status_ = rv;
            if (APR_STATUS_IS_EOF(rv)) return 0;
            gnutls_transport_set_errno(session, APR_STATUS_IS_EAGAIN(rv)     ? EAGAIN
                                                : APR_STATUS_IS_TIMEUP(rv) ? ETIMEDOUT
                                                                           : ECONNRESET);
            return -1;
        }
        if (APR_BRIGADE_EMPTY(t.ciphertext_in_)) {
            if (t.transport_block_ == APR_NONBLOCK_READ) {
                t.transport_read_status_ = APR_EAGAIN;
                gnutls_transport_set_errno(session, EAGAIN);
                return -1;
            }
            t.transport_read_status_ = APR_EOF;
            return 0;
        }
    }
    apr_size_t length = size;
    apr_status_t rv = apr_brigade_flatten(t.ciphertext_in_, static_cast<char*>(data), &length);
    if (rv != APR_SUCCESS) {
        apr_brigade_cleanup(t.ciphertext_in_);
        t.transport_read_status_ = rv;
        gnutls_transport_set_errno(session, ECONNRESET);
        return -1;
    }
    if (length == 0) {  // only metadata (EOS): the client is gone
        apr_brigade_cleanup(t.ciphertext_in_);
        t.transport_read_status_ = APR_EOF;
        return 0;
    }
    apr_bucket* rest = nullptr;
    apr_brigade_partition(t.ciphertext_in_, static_cast<apr_off_t>(length), &rest);
    while (!APR_BRIGADE_EMPTY(t.ciphertext_in_) && APR_BRIGADE_FIRST(t.ciphertext_in_) != rest) {
        apr_bucket_delete(APR_BRIGADE_FIRST(t.ciphertext_in_));
    }
    if (t.first_bytes_length_ < sizeof(t.first_bytes_)) {
        apr_size_t take = std::min(length, sizeof(t.first_bytes_) - t.first_bytes_length_);
        std::memcpy(t.first_bytes_ + t.first_bytes_length_, data, take);
        t.first_bytes_length_ += take;
        if (t.first_bytes_length_ == sizeof(t.first_bytes_)) {
            t.announced_client_hello_ = announced_client_hello_length(t.first_bytes_);
            if (t.announced_client_hello_ <= kMaxClientHelloBody) t.announced_client_hello_ = 0;
        }
    }
    if (!t.handshake_done_ && t.bound_handshake_input_ &&
        ((t.handshake_bytes_in_ += length) > kMaxHandshakeBytesIn || t.announced_client_hello_ != 0)) {
        t.transport_read_status_ = kHandshakeTooLarge;
        gnutls_transport_set_errno(session, EMSGSIZE);
        return -1;
    }
    // RFC 8446 section 5: once the TLS 1.3 handshake is done, every record is
    // protected and its outer content type is application_data (23); any
    // other type is unexpected_message. GnuTLS 3.7 would try to decrypt it
    // and answer bad_record_mac.
    t.records_in_.feed(static_cast<const unsigned char*>(data), length, [&](unsigned type, std::size_t) {
        if (t.tls13_ && type != 23 && t.unexpected_record_type_ < 0) t.unexpected_record_type_ = static_cast<int>(type);
    });
    if (t.unexpected_record_type_ >= 0) {
        t.transport_read_status_ = APR_EGENERAL;
        gnutls_transport_set_errno(session, EPROTO);
        return -1;
    }
    return static_cast<ssize_t>(length);
}

ssize_t Transport::push(gnutls_transport_ptr_t ptr, const void* data, size_t size) {
    auto& t = *static_cast<TlsConnection*>(ptr);
    if (t.transport_write_status_ != APR_SUCCESS) {
        gnutls_transport_set_errno(t.session(), EPIPE);
        return -1;
    }
    append_copy(t.ciphertext_out_, static_cast<const char*>(data), size);
    t.ciphertext_out_bytes_ += size;
    return static_cast<ssize_t>(size);
}

apr_status_t TlsConnection::pass_ciphertext(bool flush) {
    if (flush) APR_BRIGADE_INSERT_TAIL(ciphertext_out_, apr_bucket_flush_create(c_->bucket_alloc));
    if (APR_BRIGADE_EMPTY(ciphertext_out_)) return transport_write_status_;
    apr_status_t rv = ap_pass_brigade(output_filter_->next, ciphertext_out_);
    apr_brigade_cleanup(ciphertext_out_);
    ciphertext_out_bytes_ = 0;
    if (rv != APR_SUCCESS) {
        transport_write_status_ = rv;
        c_->aborted = 1;
    }
    return rv;
}

void TlsConnection::make_room_for_record() {
    if (plain_begin_ == plain_end_) {
        plain_begin_ = plain_end_ = 0;
    } else if (plain_.size() - plain_end_ < kMaxRecordPlaintext) {
        std::memmove(plain_.data(), plain_.data() + plain_begin_, plain_end_ - plain_begin_);
        plain_end_ -= plain_begin_;
        plain_begin_ = 0;
    }
    if (plain_.size() - plain_end_ < kMaxRecordPlaintext) {
        plain_.resize(std::max(plain_end_ + kMaxRecordPlaintext, kPlaintextBufferSize));
    }
}

apr_status_t TlsConnection::fill_plaintext(apr_read_type_e block) {
    if (plain_eof_) return APR_EOF;
    make_room_for_record();
    transport_block_ = block;
    for (;;) {
        transport_read_status_ = APR_SUCCESS;
        ssize_t n = gnutls_record_recv(session_.get(), plain_.data() + plain_end_, plain_.size() - plain_end_);
        const bool refused_hello_dropped = std::exchange(refused_hello_buffered_, false);
        if (n > 0) {
            plain_end_ += static_cast<apr_size_t>(n);
            return APR_SUCCESS;
        }
        if (n == 0) {  // close_notify
            plain_eof_ = true;
            return APR_EOF;
        }
        int rc = static_cast<int>(n);
        if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
            if (APR_STATUS_IS_EAGAIN(transport_read_status_)) {
                if (plain_begin_ == plain_end_) plain_.release();  // the connection idles
                return APR_EAGAIN;
            }
            // A post-handshake message was processed. RFC 8446 section 4.6.3:
            // a KeyUpdate with update_requested is answered with one of our
            // own, which GnuTLS only sends with the next record; a client
            // that waits for it before sending the rest of a request would
            // wait for Timeout. An empty send sends it now (and is refused,
            // harmlessly, when nothing is pending).
            if (tls13_) {
                gnutls_record_send(session_.get(), nullptr, 0);
                if (!APR_BRIGADE_EMPTY(ciphertext_out_)) {
                    if (apr_status_t rv = pass_ciphertext(true); rv != APR_SUCCESS) {
                        abort_connection();
                        return rv;
                    }
                }
            }
            continue;
        }
        if (rc == GNUTLS_E_REHANDSHAKE) {
            // Client-initiated renegotiation is refused (RFC 5746 allows a warning).
            // The alert goes out now: the client waits for the server's answer
            // to its ClientHello and sends nothing the next read could wait for.
            ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c_, "GTLS0208: refusing client-initiated renegotiation");
            gnutls_alert_send(session_.get(), GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
            if (apr_status_t rv = pass_ciphertext(true); rv != APR_SUCCESS) {
                abort_connection();
                return rv;
            }
            refused_hello_buffered_ = true;
            continue;
        }
        if (rc == GNUTLS_E_UNEXPECTED_PACKET && refused_hello_dropped) {
            // GnuTLS kept the refused ClientHello and drops it on the next read
            // with this error, the session intact: the connection carries on
            // (RFC 5246 section 7.2.2 leaves that to the client).
            continue;
        }
        if (!gnutls_error_is_fatal(rc)) continue;
        if (unexpected_record_type_ >= 0) {
            ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c_,
                          "GTLS0209: %s: TLS error reading from %s: unprotected record of type %d after the TLS 1.3 handshake",
                          log_name(), peer_name(), unexpected_record_type_);
            transport_read_status_ = APR_SUCCESS;
            send_fatal_alert(GNUTLS_E_UNEXPECTED_PACKET);
            abort_connection();
            return APR_ECONNABORTED;
        }
        if (transport_read_status_ != APR_SUCCESS || rc == GNUTLS_E_PREMATURE_TERMINATION) {
            plain_eof_ = true;
            if (transport_read_status_ == APR_SUCCESS || APR_STATUS_IS_EOF(transport_read_status_)) return APR_EOF;
            return transport_read_status_;
        }
        if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED) {
            ap_log_cerror(APLOG_MARK, failure_log_level(), 0, c_, "GTLS0209: %s: TLS error reading from %s: it sent alert '%s'",
                          log_name(), peer_name(), gnutls_alert_get_name(gnutls_alert_get(session_.get())));
        } else {
            ap_log_cerror(APLOG_MARK, failure_log_level(), 0, c_, "GTLS0209: %s: TLS error reading from %s: %s",
                          log_name(), peer_name(), gnutls_strerror(rc));
        }
        // RFC 8446 section 6.2 (RFC 5246 section 7.2.2): a fatal error is
        // announced with its alert (record_overflow, bad_record_mac,
        // unexpected_message, illegal_parameter, ...) before the close.
        send_fatal_alert(rc);
        abort_connection();
        return APR_ECONNABORTED;
    }
}

apr_status_t TlsConnection::read(apr_bucket_brigade* bb, ap_input_mode_t mode, apr_read_type_e block,
                                 apr_off_t readbytes) {
    if (failed_) return APR_ECONNABORTED;
    if (apr_status_t rv = handshake(block); rv != APR_SUCCESS) return rv;
    if (mode == AP_MODE_INIT) return APR_SUCCESS;

    if (mode == AP_MODE_EATCRLF) {
        for (;;) {
            while (plain_begin_ < plain_end_ && (plain_[plain_begin_] == '\r' || plain_[plain_begin_] == '\n')) {
                ++plain_begin_;
            }
            if (plain_begin_ < plain_end_) return APR_SUCCESS;
            apr_status_t rv = fill_plaintext(APR_NONBLOCK_READ);
            if (rv != APR_SUCCESS) return APR_STATUS_IS_EAGAIN(rv) ? APR_SUCCESS : rv;
        }
    }

    if (plain_begin_ == plain_end_) {
        if (apr_status_t rv = fill_plaintext(block); rv != APR_SUCCESS) return rv;
    }

    if (mode == AP_MODE_EXHAUSTIVE) {
        // Everything until the client closes.
        apr_status_t rv;
        while ((rv = fill_plaintext(APR_BLOCK_READ)) == APR_SUCCESS) {
            append_copy(bb, plain_.data() + plain_begin_, plain_end_ - plain_begin_);
            plain_begin_ = plain_end_;
        }
        append_copy(bb, plain_.data() + plain_begin_, plain_end_ - plain_begin_);
        plain_begin_ = plain_end_;
        return APR_STATUS_IS_EOF(rv) ? APR_SUCCESS : rv;
    }

    apr_size_t available = plain_end_ - plain_begin_;
    apr_size_t length = readbytes > 0 ? std::min<apr_size_t>(available, static_cast<apr_size_t>(readbytes)) : available;
    if (mode == AP_MODE_GETLINE) {
        // Up to and including the first LF; a partial line is fine, the caller loops.
        const char* begin = plain_.data() + plain_begin_;
        if (const void* lf = std::memchr(begin, '\n', available)) {
            length = static_cast<apr_size_t>(static_cast<const char*>(lf) - begin) + 1;
        } else {
            length = available;
        }
    }
    append_copy(bb, plain_.data() + plain_begin_, length);
    if (mode != AP_MODE_SPECULATIVE) plain_begin_ += length;
    return APR_SUCCESS;
}

apr_status_t TlsConnection::send_plaintext(const char* data, apr_size_t length) {
    unsigned retries = 0;
    while (length > 0) {
        ssize_t n = gnutls_record_send(session_.get(), data, std::min(length, kMaxRecordPlaintext));
        if (n > 0) {
            retries = 0;
            data += n;
            length -= static_cast<apr_size_t>(n);
            if (ciphertext_out_bytes_ >= kPassThreshold) {
                if (apr_status_t rv = pass_ciphertext(false); rv != APR_SUCCESS) return rv;
            }
            continue;
        }
        // Push never blocks, so GnuTLS asks again only after a pending
        // post-handshake message (a KeyUpdate answer); a few tries always do.
        if ((n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) && ++retries <= kMaxSendRetries) continue;
        if (transport_write_status_ != APR_SUCCESS) return transport_write_status_;
        // After the client's close_notify GnuTLS refuses to send; nothing went wrong.
        ap_log_cerror(APLOG_MARK, plain_eof_ ? APLOG_DEBUG : failure_log_level(), 0, c_,
                      "GTLS0210: %s: TLS error writing to %s: %s",
                      log_name(), peer_name(), gnutls_strerror(static_cast<int>(n)));
        abort_connection();
        return APR_ECONNABORTED;
    }
    return APR_SUCCESS;
}

apr_status_t TlsConnection::close_notify() {
    if (closed_ || !handshake_done_ || failed_) return APR_SUCCESS;
    closed_ = true;
    int rc = gnutls_bye(session_.get(), GNUTLS_SHUT_WR);
    ap_log_cerror(APLOG_MARK, APLOG_TRACE2, 0, c_, "GTLS0212: close_notify sent: %s", gnutls_strerror(rc));
    return APR_SUCCESS;
}

void TlsConnection::release_session() {
    session_.reset();
    plain_.release();
    plain_begin_ = plain_end_ = 0;
    plain_eof_ = true;
}

apr_status_t TlsConnection::write(apr_bucket_brigade* bb) {
    if (!session_) {  // released at the end of the connection
        apr_brigade_cleanup(bb);
        return APR_ECONNABORTED;
    }
    if (failed_ || transport_write_status_ != APR_SUCCESS) {
        apr_brigade_cleanup(bb);
        return failed_ ? APR_ECONNABORTED : transport_write_status_;
    }
    if (!handshake_done_) {
        if (apr_status_t rv = handshake(APR_BLOCK_READ); rv != APR_SUCCESS) {
            apr_brigade_cleanup(bb);
            return write_after_failed_handshake(rv);
        }
    }
    // Coalesce small data buckets so headers and a small body share one record.
    // httpd passes an HTTP/1 response head in a brigade of its own, so a head
    // that arrives without any metadata is held for the next call, which brings
    // its body and ends with metadata (FLUSH, EOS, EOR, EOC). Nothing else is
    // held: data in a tunnel (a WebSocket behind mod_proxy, after its 101) comes
    // without metadata and must not wait for more.
    char coalesced[kCoalesceLimit];
    apr_size_t coalesced_length = held_plaintext_.size();
    std::memcpy(coalesced, held_plaintext_.data(), coalesced_length);
    std::string().swap(held_plaintext_);
    auto send_coalesced = [&]() -> apr_status_t {
        apr_status_t rv = send_plaintext(coalesced, coalesced_length);
        coalesced_length = 0;
        return rv;
    };

    apr_status_t rv = APR_SUCCESS;
    bool saw_metadata = false;
    while (!APR_BRIGADE_EMPTY(bb)) {
        apr_bucket* b = APR_BRIGADE_FIRST(bb);
        if (APR_BUCKET_IS_METADATA(b)) {
            saw_metadata = true;
            if ((rv = send_coalesced()) != APR_SUCCESS) break;
            const bool end_of_connection = AP_BUCKET_IS_EOC(b);
            if (end_of_connection) {
                // httpd flushed before the EOC and shuts the socket down right
                // after it: the close_notify needs a flush of its own.
                close_notify();
                if ((rv = pass_ciphertext(true)) != APR_SUCCESS) break;
            }
            APR_BUCKET_REMOVE(b);
            APR_BRIGADE_INSERT_TAIL(ciphertext_out_, b);
            if (end_of_connection || APR_BUCKET_IS_FLUSH(b)) {
                if ((rv = pass_ciphertext(false)) != APR_SUCCESS) break;
            }
            if (end_of_connection) {
                release_session();
                apr_brigade_cleanup(bb);  // nothing follows an EOC
                return APR_SUCCESS;
            }
            continue;
        }
        const char* data = nullptr;
        apr_size_t length = 0;
        if ((rv = apr_bucket_read(b, &data, &length, APR_BLOCK_READ)) != APR_SUCCESS) break;
        if (coalesced_length + length <= kCoalesceLimit) {
            std::memcpy(coalesced + coalesced_length, data, length);
            coalesced_length += length;
        } else {
            if ((rv = send_coalesced()) != APR_SUCCESS) break;
            if ((rv = send_plaintext(data, length)) != APR_SUCCESS) break;
        }
        apr_bucket_delete(b);
    }
    if (rv == APR_SUCCESS && !saw_metadata && is_final_response_head(coalesced, coalesced_length)) {
        held_plaintext_.assign(coalesced, coalesced_length);
        coalesced_length = 0;
    }
    if (rv == APR_SUCCESS) rv = send_coalesced();
    if (rv != APR_SUCCESS) {
        apr_brigade_cleanup(bb);
        return rv;
    }
    return pass_ciphertext(false);
}

}  // namespace gtls
