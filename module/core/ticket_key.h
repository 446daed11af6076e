// Session ticket keys shared by several servers (GnuTLSSessionTicketKeyFile):
// every server with the same file derives the same key for a virtual host, so
// a ticket one of them issued resumes on the others.
#pragma once

#include "core/owned.h"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gtls {

// GnuTLS's ticket master key size (gnutls_session_ticket_key_generate).
inline constexpr std::size_t kTicketKeySize = 64;

// The master key a key file holds: exactly 64 raw bytes (`head -c 64
// /dev/urandom`), or those 64 bytes in base64 on one line. Throws
// std::runtime_error with the reason otherwise.
std::vector<unsigned char> parse_ticket_key(std::span<const unsigned char> contents);

// Reads and parses `path`, refusing a file every user may read (the key lets
// anyone who has it decrypt recorded sessions resumed with its tickets). Throws
// std::runtime_error "PATH: reason".
std::vector<unsigned char> load_ticket_key_file(const std::string& path);

// The ticket key of the virtual host `vhost_id` ("ServerName:port"):
// SHA-512 over the master key and the id, so virtual hosts sharing a file still
// never accept each other's tickets, while the same virtual host on every
// server sharing the file gets the same key.
OwnedDatum derive_vhost_ticket_key(std::span<const unsigned char> master, std::string_view vhost_id);

}  // namespace gtls
