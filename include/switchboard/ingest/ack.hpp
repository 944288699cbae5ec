#pragma once
/// The rendezvous between a connection waiting for its event to be committed and the batch
/// writer that commits it. The connection arms the slot and waits on its strand with a
/// deadline; the writer (another thread) calls `complete`, which posts the outcome back to that
/// strand (`complete_all`: one post for a whole batch). If the deadline passes first the connection
/// answers 503 and moves on; the writer may still complete the slot later, harmlessly (it is
/// shared-owned by the event).
///
/// A connection reuses its slot for each request unless a previous event still holds it.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace switchboard::ingest {

enum class ack_status : std::uint8_t {
    pending,
    committed,  ///< in Postgres (or a duplicate of something that is)
    rejected,   ///< Postgres refused this event's data; it will never be stored
    failed,     ///< given up (shutdown with the database unreachable)
    timed_out,  ///< the waiter's deadline passed first
};

class ack_slot : public std::enable_shared_from_this<ack_slot> {
  public:
    explicit ack_slot(boost::asio::any_io_executor strand);

    /// Connection strand: prepare for one event. Returns false while an earlier event still
    /// holds the slot (then use a new slot).
    bool arm();

    /// Connection strand: wait for `complete`, or `timeout`.
    boost::asio::awaitable<ack_status> wait(std::chrono::milliseconds timeout);

    /// Any thread (the writer): report the outcome. `detail` explains a rejection.
    void complete(ack_status status, std::string detail = {});

    /// Any thread (the writer): reports the same outcome to many slots with one post (a wake-up
    /// of one I/O thread per batch instead of one per event); from there each slot is completed
    /// on its own strand, inline when that strand is free.
    static void complete_all(std::vector<std::shared_ptr<ack_slot>> slots, ack_status status,
                             const std::string& detail = {});

    /// Connection strand: why the event was rejected (after wait returned `rejected`).
    const std::string& detail() const { return detail_; }

  private:
    void finish(ack_status status, std::string detail);

    boost::asio::steady_timer timer_;
    ack_status status_ = ack_status::pending;
    bool in_flight_ = false;
    std::string detail_;
};

}  // namespace switchboard::ingest
