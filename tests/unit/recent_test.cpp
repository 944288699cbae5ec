// store::recent: bounded by two generations, and what was used recently is kept.
#include "switchboard/store/recent.hpp"

#include <gtest/gtest.h>
#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace switchboard::store {
namespace {

using int_set = std::unordered_set<int>;

/// Lookups by string_view, as the writer's call numbers.
struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view v) const noexcept {
        return std::hash<std::string_view>{}(v);
    }
};

TEST(Recent, HoldsAtMostTwoGenerations) {
    recent<int_set> s(100);
    for (int i = 0; i < 10'000; ++i) {
        if (s.use(i) == nullptr) s.emplace(i);
        ASSERT_LE(s.size(), 200u) << "after " << i;
    }
    // The last `limit` additions are all there; something from long ago is not.
    for (int i = 9'900; i < 10'000; ++i) EXPECT_NE(s.use(i), nullptr) << i;
    EXPECT_EQ(s.use(0), nullptr);
    EXPECT_EQ(s.use(9'000), nullptr);
}

TEST(Recent, AnEntryInUseIsKeptHoweverOldItIs) {
    recent<int_set> s(100);
    s.emplace(-1);
    for (int i = 0; i < 10'000; ++i) {
        s.emplace(i);
        if (i % 50 == 0) {
            ASSERT_NE(s.use(-1), nullptr) << "forgotten after " << i;
        }
    }
    // Not used for more than two generations: gone.
    for (int i = 10'000; i < 10'250; ++i) s.emplace(i);
    EXPECT_EQ(s.use(-1), nullptr);
}

TEST(Recent, MergeMovesWhatIsNewAndCountsItAsUsed) {
    recent<int_set> s(4);
    s.emplace(1);
    s.emplace(2);
    int_set batch{2, 3};
    s.merge(batch);
    EXPECT_NE(s.use(1), nullptr);
    EXPECT_NE(s.use(2), nullptr);
    EXPECT_NE(s.use(3), nullptr);
    EXPECT_EQ(s.size(), 3u);
    // Two more fill the newer generation past its limit: the older one is dropped.
    int_set more{10, 11};
    s.merge(more);
    EXPECT_NE(s.use(10), nullptr);
    EXPECT_NE(s.use(11), nullptr);
    EXPECT_LE(s.size(), 8u);
}

// The writer keeps its parts and call numbers in open-addressing tables (no node handles): an
// entry found in the older generation is copied to the newer one, with the same guarantees.
TEST(Recent, AFlatSetKeepsWhatIsInUseAndForgetsTheRest) {
    recent<boost::unordered_flat_set<int>> s(100);
    s.emplace(-1);
    for (int i = 0; i < 10'000; ++i) {
        if (s.use(i) == nullptr) s.emplace(i);
        ASSERT_LE(s.size(), 200u) << "after " << i;
        if (i % 50 == 0) {
            ASSERT_NE(s.use(-1), nullptr) << "forgotten after " << i;
        }
    }
    for (int i = 9'900; i < 10'000; ++i) EXPECT_NE(s.use(i), nullptr) << i;
    EXPECT_EQ(s.use(0), nullptr);
    EXPECT_EQ(s.use(9'000), nullptr);
    for (int i = 10'000; i < 10'250; ++i) s.emplace(i);
    EXPECT_EQ(s.use(-1), nullptr);

    boost::unordered_flat_set<int> batch{10'249, 20'000};
    s.merge(batch);
    EXPECT_NE(s.use(20'000), nullptr);
    EXPECT_EQ(batch.size(), 1u) << "what was held already stays in the batch";
}

// Node-based (the writer's bases) and flat (its call numbers): the value moves with its entry.
template <class Map>
class RecentMap : public ::testing::Test {};
using map_kinds =
    ::testing::Types<std::unordered_map<std::string, int, string_hash, std::equal_to<>>,
                     boost::unordered_flat_map<std::string, int, string_hash, std::equal_to<>>>;
TYPED_TEST_SUITE(RecentMap, map_kinds);

TYPED_TEST(RecentMap, KeepsTheValueOfAnEntryMovedToTheNewerGeneration) {
    recent<TypeParam> m(2);
    m.emplace("a", 1);
    m.emplace("b", 2);
    m.emplace("c", 3);  // "a" and "b" are now the older generation
    const auto* a = m.use(std::string_view("a"));
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->second, 1);
    EXPECT_EQ(m.size(), 3u) << "moved, not duplicated";
    m.emplace("d", 4);
    m.emplace("e", 5);  // "b", not used since, went with the generation dropped by "d"
    EXPECT_EQ(m.use(std::string_view("b")), nullptr);
    ASSERT_NE(m.use(std::string_view("a")), nullptr);
    EXPECT_EQ(m.use(std::string_view("a"))->second, 1);
}

}  // namespace
}  // namespace switchboard::store
