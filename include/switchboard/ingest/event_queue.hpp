#pragma once
/// The hand-off from I/O threads to batch writers: a lock-free moodycamel queue behind an
/// admission counter. An event counts against the bounds (events and bytes) from `try_push`
/// until the writer that committed it calls `release`, so memory stays bounded even while the
/// database is down and writers hold full batches.
///
/// Thread-safe: any number of producers (I/O threads) and consumers (writers).

#include "switchboard/config/config.hpp"
#include "switchboard/ingest/event.hpp"

#include <blockingconcurrentqueue.h>

#include <atomic>
#include <chrono>
#include <cstddef>

namespace switchboard::ingest {

class event_queue {
  public:
    explicit event_queue(const config::queue_config& cfg);

    /// Admits and enqueues `ev` (moved from only on success). False when a bound is reached.
    bool try_push(event& ev);

    /// Moves up to `max` events into `out`, waiting at most `timeout` for the first one.
    std::size_t pop_bulk(moodycamel::ConsumerToken& token, event* out, std::size_t max,
                         std::chrono::microseconds timeout);

    /// Takes events without waiting.
    std::size_t try_pop_bulk(moodycamel::ConsumerToken& token, event* out, std::size_t max);

    moodycamel::ConsumerToken consumer_token() { return moodycamel::ConsumerToken(queue_); }

    /// Called once committed (or given up): frees their place in the bounds.
    void release(std::size_t events, std::size_t bytes) noexcept;

    /// Admitted and not yet released.
    std::size_t depth() const noexcept { return depth_.load(std::memory_order_relaxed); }
    std::size_t bytes() const noexcept { return bytes_.load(std::memory_order_relaxed); }
    /// Waiting in the queue itself (not yet taken by a writer); approximate.
    std::size_t queued() const noexcept { return queue_.size_approx(); }

    /// True above 90 % of either bound (readiness turns false before requests get 503).
    bool saturated() const noexcept;

    const config::queue_config& config() const noexcept { return cfg_; }

  private:
    config::queue_config cfg_;
    moodycamel::BlockingConcurrentQueue<event> queue_;
    std::atomic<std::size_t> depth_{0};
    std::atomic<std::size_t> bytes_{0};
};

}  // namespace switchboard::ingest
