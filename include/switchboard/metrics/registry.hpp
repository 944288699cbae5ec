#pragma once
/// The process's Prometheus registry. Modules register their metric families here once at
/// start-up and keep plain references to the series they update (prometheus-cpp's `Add` is too
/// slow for the request path). Owned by main; outlives every module that holds handles into it.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace switchboard::metrics {

class registry {
  public:
    registry();

    prometheus::Registry& prom() { return *registry_; }

    /// Runs `hook` before every scrape, e.g. to copy an atomic queue depth into a gauge.
    void on_collect(std::function<void()> hook);

    /// The Prometheus text exposition format (version 0.0.4) of every registered family.
    std::string serialize();

  private:
    std::shared_ptr<prometheus::Registry> registry_;
    std::mutex hooks_mutex_;
    std::vector<std::function<void()>> hooks_;
};

/// Bucket bounds for latencies in seconds, 50 µs to ~26 s, doubling.
prometheus::Histogram::BucketBoundaries latency_buckets();

/// Bucket bounds for counts (1, 2, 4, … up to `max`).
prometheus::Histogram::BucketBoundaries count_buckets(double max);

}  // namespace switchboard::metrics
