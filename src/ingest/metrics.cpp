#include "switchboard/ingest/metrics.hpp"

namespace switchboard::ingest {
namespace {

constexpr std::array<const char*, outcome_count> k_outcomes = {
    "stored",     "invalid", "unauthorized",       "rejected",
    "queue_full", "timeout", "replied_uncommitted"};

}  // namespace

ingest_metrics::ingest_metrics(metrics::registry& reg, const event_queue& queue)
    : ack_latency_(prometheus::BuildHistogram()
                       .Name("switchboard_webhook_ack_latency_seconds")
                       .Help("From the whole request received to the answer (after the commit)")
                       .Register(reg.prom())
                       .Add({}, metrics::latency_buckets())) {
    auto& webhooks = prometheus::BuildCounter()
                         .Name("switchboard_webhooks_total")
                         .Help("Webhooks by message type and outcome")
                         .Register(reg.prom());
    for (std::size_t t = 0; t < vapi::message_type_count; ++t) {
        for (std::size_t o = 0; o < outcome_count; ++o) {
            by_type_[t][o] = &webhooks.Add(
                {{"type", std::string(vapi::to_string(static_cast<vapi::message_type>(t)))},
                 {"outcome", k_outcomes[o]}});
        }
    }
    auto& auth = prometheus::BuildCounter()
                     .Name("switchboard_webhook_auth_failures_total")
                     .Help("Webhooks refused with 401, by reason")
                     .Register(reg.prom());
    for (std::size_t f = 0; f < auth_failure_count; ++f) {
        auth_failures_[f] =
            &auth.Add({{"reason", std::string(to_string(static_cast<auth_failure>(f)))}});
    }

    auto& depth = prometheus::BuildGauge()
                      .Name("switchboard_queue_depth")
                      .Help("Events admitted and not yet committed")
                      .Register(reg.prom())
                      .Add({});
    auto& bytes = prometheus::BuildGauge()
                      .Name("switchboard_queue_bytes")
                      .Help("Bytes of events admitted and not yet committed")
                      .Register(reg.prom())
                      .Add({});
    auto& capacity = prometheus::BuildGauge()
                         .Name("switchboard_queue_capacity")
                         .Help("Admission bound in events")
                         .Register(reg.prom())
                         .Add({});
    capacity.Set(static_cast<double>(queue.config().capacity));
    auto& stalled = prometheus::BuildGauge()
                        .Name("switchboard_commit_stalled_seconds")
                        .Help(
                            "How long admitted events have waited with none committed (0: "
                            "none waiting, or commits progressing)")
                        .Register(reg.prom())
                        .Add({});
    reg.on_collect([&depth, &bytes, &stalled, &queue] {
        depth.Set(static_cast<double>(queue.depth()));
        bytes.Set(static_cast<double>(queue.bytes()));
        stalled.Set(std::chrono::duration<double>(queue.stalled_for()).count());
    });
}

}  // namespace switchboard::ingest
