#pragma once
/// The batch writers: `writers` threads, one Postgres connection each. Started after the
/// schema is migrated; stopped after the HTTP side has finished, so that every admitted event is
/// written before the process exits.

#include "switchboard/config/config.hpp"
#include "switchboard/ingest/event_queue.hpp"
#include "switchboard/store/batch_writer.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace switchboard::store {

class writer_pool {
  public:
    /// `given_up` (may be null) keeps what a stop gives up (store/spool).
    writer_pool(const config::store_config& cfg, ingest::event_queue& queue, metrics::registry& reg,
                class spool* given_up = nullptr);
    ~writer_pool();
    writer_pool(const writer_pool&) = delete;
    writer_pool& operator=(const writer_pool&) = delete;

    void start();

    /// Lets the writers drain the queue, then joins them. Events still unwritten after
    /// `timeout` (the database is unreachable) are completed as failed, and spooled when there
    /// is a spool. Returns how many were lost (given up and not spooled; 0: everything admitted
    /// was written or spooled).
    std::size_t stop(std::chrono::steady_clock::duration timeout);

    /// Writers with a working connection (readiness).
    unsigned connected() const;

  private:
    store_metrics metrics_;
    std::vector<std::unique_ptr<batch_writer>> writers_;
    std::vector<std::thread> threads_;
    std::vector<std::size_t> given_up_;
    std::vector<std::unique_ptr<std::atomic<bool>>> done_;  ///< run() returned, per writer
    std::atomic<bool> stop_{false};
    std::atomic<std::chrono::steady_clock::rep> give_up_after_{0};
};

}  // namespace switchboard::store
