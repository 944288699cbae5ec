#pragma once
/// Keeps the in-memory phone-number routing table (ingest/routing.hpp) equal to the
/// `phone_numbers` table: a full load at start, then LISTEN on the channel `switchboard_routing`
/// (a trigger announces the id of every inserted, updated or deleted row) and a reload of the
/// announced ids. On a lost connection it reconnects with backoff and reloads everything
/// (notifications sent while disconnected are lost).
///
/// Lifetime: started after the migrations, stopped before the table is destroyed. One thread of
/// its own with one blocking libpq connection; the table is the only thing it shares.

#include "switchboard/config/config.hpp"
#include "switchboard/ingest/routing.hpp"
#include "switchboard/metrics/registry.hpp"
#include "switchboard/store/pg.hpp"

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>

namespace switchboard::store {

class routing_listener {
  public:
    routing_listener(const config::store_config& cfg, ingest::routing_table& table,
                     metrics::registry& reg);
    ~routing_listener();  ///< stops the thread
    routing_listener(const routing_listener&) = delete;
    routing_listener& operator=(const routing_listener&) = delete;

    /// Loads the table once on the calling thread (so the first assistant-request already finds
    /// it), then starts the listening thread. False when that first load failed: the thread
    /// keeps trying and the table stays empty (defaults apply) until it succeeds.
    bool start();

    /// Stops and joins the thread. Safe to call more than once.
    void stop();

    /// The listening connection is up.
    bool connected() const { return connected_.load(std::memory_order_relaxed); }

  private:
    void run();
    /// Connects, LISTENs, then loads every row. False (and logs) on failure.
    bool connect_and_load();
    /// Reloads the rows of `ids` (all rows when there are many). False on a connection error.
    bool reload(const std::set<std::string>& ids);
    /// Collects the notifications libpq has received into `pending_`.
    void drain_notifications();
    /// Waits until the connection has input or `stop` is called; then reads it. False when the
    /// connection broke.
    bool wait_for_input();
    /// Sleeps up to `d` unless stopped.
    void pause(std::chrono::milliseconds d);
    void publish();

    const config::store_config& cfg_;
    ingest::routing_table& table_;
    pg_connection conn_;
    std::map<std::string, ingest::phone_route> rows_;  ///< by id; this thread only
    std::set<std::string> pending_;                    ///< announced ids not yet reloaded
    std::thread thread_;
    int wake_fd_ = -1;  ///< eventfd: stop() wakes the thread out of poll
    std::atomic<bool> stop_{false};
    std::atomic<bool> connected_{false};

    prometheus::Gauge& numbers_;
    prometheus::Gauge& connected_gauge_;
    prometheus::Family<prometheus::Counter>& reloads_;
    prometheus::Counter& full_reloads_;
    prometheus::Counter& partial_reloads_;
};

}  // namespace switchboard::store
