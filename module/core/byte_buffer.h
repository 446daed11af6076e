// A growable byte buffer that does not zero what it allocates and can give its
// memory back, for per-connection buffers that idle connections should not hold.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>

namespace gtls {

class ByteBuffer {
public:
    char* data() noexcept { return bytes_.get(); }
    const char* data() const noexcept { return bytes_.get(); }
    std::size_t size() const noexcept { return size_; }
    char& operator[](std::size_t i) noexcept { return bytes_[i]; }

    // Makes the buffer `size` bytes long, keeping its first min(old, new) bytes;
    // bytes beyond the old size are uninitialized. Throws std::bad_alloc.
    void resize(std::size_t size) {
        if (size == size_) return;
        auto bytes = std::make_unique_for_overwrite<char[]>(size);
        if (size_ > 0) std::memcpy(bytes.get(), bytes_.get(), std::min(size, size_));
        bytes_ = std::move(bytes);
        size_ = size;
    }

    // Frees the memory; size() becomes 0.
    void release() noexcept {
        bytes_.reset();
        size_ = 0;
    }

private:
    std::unique_ptr<char[]> bytes_;
    std::size_t size_ = 0;
};

}  // namespace gtls
