// A slot holding a std::shared_ptr<const T> that many threads read and one
// thread at a time replaces: the current staple of a StapleSource.
//
// Why not std::atomic<std::shared_ptr<T>>: libstdc++ 12 implements it with a
// lock bit whose unlock in load() is memory_order_relaxed, so the reader's copy
// of the stored pointer is not ordered before the next writer's store (a data
// race in the C++ memory model, reported by ThreadSanitizer). This slot has the
// same behaviour with correct ordering: a spin lock held only while a pointer
// and a reference count are copied or swapped (never across I/O, allocation or
// the destruction of the previous value), so a reader never waits for work.
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <utility>

namespace gtls {

template <typename T>
class SnapshotSlot {
public:
    SnapshotSlot() = default;
    SnapshotSlot(const SnapshotSlot&) = delete;
    SnapshotSlot& operator=(const SnapshotSlot&) = delete;

    // A shared reference to the current value (nullptr if none). Any thread; no
    // allocation, no throw.
    std::shared_ptr<const T> load() const noexcept {
        lock();
        std::shared_ptr<const T> copy = value_;
        unlock();
        return copy;
    }

    // Publishes `next`; the previous value is released after the lock, by the
    // last of its holders. Any thread.
    void store(std::shared_ptr<const T> next) noexcept {
        lock();
        value_.swap(next);
        unlock();
    }

private:
    void lock() const noexcept {
        for (unsigned spins = 0; busy_.exchange(true, std::memory_order_acquire);) {
            while (busy_.load(std::memory_order_relaxed)) {
                if (++spins % 64 == 0) std::this_thread::yield();  // the holder was preempted
            }
        }
    }
    void unlock() const noexcept { busy_.store(false, std::memory_order_release); }

    mutable std::atomic<bool> busy_{false};
    std::shared_ptr<const T> value_;  // guarded by busy_
};

}  // namespace gtls
