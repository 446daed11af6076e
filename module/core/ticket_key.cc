#include "core/ticket_key.h"

#include "core/file_bytes.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace gtls {

std::vector<unsigned char> parse_ticket_key(std::span<const unsigned char> contents) {
    if (contents.size() == kTicketKeySize) return {contents.begin(), contents.end()};
    std::size_t length = contents.size();
    while (length > 0 && (contents[length - 1] == '\n' || contents[length - 1] == '\r')) --length;
    gnutls_datum_t text{const_cast<unsigned char*>(contents.data()), static_cast<unsigned>(length)};
    OwnedDatum decoded;
    if (length > 0 && gnutls_base64_decode2(&text, decoded.out()) == 0 && decoded.size() == kTicketKeySize) {
        return {decoded.data(), decoded.data() + decoded.size()};
    }
    throw std::runtime_error("holds " + std::to_string(contents.size()) + " bytes: a ticket key file must hold " +
                             std::to_string(kTicketKeySize) + " random bytes, raw or in base64 (make one with "
                             "`head -c 64 /dev/urandom > FILE`)");
}

std::vector<unsigned char> load_ticket_key_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw std::runtime_error(path + ": " + std::strerror(errno));
    if (st.st_mode & S_IROTH) {
        throw std::runtime_error(path + ": readable by every user; the ticket key must be secret (chmod 0600)");
    }
    std::vector<unsigned char> contents = read_file_bytes(path, 4096);
    try {
        std::vector<unsigned char> key = parse_ticket_key(contents);
        gnutls_memset(contents.data(), 0, contents.size());
        return key;
    } catch (const std::runtime_error& e) {
        gnutls_memset(contents.data(), 0, contents.size());
        throw std::runtime_error(path + ": " + e.what());
    }
}

OwnedDatum derive_vhost_ticket_key(std::span<const unsigned char> master, std::string_view vhost_id) {
    std::vector<unsigned char> input(master.begin(), master.end());
    input.push_back(0);
    input.insert(input.end(), vhost_id.begin(), vhost_id.end());
    OwnedDatum key;
    gnutls_datum_t* out = key.out();
    out->data = static_cast<unsigned char*>(gnutls_malloc(kTicketKeySize));
    if (out->data == nullptr) throw std::bad_alloc();
    out->size = kTicketKeySize;
    int rc = gnutls_hash_fast(GNUTLS_DIG_SHA512, input.data(), input.size(), out->data);
    gnutls_memset(input.data(), 0, input.size());
    if (rc < 0) throw std::runtime_error(std::string("cannot derive the ticket key: ") + gnutls_strerror(rc));
    return key;
}

}  // namespace gtls
