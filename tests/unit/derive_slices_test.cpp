// store::derive_slices: when a writer applies the derived call state, and which calls it takes.
#include "switchboard/store/derive_slices.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace switchboard::store::derive_slices {
namespace {

using namespace std::chrono_literals;

const clock::time_point t0 = clock::time_point{} + 1h;

TEST(DeriveSlices, TicksAnEighthOfTheDelayAtMost25MsAtLeastAMillisecond) {
    EXPECT_EQ(tick(200ms), 25ms);
    EXPECT_EQ(tick(80ms), 10ms);
    EXPECT_EQ(tick(1'000ms), 25ms);
    EXPECT_EQ(tick(60'000ms), 25ms);
    EXPECT_EQ(tick(4ms), 1ms);
    EXPECT_EQ(tick(1ms), 1ms);
}

TEST(DeriveSlices, ALongerDelayMakesSlicesFewerCallsNotLonger) {
    // 200 calls in progress, each pending since a time spread evenly over the last delay (each
    // applied once per delay): a slice takes those of one tick, 25 ms' worth whatever the delay.
    const auto slice_at = [](std::chrono::milliseconds delay) {
        std::vector<clock::time_point> since;
        for (int i = 0; i < 200; ++i) since.push_back(t0 - delay * i / 200);
        std::vector<std::size_t> out;
        choose(since, t0, delay, out);
        return out.size();
    };
    EXPECT_EQ(slice_at(200ms), 25u);   // waited 175 ms or more: 200 × 25 / 200
    EXPECT_EQ(slice_at(1'000ms), 5u);  // waited 975 ms or more: 200 × 25 / 1000
    EXPECT_EQ(slice_at(5'000ms), 1u);  // waited 4,975 ms or more: only the oldest
}

TEST(DeriveSlices, TheNextSliceWaitsForATickAndForTheOldestCallsTurn) {
    // The oldest call's turn comes a tick before the delay has passed: a slice begun then
    // applies it before the delay is over.
    EXPECT_EQ(next(t0, t0, 200ms), t0 + 175ms);
    // Its turn came long ago: a tick after the last slice.
    EXPECT_EQ(next(t0, t0 - 1s, 200ms), t0 + 25ms);
    // A delay of a millisecond: every millisecond.
    EXPECT_EQ(next(t0, t0, 1ms), t0 + 1ms);
}

TEST(DeriveSlices, TakesTheCallsWhoseTurnHasComeLongestWaitingFirst) {
    // Pending since t0 + 0, 30, 60, …, 270 ms, listed out of order.
    std::vector<clock::time_point> since;
    for (int i : {5, 0, 9, 3, 7, 1, 8, 2, 6, 4}) since.push_back(t0 + i * 30ms);
    std::vector<std::size_t> out{99};
    // At t0 + 250 ms, a call is due once it has waited 175 ms: those since 0, 30, 60.
    choose(since, t0 + 250ms, 200ms, out);
    EXPECT_EQ(out, (std::vector<std::size_t>{1, 5, 7}));
    // Nothing has waited that long yet.
    choose(since, t0 + 100ms, 200ms, out);
    EXPECT_TRUE(out.empty());
    // All have.
    choose(since, t0 + 1s, 200ms, out);
    EXPECT_EQ(out, (std::vector<std::size_t>{1, 5, 7, 3, 9, 0, 8, 4, 6, 2}));
}

TEST(DeriveSlices, ASliceTakesAtMostAQuarterOfThePendingCalls) {
    EXPECT_EQ(cap(200), 50u);
    EXPECT_EQ(cap(201), 51u);
    EXPECT_EQ(cap(3), k_min_slice);
    // 200 calls that all became pending within the same 2 ms (a burst of new calls): each slice
    // takes the 50 that have waited longest, the next slice the next 50.
    std::vector<clock::time_point> since(200);
    for (std::size_t i = 0; i < since.size(); ++i) since[i] = t0 + (i % 2) * 1ms + i * 1us;
    std::vector<std::size_t> out;
    choose(since, t0 + 180ms, 200ms, out);
    ASSERT_EQ(out.size(), 50u);
    for (std::size_t k = 0; k < out.size(); ++k) EXPECT_EQ(out[k], 2 * k) << k;  // the even ones
    // Once those are taken out, the rest wait their turn in the next slices.
    std::vector<clock::time_point> rest;
    for (std::size_t i = 0; i < since.size(); ++i) {
        if (i % 2 == 1 || i >= 100) rest.push_back(since[i]);
    }
    choose(rest, t0 + 190ms, 200ms, out);
    EXPECT_EQ(out.size(), 38u);  // a quarter of the 150 left, rounded up
}

// The delay is a promise: a call that has waited all of it is applied in the next slice, however
// many are pending (after the connection was lost for a while, say).
TEST(DeriveSlices, EveryCallThatHasWaitedTheWholeDelayIsTaken) {
    std::vector<clock::time_point> since(1000, t0);
    since[999] = t0 + 150ms;  // due at t0 + 325 ms, not yet
    std::vector<std::size_t> out;
    choose(since, t0 + 200ms, 200ms, out);
    EXPECT_EQ(out.size(), 999u);
    choose(since, t0 + 1s, 200ms, out);
    EXPECT_EQ(out.size(), 1000u);
    // Of those only due, the cap.
    choose(since, t0 + 199ms, 200ms, out);
    EXPECT_EQ(out.size(), cap(1000));
}

// When next() says a slice is due, choose() takes at least the call pending longest: a due
// slice is never empty (the writer would begin one at every turn of its loop).
TEST(DeriveSlices, ASliceDueTakesTheOldestCall) {
    for (const auto delay : {1ms, 4ms, 7ms, 8ms, 200ms, 201ms, 1'000ms, 60'000ms}) {
        const std::vector<clock::time_point> since{t0 + 3ms, t0, t0 + 1ms};
        const auto at = next(t0 - 1h, t0, delay);  // the last slice long ago
        std::vector<std::size_t> out;
        choose(since, at, delay, out);
        ASSERT_FALSE(out.empty()) << delay.count();
        EXPECT_EQ(out.front(), 1u) << delay.count();
        choose(since, at - 1ns, delay, out);
        EXPECT_TRUE(out.empty()) << delay.count();
    }
}

TEST(DeriveSlices, FewPendingCallsAreTakenTogether) {
    std::vector<clock::time_point> since(k_min_slice, t0);
    std::vector<std::size_t> out;
    choose(since, t0 + 200ms, 200ms, out);
    std::vector<std::size_t> all(k_min_slice);
    std::iota(all.begin(), all.end(), std::size_t{0});
    EXPECT_EQ(out, all);
}

}  // namespace
}  // namespace switchboard::store::derive_slices
