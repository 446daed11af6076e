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

struct FileDescriptor {
    int fd;
    ~FileDescriptor() { if (fd >= 0) ::close(fd); }
};

}  // namespace

std::vector<unsigned char> read_file_bytes(const std::string& path, std::size_t max_size) {
    FileDescriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (file.fd < 0) fail(path, std::strerror(errno));
    struct stat info {};
    if (::fstat(file.fd, &info) != 0) fail(path, std::strerror(errno));
    if (!S_ISREG(info.st_mode)) fail(path, "not a regular file");
    if (static_cast<std::size_t>(info.st_size) > max_size) {
        fail(path, "larger than " + std::to_string(max_size) + " bytes");
    }
    // Read up to one byte past the cap, so a file that grows after fstat is still caught.
    std::vector<unsigned char> bytes(max_size + 1);
    std::size_t total = 0;
    while (total < bytes.size()) {
        ssize_t n = ::read(file.fd, bytes.data() + total, bytes.size() - total);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail(path, std::strerror(errno));
        }
        if (n == 0) break;
        total += static_cast<std::size_t>(n);
    }
    if (total > max_size) fail(path, "larger than " + std::to_string(max_size) + " bytes");
    bytes.resize(total);
    return bytes;
}

}  // namespace gtls
