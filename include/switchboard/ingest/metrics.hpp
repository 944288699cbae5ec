#pragma once
/// Prometheus series of the webhook path, resolved once at start-up (no `Add` per request).

#include "switchboard/ingest/auth.hpp"
#include "switchboard/ingest/event_queue.hpp"
#include "switchboard/metrics/registry.hpp"
#include "switchboard/vapi/message_type.hpp"

#include <array>

namespace switchboard::ingest {

enum class outcome : std::uint8_t {
    stored,        ///< committed (2xx)
    invalid,       ///< 400
    unauthorized,  ///< 401
    rejected,      ///< the database refused the data (422)
    queue_full,    ///< 503 at admission
    timeout,       ///< 503 after waiting for the commit
    replied,       ///< its reply sent before the commit (--reply-commit-wait-ms), still queued
};
inline constexpr std::size_t outcome_count = 7;

class ingest_metrics {
  public:
    /// Registers the families; `queue` is sampled at each scrape for the depth gauges.
    ingest_metrics(metrics::registry& reg, const event_queue& queue);

    /// `type` is message_type::unknown when the body could not be read (401, 400).
    void count(vapi::message_type type, outcome o) {
        by_type_[static_cast<std::size_t>(type)][static_cast<std::size_t>(o)]->Increment();
    }
    void auth_failed(auth_failure f) { auth_failures_[static_cast<std::size_t>(f)]->Increment(); }
    void acked(double seconds) { ack_latency_.Observe(seconds); }

  private:
    std::array<std::array<prometheus::Counter*, outcome_count>, vapi::message_type_count>
        by_type_{};
    std::array<prometheus::Counter*, auth_failure_count> auth_failures_{};
    prometheus::Histogram& ack_latency_;
};

}  // namespace switchboard::ingest
