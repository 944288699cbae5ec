// store::derive_slices: when a writer applies the derived call state, and which calls it takes.
#include "switchboard/store/derive_slices.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
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
    // Many calls pending: the oldest is k_spread slices from its deadline, and a slice begun
    // then looks at whether calls about to reach theirs need spreading (it may take none).
    EXPECT_EQ(next(t0, t0, 100, 200ms), t0 + 75ms);
    EXPECT_EQ(next(t0, t0, 100, 1'000ms), t0 + 875ms);
    // Fewer calls than k_spread cannot need that many slices: with one, its own last slice.
    EXPECT_EQ(next(t0, t0, 1, 1'000ms), t0 + 975ms);
    EXPECT_EQ(next(t0, t0, 2, 1'000ms), t0 + 950ms);
    // Its turn came long ago: a tick after the last slice.
    EXPECT_EQ(next(t0, t0 - 1s, 100, 200ms), t0 + 25ms);
    // A delay of a millisecond: every millisecond.
    EXPECT_EQ(next(t0, t0, 100, 1ms), t0 + 1ms);
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

/// What the writer does with these functions, over calls that become pending at `arrive[i]`:
/// after each arrival it asks next() again, and it begins a slice when next() says so, up to
/// `jitter` late (a random delay: the writer's loop is busy, or its sleep overshoots); each
/// slice is finished before the next. Returns the size of every slice that took calls; fails the
/// test if a call is applied after its deadline (arrival + delay) by more than the jitter or
/// more than k_spread ticks before it.
std::vector<std::size_t> simulate(std::vector<clock::time_point> arrive, clock::duration delay,
                                  std::chrono::microseconds jitter = 0us) {
    std::sort(arrive.begin(), arrive.end());
    std::mt19937 rng(11);
    std::vector<std::size_t> sizes;
    std::vector<clock::time_point> since;  // pending now
    std::size_t arrived = 0;
    clock::time_point last = t0 - 1h;
    std::vector<std::size_t> out;
    while (arrived < arrive.size() || !since.empty()) {
        if (since.empty() || (arrived < arrive.size() &&
                              arrive[arrived] < next(last, since.front(), since.size(), delay))) {
            since.push_back(arrive[arrived++]);  // (the writer looks at next() again)
            continue;
        }
        const clock::time_point at = next(last, since.front(), since.size(), delay) +
                                     std::chrono::microseconds(rng() % (jitter.count() + 1));
        while (arrived < arrive.size() && arrive[arrived] <= at) since.push_back(arrive[arrived++]);
        choose(since, at, delay, out);
        for (const std::size_t i : out) {
            EXPECT_LE(at, since[i] + delay + jitter) << "late";
            EXPECT_GE(at, since[i] + delay - k_spread * tick(delay)) << "early";
        }
        if (!out.empty()) sizes.push_back(out.size());
        // The chosen are the longest-waiting: the front of `since` (kept in arrival order).
        for (std::size_t k = 0; k < out.size(); ++k) EXPECT_EQ(out[k], k);
        since.erase(since.begin(), since.begin() + static_cast<std::ptrdiff_t>(out.size()));
        last = at;
    }
    return sizes;
}

TEST(DeriveSlices, ABurstOfCallsIsSpreadOverSlicesAndNoneIsLate) {
    // 1000 calls that become pending within 2 ms (a burst of new calls): five slices of 200,
    // none after its calls' deadline, where one slice took three quarters of them before.
    std::vector<clock::time_point> burst;
    for (int i = 0; i < 1000; ++i) burst.push_back(t0 + i * 2us);
    for (const auto delay : {200ms, 1'000ms}) {
        const auto sizes = simulate(burst, delay);
        EXPECT_EQ(sizes, (std::vector<std::size_t>(k_spread, 200))) << delay.count();
    }
}

TEST(DeriveSlices, SteadyFlowGoesInSlicesOfOneTicksCalls) {
    // A call every 0.5 ms for 3 s (6,000 calls): slices of a tick's calls, 50 at 25 ms, once
    // the flow is under way.
    std::vector<clock::time_point> flow;
    for (int i = 0; i < 6000; ++i) flow.push_back(t0 + i * 500us);
    const auto sizes = simulate(flow, 1'000ms);
    ASSERT_GT(sizes.size(), 100u);
    // The first slices take shares of the calls about to reach their deadlines (10, 18, 24, …:
    // they spread the start of the flow), and within half a second (20 slices) one tick's calls.
    for (std::size_t k = 30; k + 1 < sizes.size(); ++k) {
        EXPECT_NEAR(static_cast<double>(sizes[k]), 50.0, 1.0)
            << k << ": " << ::testing::PrintToString(sizes);
    }
}

TEST(DeriveSlices, CallsOfAnyPatternAreAppliedByTheirDeadlines) {
    // Bursts of random size at random times among a steady trickle: simulate() checks every
    // call's application time.
    std::mt19937 rng(7);
    std::vector<clock::time_point> arrive;
    for (int i = 0; i < 3000; ++i)
        arrive.push_back(t0 + std::chrono::microseconds(rng() % 5'000'000));
    for (int b = 0; b < 10; ++b) {
        const auto at = t0 + std::chrono::microseconds(rng() % 5'000'000);
        const int n = static_cast<int>(rng() % 2000);
        for (int i = 0; i < n; ++i) arrive.push_back(at + std::chrono::microseconds(rng() % 3000));
    }
    for (const auto delay : {1ms, 4ms, 8ms, 200ms, 1'000ms, 60'000ms}) {
        const auto sizes = simulate(arrive, delay);
        EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), std::size_t{0}), arrive.size());
        // Slices begun up to a millisecond late: calls late by that much at most.
        const auto jittered = simulate(arrive, delay, 1000us);
        EXPECT_EQ(std::accumulate(jittered.begin(), jittered.end(), std::size_t{0}), arrive.size());
    }
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
    // Four slices before their deadline, a share of them: a quarter.
    choose(since, t0 + 100ms, 200ms, out);
    EXPECT_EQ(out.size(), 249u);
}

// A call pending alone is taken in the last slice before its deadline, the first slice next()
// asks for: no slice before it looks at it for nothing.
TEST(DeriveSlices, ALoneCallIsTakenInTheFirstSliceNextAsksFor) {
    for (const auto delay : {1ms, 4ms, 7ms, 8ms, 200ms, 201ms, 1'000ms, 60'000ms}) {
        const std::vector<clock::time_point> since{t0};
        const auto at = next(t0 - 1h, t0, since.size(), delay);  // the last slice long ago
        std::vector<std::size_t> out;
        choose(since, at, delay, out);
        EXPECT_EQ(out, std::vector<std::size_t>{0}) << delay.count();
        EXPECT_LE(at, t0 + delay) << delay.count();
        EXPECT_GE(at + tick(delay), t0 + delay) << delay.count();
    }
}

TEST(DeriveSlices, FewPendingCallsAreTakenTogether) {
    std::vector<clock::time_point> since(16, t0);
    std::vector<std::size_t> out;
    choose(since, t0 + 200ms, 200ms, out);
    std::vector<std::size_t> all(16);
    std::iota(all.begin(), all.end(), std::size_t{0});
    EXPECT_EQ(out, all);
}

}  // namespace
}  // namespace switchboard::store::derive_slices
