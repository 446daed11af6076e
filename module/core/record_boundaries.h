// Where TLS records begin in the byte stream a client sends, so the module can
// look at each record's header (RFC 8446 section 5.1, RFC 5246 section 6.2.1:
// content type, legacy version, 16-bit length) without parsing the records.
#pragma once

#include <cstddef>

namespace gtls {

// Follows record boundaries across reads of any size. Not thread-safe; one per
// connection, fed every byte handed to GnuTLS, in order.
class RecordBoundaries {
public:
    // Consumes `size` bytes (borrowed for the call) and calls
    // on_header(content_type, length) once for each record header completed
    // within them, in stream order.
    template <class OnHeader>
    void feed(const unsigned char* data, std::size_t size, OnHeader&& on_header) {
        while (size > 0) {
            if (body_left_ > 0) {
                const std::size_t take = size < body_left_ ? size : body_left_;
                body_left_ -= take;
                data += take;
                size -= take;
                continue;
            }
            header_[header_have_++] = *data++;
            --size;
            if (header_have_ == sizeof(header_)) {
                header_have_ = 0;
                body_left_ = (std::size_t{header_[3]} << 8) | header_[4];
                on_header(static_cast<unsigned>(header_[0]), body_left_);
            }
        }
    }

private:
    unsigned char header_[5] = {};
    std::size_t header_have_ = 0;
    std::size_t body_left_ = 0;
};

}  // namespace gtls
