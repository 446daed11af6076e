// Reading whole small files (certificates, keys) with errors an admin can act on.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace gtls {

// Reads all of `path`. Throws std::runtime_error "cannot read PATH: REASON" when
// the file is missing, unreadable, not a regular file or larger than max_size.
std::vector<unsigned char> read_file_bytes(const std::string& path, std::size_t max_size);

}  // namespace gtls
