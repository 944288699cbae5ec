#pragma once
/// When a batch writer applies the derived call state (the calls rows) it merged in memory.
///
/// Applied all at once every `--derive-delay-ms`, the state of every call in progress went in
/// one transaction: at 10,000 webhooks/s over 200 calls, about 10 ms of a core every 200 ms, and
/// the batches that met it waited for the core (the open loop's p99; bench/analysis.md, sessions
/// 22 and 23). So it goes in slices: every tick (an eighth of the delay, but at most 25 ms, so
/// that a longer delay makes fewer applications and not longer ones; session 25), the calls that
/// have waited at least the delay less a tick, the longest-waiting first, at most a quarter of
/// the pending calls (but at least k_min_slice) at once, and in any case every call that has
/// waited the whole delay. Each call is still applied once per turn, at most `delay` after the
/// first batch that left it pending (once a slice can begin: not while the writer has no
/// connection), or a tick later when more calls fall due together than a slice takes. A burst
/// of new calls that become pending together is spread over the tick before their delay ends
/// only as far as the cap allows: what has waited the whole delay goes in one slice.

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
/// The least a slice may take of the calls due, whatever the number pending.
constexpr std::size_t k_min_slice = 16;

/// The time between two slices: an eighth of the delay, at most k_max_tick, at least a
/// millisecond.
clock::duration tick(clock::duration delay);

/// When the next slice is due: a tick after the last one began, and not before the turn of
/// the call pending longest (pending since `oldest_since`).
clock::time_point next(clock::time_point last_start, clock::time_point oldest_since,
                       clock::duration delay);

/// The most calls a slice takes when `pending` calls are pending.
std::size_t cap(std::size_t pending);

/// Of the calls pending since `since[i]`, the indices of those a slice begun at `now` takes,
/// the longest-waiting first, into `out` (cleared first): those that have waited the delay
/// less a tick, at most cap(pending) of them unless more have waited the whole delay.
void choose(std::span<const clock::time_point> since, clock::time_point now, clock::duration delay,
            std::vector<std::size_t>& out);

}  // namespace switchboard::store::derive_slices
