// Reading whole small files (certificates, keys, OCSP responses) with errors an
// admin can act on. The one place that reads files: read_file_bytes() for
// files read once, FileDescriptor + read_capped() for the staple source, which
// checks the file's state itself.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace gtls {

// Owns an open file descriptor (-1: none) and closes it.
class FileDescriptor {
public:
    explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    ~FileDescriptor();
    int get() const noexcept { return fd_; }

private:
    int fd_;
};

// Reads `fd` to its end, but at most max_size + 1 bytes, so a file that grew
// past the cap after it was checked is recognised (out.size() > max_size)
// without reading all of it. Replaces `out`. Returns 0 or an errno value.
// Throws only std::bad_alloc.
int read_capped(int fd, std::size_t max_size, std::vector<unsigned char>& out);

// Reads all of `path`. Throws std::runtime_error "cannot read PATH: REASON" when
// the file is missing, unreadable, not a regular file or larger than max_size.
std::vector<unsigned char> read_file_bytes(const std::string& path, std::size_t max_size);

}  // namespace gtls
