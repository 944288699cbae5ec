#pragma once
/// Prometheus series of the batch writers, resolved once and shared by all writer threads.

#include "switchboard/metrics/registry.hpp"
#include "switchboard/store/pg.hpp"

namespace switchboard::store {

struct store_metrics {
    explicit store_metrics(metrics::registry& reg);

    prometheus::Histogram& batch_rows;      ///< events per committed batch
    prometheus::Histogram& commit_seconds;  ///< BEGIN … COMMIT of one batch
    prometheus::Counter& inserted;          ///< new rows in call_events
    prometheus::Counter& duplicates;        ///< events already stored
    prometheus::Counter& repeats;     ///< of those, answered without a statement (batch_writer)
    prometheus::Counter& rejected;    ///< events Postgres refused
    prometheus::Counter& reconnects;  ///< successful reconnections
    prometheus::Gauge& connected_writers;
    prometheus::Gauge& derive_pending;             ///< calls whose derived state waits in memory
    prometheus::Histogram& derive_seconds;         ///< one application of the derived state
    std::array<prometheus::Counter*, 4> errors{};  ///< by pg_error::kind

    void error(pg_error::kind k) { errors[static_cast<std::size_t>(k)]->Increment(); }
};

}  // namespace switchboard::store
