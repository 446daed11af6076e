#include "fetch/http_client.h"

#include "fetch/ocsp_request.h"

#include <curl/curl.h>

#include <memory>
#include <stdexcept>

namespace gtls {

namespace {

struct CurlDeleter {
    void operator()(CURL* curl) const noexcept { curl_easy_cleanup(curl); }
};
struct HeadersDeleter {
    void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};

struct Body {
    std::vector<unsigned char>* bytes;
    std::size_t max;
    bool too_large = false;
};

size_t collect(char* data, size_t size, size_t count, void* baton) {
    auto& body = *static_cast<Body*>(baton);
    const size_t length = size * count;
    if (body.bytes->size() + length > body.max) {
        body.too_large = true;
        return 0;  // makes curl stop with CURLE_WRITE_ERROR
    }
    body.bytes->insert(body.bytes->end(), data, data + length);
    return length;
}

}  // namespace

namespace {

// One HTTP exchange: GET of `get_url` when it is not empty, else POST of `request`.
HttpAnswer perform(const std::string& url, const std::string& get_url, std::span<const unsigned char> request,
                   std::chrono::milliseconds timeout, std::size_t max_body) {
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) throw std::runtime_error("libcurl could not make a handle");
    HttpAnswer answer;
    Body body{&answer.body, max_body};
    std::unique_ptr<curl_slist, HeadersDeleter> headers;
    CURL* handle = curl.get();
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle, CURLOPT_USERAGENT, "mod_gtls/" GTLS_VERSION);
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &body);
    if (!get_url.empty()) {
        curl_easy_setopt(handle, CURLOPT_URL, get_url.c_str());
    } else {
        curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
        headers.reset(curl_slist_append(nullptr, "Content-Type: application/ocsp-request"));
        curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
        curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.data());
        curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.size()));
    }
    CURLcode rc = curl_easy_perform(handle);
    if (body.too_large) {
        throw std::runtime_error(url + ": the answer is larger than " + std::to_string(max_body) + " bytes");
    }
    if (rc != CURLE_OK) throw std::runtime_error(url + ": " + curl_easy_strerror(rc));
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &answer.status);
    char* type = nullptr;
    if (curl_easy_getinfo(handle, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type != nullptr) {
        answer.content_type = type;
    }
    return answer;
}

}  // namespace

HttpAnswer ask_responder(const std::string& url, std::span<const unsigned char> request,
                         std::chrono::milliseconds timeout, std::size_t max_body) {
    static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    if (!initialised) throw std::runtime_error("libcurl could not be initialised");
    const std::string get = get_url(url, request);
    if (get.empty()) return perform(url, get, request, timeout, max_body);
    const auto started = std::chrono::steady_clock::now();
    HttpAnswer answer = perform(url, get, request, timeout, max_body);
    if (answer.status >= 200 && answer.status < 300) return answer;
    // Some responders take POST only (openssl ocsp behind a CGI, or an httpd
    // that refuses the %2F of base64 in a path): ask again the way every
    // responder must understand, within what is left of the time limit.
    const auto left = timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - started);
    if (left <= std::chrono::milliseconds(0)) return answer;
    return perform(url, "", request, left, max_body);
}

}  // namespace gtls
