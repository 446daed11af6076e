// Asking an OCSP responder over HTTP (libcurl), with time limits.
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <vector>

namespace gtls {

struct HttpAnswer {
    long status = 0;
    std::string content_type;
    std::vector<unsigned char> body;
};

// Sends `request` (DER) to the responder at `url`: as an RFC 5019 GET when it is
// small enough, else as a POST of application/ocsp-request; a GET answered with
// an HTTP error is asked again as a POST. Gives up after
// `timeout` (connect and transfer together) or when the body grows past
// `max_body` bytes. Throws std::runtime_error naming the URL and what failed
// (no answer at all); an HTTP error status is an answer, not an exception.
HttpAnswer ask_responder(const std::string& url, std::span<const unsigned char> request,
                         std::chrono::milliseconds timeout, std::size_t max_body);

}  // namespace gtls
