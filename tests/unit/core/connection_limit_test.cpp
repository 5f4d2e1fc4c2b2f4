#include "core/connection_limit.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace atls {
namespace {

TEST(ConnectionLimit, RefusesBeyondTheLimitAndCountsRefusals) {
  int refused = 0;
  ConnectionLimit limit(2, [&refused] { ++refused; });
  auto first = limit.try_acquire();
  auto second = limit.try_acquire();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(limit.open(), 2u);
  EXPECT_FALSE(limit.try_acquire());
  EXPECT_FALSE(limit.try_acquire());
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(limit.open(), 2u);  // a refusal does not leak a place
  first.reset();
  EXPECT_EQ(limit.open(), 1u);
  EXPECT_TRUE(limit.try_acquire());  // the temporary slot is released at once
  EXPECT_EQ(limit.open(), 1u);
}

TEST(ConnectionLimit, MovedSlotsReleaseOnce) {
  ConnectionLimit limit(1);
  auto slot = limit.try_acquire();
  ASSERT_TRUE(slot);
  ConnectionLimit::Slot moved = std::move(*slot);
  slot.reset();
  EXPECT_EQ(limit.open(), 1u);
  { ConnectionLimit::Slot again = std::move(moved); }
  EXPECT_EQ(limit.open(), 0u);
}

TEST(ConnectionLimit, SlotsMayOutliveTheLimit) {
  // At shutdown the io_context destroys pending connection coroutines after their listener.
  std::optional<ConnectionLimit::Slot> orphan;
  {
    ConnectionLimit limit(1);
    orphan = limit.try_acquire();
    ASSERT_TRUE(orphan);
  }
  orphan.reset();  // must not touch the destroyed limit (ASan checks this)
}

TEST(ConnectionLimit, ZeroRefusesEverything) {
  ConnectionLimit limit(0);
  EXPECT_FALSE(limit.try_acquire());
  EXPECT_EQ(limit.open(), 0u);
}

TEST(ConnectionLimit, ConcurrentAcquireNeverExceedsTheLimit) {
  ConnectionLimit limit(8);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::vector<std::vector<ConnectionLimit::Slot>> held(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        if (auto slot = limit.try_acquire()) {
          ++granted;
          held[static_cast<std::size_t>(t)].push_back(std::move(*slot));
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(granted.load(), 8);
  EXPECT_EQ(limit.open(), 8u);
  held.clear();
  EXPECT_EQ(limit.open(), 0u);
}

}  // namespace
}  // namespace atls
