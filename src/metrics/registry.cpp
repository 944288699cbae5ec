#include "switchboard/metrics/registry.hpp"

#include <prometheus/text_serializer.h>

namespace switchboard::metrics {

registry::registry() : registry_(std::make_shared<prometheus::Registry>()) {}

void registry::on_collect(std::function<void()> hook) {
    std::lock_guard lock(hooks_mutex_);
    hooks_.push_back(std::move(hook));
}

std::string registry::serialize() {
    {
        std::lock_guard lock(hooks_mutex_);
        for (auto& hook : hooks_) hook();
    }
    return prometheus::TextSerializer{}.Serialize(registry_->Collect());
}

prometheus::Histogram::BucketBoundaries latency_buckets() {
    prometheus::Histogram::BucketBoundaries b;
    for (double v = 50e-6; v < 30.0; v *= 2) b.push_back(v);
    return b;
}

prometheus::Histogram::BucketBoundaries count_buckets(double max) {
    prometheus::Histogram::BucketBoundaries b;
    for (double v = 1; v <= max; v *= 2) b.push_back(v);
    return b;
}

}  // namespace switchboard::metrics
