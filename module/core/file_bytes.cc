#include "core/file_bytes.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace gtls {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& reason) {
    throw std::runtime_error("cannot read " + path + ": " + reason);
}

}  // namespace

FileDescriptor::~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
}

int read_capped(int fd, std::size_t max_size, std::vector<unsigned char>& out) {
    out.resize(max_size + 1);
    std::size_t total = 0;
    while (total < out.size()) {
        ssize_t n = ::read(fd, out.data() + total, out.size() - total);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) break;
        total += static_cast<std::size_t>(n);
    }
    out.resize(total);
    return 0;
}

std::vector<unsigned char> read_file_bytes(const std::string& path, std::size_t max_size) {
    FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (file.get() < 0) fail(path, std::strerror(errno));
    struct stat info {};
    if (::fstat(file.get(), &info) != 0) fail(path, std::strerror(errno));
    if (!S_ISREG(info.st_mode)) fail(path, "not a regular file");
    if (static_cast<std::size_t>(info.st_size) > max_size) {
        fail(path, "larger than " + std::to_string(max_size) + " bytes");
    }
    std::vector<unsigned char> bytes;
    if (int error = read_capped(file.get(), max_size, bytes); error != 0) fail(path, std::strerror(error));
    if (bytes.size() > max_size) fail(path, "larger than " + std::to_string(max_size) + " bytes");
    return bytes;
}

}  // namespace gtls
