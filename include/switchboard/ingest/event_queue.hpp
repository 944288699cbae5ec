#pragma once
/// The hand-off from I/O threads to batch writers: a lock-free moodycamel queue behind an
/// admission counter. An event counts against the bounds (events and bytes) from `try_push`
/// until the writer that committed it calls `release`, so memory stays bounded even while the
/// database is down and writers hold full batches.
///
/// The queue is split into shards, one per writer, and an event goes to the shard of its call id:
/// one writer sees all of a call's events, so it sends the call's repeated parts once and never
/// contends with another writer on the call's rows. The bounds are global.
///
/// Thread-safe: any number of producers (I/O threads) and consumers (writers).

#include "switchboard/config/config.hpp"
#include "switchboard/ingest/event.hpp"

#include <blockingconcurrentqueue.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

namespace switchboard::ingest {

class event_queue {
  public:
    explicit event_queue(const config::queue_config& cfg, std::size_t shards = 1);

    /// Admits and enqueues `ev` (moved from only on success). False when a bound is reached.
    /// A message a caller waits on the line for (`for_reply`: assistant-request, tool-calls, …)
    /// may go a sixteenth beyond both bounds (at least one event and 1 MiB): while Postgres is
    /// down and the ordinary messages fill the queue, calls still get their answers.
    bool try_push(event& ev, bool for_reply = false);

    /// Moves up to `max` events of `shard` into `out`, waiting at most `timeout` for the first.
    /// `token` must come from consumer_token(shard).
    std::size_t pop_bulk(std::size_t shard, moodycamel::ConsumerToken& token, event* out,
                         std::size_t max, std::chrono::microseconds timeout);
    std::size_t pop_bulk(moodycamel::ConsumerToken& token, event* out, std::size_t max,
                         std::chrono::microseconds timeout) {
        return pop_bulk(0, token, out, max, timeout);
    }

    /// Takes events without waiting.
    std::size_t try_pop_bulk(std::size_t shard, moodycamel::ConsumerToken& token, event* out,
                             std::size_t max);
    std::size_t try_pop_bulk(moodycamel::ConsumerToken& token, event* out, std::size_t max) {
        return try_pop_bulk(0, token, out, max);
    }

    /// A consumer of one shard (0 ≤ shard < shards()); tokens are bound to their shard.
    moodycamel::ConsumerToken consumer_token(std::size_t shard = 0);
    std::size_t shards() const noexcept { return shards_.size(); }
    /// The shard `call_id`'s events go to.
    std::size_t shard_of(std::string_view call_id) const noexcept;

    /// Called once committed (or given up): frees their place in the bounds.
    void release(std::size_t events, std::size_t bytes) noexcept;

    /// Admitted and not yet released.
    std::size_t depth() const noexcept { return depth_.load(std::memory_order_relaxed); }
    std::size_t bytes() const noexcept { return bytes_.load(std::memory_order_relaxed); }
    /// Waiting in the queue itself (not yet taken by a writer); approximate.
    std::size_t queued() const noexcept;
    std::size_t queued(std::size_t shard) const noexcept { return shards_[shard]->size_approx(); }

    /// How long admitted events have waited without any being released (committed or given
    /// up); zero when none is admitted. A writer connected to a Postgres that commits nothing
    /// (a lock held, a server that stopped answering) looks connected: this shows it.
    std::chrono::steady_clock::duration stalled_for() const noexcept;

    /// True above 90 % of either bound (readiness turns false before requests get 503).
    bool saturated() const noexcept;

    const config::queue_config& config() const noexcept { return cfg_; }

  private:
    config::queue_config cfg_;
    /// The bounds a message for a reply may reach (try_push): a sixteenth more.
    std::size_t reply_capacity_;
    std::size_t reply_max_bytes_;
    /// A waiting writer spins this often before it sleeps (moodycamel's default is 10,000:
    /// on two cores shared with the I/O threads and Postgres, spinning only takes their CPU).
    struct traits : moodycamel::ConcurrentQueueDefaultTraits {
        static const int MAX_SEMA_SPINS = 100;
    };
    using shard_queue = moodycamel::BlockingConcurrentQueue<event, traits>;
    std::vector<std::unique_ptr<shard_queue>> shards_;

    std::atomic<std::size_t> depth_{0};
    std::atomic<std::size_t> bytes_{0};
    /// When events were last released, or admitted into an empty queue (steady clock ticks).
    std::atomic<std::chrono::steady_clock::rep> progress_at_{0};
};

}  // namespace switchboard::ingest
