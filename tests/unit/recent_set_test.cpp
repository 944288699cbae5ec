// store::recent_set: bounded by two generations, and what was used recently is kept.
#include "switchboard/store/recent_set.hpp"

#include <gtest/gtest.h>

namespace switchboard::store {
namespace {

TEST(RecentSet, HoldsAtMostTwoGenerations) {
    recent_set<int> s(100);
    for (int i = 0; i < 10'000; ++i) {
        s.insert(i);
        ASSERT_LE(s.size(), 200u) << "after " << i;
    }
    // The last `limit` insertions are all there; something from long ago is not.
    for (int i = 9'900; i < 10'000; ++i) EXPECT_TRUE(s.use(i)) << i;
    EXPECT_FALSE(s.use(0));
    EXPECT_FALSE(s.use(9'000));
}

TEST(RecentSet, AnEntryInUseIsKeptHoweverOldItIs) {
    recent_set<int> s(100);
    s.insert(-1);
    for (int i = 0; i < 10'000; ++i) {
        s.insert(i);
        if (i % 50 == 0) {
            ASSERT_TRUE(s.use(-1)) << "forgotten after " << i;
        }
    }
    // Not used for more than two generations: gone.
    for (int i = 10'000; i < 10'250; ++i) s.insert(i);
    EXPECT_FALSE(s.use(-1));
}

TEST(RecentSet, MergeMovesWhatIsNewAndCountsItAsUsed) {
    recent_set<int> s(4);
    s.insert(1);
    s.insert(2);
    recent_set<int>::set_type batch{2, 3};
    s.merge(batch);
    EXPECT_TRUE(s.use(1));
    EXPECT_TRUE(s.use(2));
    EXPECT_TRUE(s.use(3));
    EXPECT_EQ(s.size(), 3u);
    // Two more fill the newer generation past its limit: the older one is dropped.
    recent_set<int>::set_type more{10, 11};
    s.merge(more);
    EXPECT_TRUE(s.use(10));
    EXPECT_TRUE(s.use(11));
    EXPECT_LE(s.size(), 8u);
    s.clear();
    EXPECT_EQ(s.size(), 0u);
    EXPECT_FALSE(s.use(10));
}

}  // namespace
}  // namespace switchboard::store
