#include "fetch/atomic_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace gtls {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& step) {
    throw std::runtime_error("cannot " + step + " " + path + ": " + std::strerror(errno));
}

std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

class TemporaryFile {
public:
    explicit TemporaryFile(const std::string& target) : path_(target + ".XXXXXX") {
        fd_ = ::mkstemp(path_.data());
        if (fd_ < 0) fail(path_, "create");
    }
    ~TemporaryFile() {
        if (fd_ >= 0) ::close(fd_);
        if (!renamed_) ::unlink(path_.c_str());
    }
    TemporaryFile(const TemporaryFile&) = delete;
    TemporaryFile& operator=(const TemporaryFile&) = delete;

    int fd() const { return fd_; }
    const std::string& path() const { return path_; }
    void close() {
        if (::close(fd_) != 0) {
            fd_ = -1;
            fail(path_, "close");
        }
        fd_ = -1;
    }
    void renamed() { renamed_ = true; }

private:
    std::string path_;
    int fd_ = -1;
    bool renamed_ = false;
};

}  // namespace

void replace_file_atomically(const std::string& path, std::span<const unsigned char> bytes, mode_t mode) {
    TemporaryFile temporary(path);
    std::size_t written = 0;
    while (written < bytes.size()) {
        ssize_t n = ::write(temporary.fd(), bytes.data() + written, bytes.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail(temporary.path(), "write");
        written += static_cast<std::size_t>(n);
    }
    if (::fchmod(temporary.fd(), mode) != 0) fail(temporary.path(), "set the mode of");
    struct stat existing {};
    if (::stat(path.c_str(), &existing) == 0 && ::fchown(temporary.fd(), existing.st_uid, existing.st_gid) != 0 &&
        errno != EPERM) {
        fail(temporary.path(), "set the owner of");
    }
    if (::fsync(temporary.fd()) != 0) fail(temporary.path(), "fsync");
    temporary.close();
    if (::rename(temporary.path().c_str(), path.c_str()) != 0) fail(path, "rename a new version over");
    temporary.renamed();
    const std::string directory = directory_of(path);
    int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY);
    if (dir_fd >= 0) {
        ::fsync(dir_fd);  // the rename itself durable; best effort
        ::close(dir_fd);
    }
}

}  // namespace gtls
