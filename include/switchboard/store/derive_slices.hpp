#pragma once
/// When a batch writer applies the derived call state (the calls rows) it merged in memory.
///
/// Applied all at once every `--derive-delay-ms`, the state of every call in progress went in
/// one transaction: at 10,000 webhooks/s over 200 calls, about 10 ms of a core every 200 ms, and
/// the batches that met it waited for the core (the open loop's p99; bench/analysis.md, sessions
/// 22 and 23). So it goes in slices, one every tick (an eighth of the delay, but at most 25 ms,
/// so that a longer delay makes fewer applications and not longer ones; session 25). A call
/// pending since `s` must be applied by `s + delay`, its deadline: by the last slice before it.
/// Each slice takes the calls whose last slice it is, and, when more calls are about to reach
/// theirs than the slices before their deadlines would take evenly, as many of them as that even
/// share: the longest-waiting first. So in steady flow a slice holds the calls of one tick, and a
/// burst of calls that become pending together is spread over up to k_spread slices instead of
/// going out in one. A call is applied once per turn, at most `delay` after the first batch that
/// left it pending (once a slice can begin: not while the writer has no connection).

#include <chrono>
#include <cstddef>
#include <span>
#include <vector>

namespace switchboard::store::derive_slices {

using clock = std::chrono::steady_clock;

/// Ticks per delay up to 8 × k_max_tick (200 ms); more for longer delays, fewer below 8 ms
/// (a tick is at least a millisecond).
constexpr unsigned k_per_delay = 8;
/// The longest tick, whatever the delay: a slice holds the calls due in one tick.
constexpr std::chrono::milliseconds k_max_tick{25};
/// Over how many slices, at most, calls that reach their deadlines together are spread.
constexpr unsigned k_spread = 5;

/// The time between two slices: an eighth of the delay, at most k_max_tick, at least a
/// millisecond.
clock::duration tick(clock::duration delay);

/// When the next slice is due: a tick after the last one began, and not before the call pending
/// longest (since `oldest_since`) is within min(pending, k_spread) slices of its deadline (with
/// fewer calls pending than that, choose() takes none earlier). Such a slice may take nothing;
/// it still counts as begun.
clock::time_point next(clock::time_point last_start, clock::time_point oldest_since,
                       std::size_t pending, clock::duration delay);

/// Of the calls pending since `since[i]`, the indices of those a slice begun at `now` takes,
/// the longest-waiting first, into `out` (cleared first): every call that has waited the delay
/// less a tick (the next slice would be past its deadline), and more when the calls reaching
/// their deadlines within the next k_spread slices outnumber an even share of those slices.
void choose(std::span<const clock::time_point> since, clock::time_point now, clock::duration delay,
            std::vector<std::size_t>& out);

}  // namespace switchboard::store::derive_slices
