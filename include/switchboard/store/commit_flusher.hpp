#pragma once
/// Durability for batches committed without waiting for the WAL flush.
///
/// A writer's batches commit with `synchronous_commit = off`, so its Postgres backend goes on to
/// the next batch instead of waiting for `fdatasync` (a fifth of its time on the wrk mix,
/// bench/analysis.md, session 8). Their webhooks are still acknowledged only once durable:
/// the writer hands each committed batch here, and this thread, on a connection of its own
/// with `synchronous_commit = on`, commits a transaction that writes WAL after their commits
/// (a transactional logical message, the least a statement can write: a transaction that
/// writes no WAL, even one with an xid, does not wait for the flush). WAL is flushed in order,
/// so when that commit returns,
/// every batch committed before it was sent is on disk; one flush confirms all the batches
/// that committed meanwhile (group commit), and flushes overlap the backend's next batches.
///
/// A crash of the server loses what was committed and not flushed. It also ends every
/// connection, this one included, so the rule is: a flush confirms only batches sent while the
/// connection that flushed was already open (`epoch()`, read before sending). Any other batch,
/// and every batch held when the flush fails, comes back to the writer (`take_returned`) to be
/// written again; the dedupe keys make that idempotent.

#include "switchboard/config/config.hpp"
#include "switchboard/ingest/event.hpp"
#include "switchboard/store/metrics.hpp"
#include "switchboard/store/pg.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace switchboard::store {

class commit_flusher {
  public:
    using batch = std::vector<ingest::event>;
    /// Completes a confirmed batch's events; called on the flusher's thread.
    using confirm_fn = std::function<void(batch&)>;

    commit_flusher(unsigned id, const config::store_config& cfg, store_metrics& metrics,
                   confirm_fn confirm);
    ~commit_flusher();
    commit_flusher(const commit_flusher&) = delete;
    commit_flusher& operator=(const commit_flusher&) = delete;

    /// Starts the thread (it connects at once, and again with backoff whenever it must).
    void start();
    /// Stops the thread; what it still holds stays for take_all.
    void stop();

    /// The number of the connection open now; 0 when there is none. Read it before sending a
    /// batch and submit the batch with it.
    std::uint64_t epoch() const noexcept { return epoch_.load(std::memory_order_acquire); }
    /// A committed batch, sent while connection `epoch` was open (0: none was).
    void submit(batch events, std::uint64_t epoch);
    /// True when batches came back to be written again (their durability is not known).
    bool has_returned() const noexcept { return returned_flag_.load(std::memory_order_acquire); }
    std::vector<batch> take_returned();
    /// Submitted and not yet confirmed (including those returned and not taken).
    std::size_t outstanding() const;
    /// Everything held, confirmed or not (giving up at shutdown).
    std::vector<batch> take_all();

  private:
    struct item {
        batch events;
        std::uint64_t epoch = 0;
    };
    void loop();
    bool ensure_connected();
    /// Returns `items` to the writer and ends the flush in progress.
    void give_back(std::vector<item>& items);

    unsigned id_;
    const config::store_config& cfg_;
    store_metrics& metrics_;
    confirm_fn confirm_;
    pg_connection conn_;
    std::atomic<std::uint64_t> epoch_{0};
    std::uint64_t connections_ = 0;  ///< connections opened so far (the next epoch)

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<item> waiting_;     ///< guarded
    std::vector<item> returned_;    ///< guarded
    std::size_t in_progress_ = 0;   ///< guarded: batches taken by the current flush
    bool stop_ = false;             ///< guarded
    std::atomic<bool> returned_flag_{false};
    std::thread thread_;
};

}  // namespace switchboard::store
