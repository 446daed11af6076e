// SnapshotSlot: readers always get a whole, still-alive value while a writer
// keeps replacing it, and the previous value dies once its last reader lets go.
#include "core/staple_snapshot.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace gtls {
namespace {

// Every element equals `generation`; a torn or freed value would break that.
struct Versioned {
    explicit Versioned(int generation) : generation(generation), payload(64, generation) {}
    ~Versioned() { generation = -1; }
    int generation;
    std::vector<int> payload;
};

TEST(SnapshotSlot, EmptyUntilStoredThenSharesTheValue) {
    SnapshotSlot<Versioned> slot;
    EXPECT_EQ(slot.load(), nullptr);
    auto first = std::make_shared<const Versioned>(1);
    slot.store(first);
    EXPECT_EQ(slot.load().get(), first.get());
    std::weak_ptr<const Versioned> watch = first;
    auto held = slot.load();
    first.reset();
    slot.store(std::make_shared<const Versioned>(2));
    EXPECT_FALSE(watch.expired()) << "a reader still holds the old value";
    EXPECT_EQ(held->generation, 1);
    held.reset();
    EXPECT_TRUE(watch.expired()) << "released by its last holder";
    EXPECT_EQ(slot.load()->generation, 2);
}

TEST(SnapshotSlot, ReadersSeeWholeValuesInOrderWhileAWriterReplacesThem) {
    SnapshotSlot<Versioned> slot;
    slot.store(std::make_shared<const Versioned>(0));
    std::atomic<bool> stop{false};
    std::atomic<int> broken{0}, backwards{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < 3; ++r) {
        readers.emplace_back([&] {
            int last = 0;
            while (!stop.load()) {
                auto value = slot.load();
                const int generation = value->generation;
                for (int element : value->payload) broken += element != generation;
                backwards += generation < last;
                last = generation;
            }
        });
    }
    for (int generation = 1; generation <= 20000; ++generation) {
        slot.store(std::make_shared<const Versioned>(generation));
    }
    stop = true;
    for (auto& reader : readers) reader.join();
    EXPECT_EQ(broken.load(), 0);
    EXPECT_EQ(backwards.load(), 0);
    EXPECT_EQ(slot.load()->generation, 20000);
}

}  // namespace
}  // namespace gtls
