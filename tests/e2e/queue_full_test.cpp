// Bounded admission: with the database down and the queue full, further webhooks are refused
// at once with 503 and Retry-After, and the process stays up and recovers.
#include "support/e2e.hpp"
#include "support/examples.hpp"
#include "support/http_client.hpp"
#include "support/pg_cluster.hpp"
#include "support/service_process.hpp"
#include "support/test_db.hpp"
#include "support/webhooks.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <future>
#include <thread>

namespace switchboard::test {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

struct timed_reply {
    std::string call_id;
    http_reply reply;
    std::chrono::milliseconds latency{0};
};

std::vector<timed_reply> post_concurrently(std::uint16_t port, const std::string& prefix, int n) {
    std::vector<std::future<timed_reply>> futures;
    for (int i = 0; i < n; ++i) {
        futures.push_back(std::async(std::launch::async, [port, id = prefix + std::to_string(i)] {
            http_client client("127.0.0.1", port, 20s);
            const auto started = steady::now();
            timed_reply r{id, client.post("/receive", small_webhook(id), secret_headers()), {}};
            r.latency =
                std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - started);
            return r;
        }));
    }
    std::vector<timed_reply> out;
    for (auto& f : futures) out.push_back(f.get());
    return out;
}

TEST(QueueFull, RequestsBeyondCapacityGet503AtOnceAndTheServiceStaysUp) {
    pg_cluster pg;
    ASSERT_TRUE(pg.started()) << pg.log();
    service_process svc({.env = service_env(pg.url(), {{"SWITCHBOARD_QUEUE_CAPACITY", "2"},
                                                       {"SWITCHBOARD_ACK_TIMEOUT_MS", "3000"},
                                                       {"SWITCHBOARD_RETRY_AFTER_S", "7"}})});
    ASSERT_NE(svc.port(), 0);
    ASSERT_EQ(wait_for_status(svc.port(), "/readyz", 200, 10s), 200u);
    ASSERT_TRUE(pg.stop(/*immediate=*/true));

    const auto first = post_concurrently(svc.port(), "full-", 8);
    std::vector<std::string> admitted;
    int refused_fast = 0;
    for (const auto& r : first) {
        EXPECT_EQ(r.reply.status, 503u) << r.call_id << ": " << r.reply.body << r.reply.error;
        EXPECT_EQ(r.reply.headers.count("retry-after") ? r.reply.headers.at("retry-after") : "",
                  "7");
        if (r.latency < 1000ms) {
            ++refused_fast;
            const auto error = json_error_text(r.reply.body);
            EXPECT_TRUE(error && error->find("queue is full") != std::string::npos) << r.reply.body;
        } else {
            // Admitted: waited for the commit until the ack timeout.
            EXPECT_GE(r.latency, 2900ms);
            admitted.push_back(r.call_id);
        }
    }
    EXPECT_EQ(refused_fast, 6);
    EXPECT_EQ(admitted.size(), 2u);
    ASSERT_TRUE(svc.running()) << svc.log();

    // Still full (the admitted events wait for the database): refused at once again.
    for (const auto& r : post_concurrently(svc.port(), "again-", 4)) {
        EXPECT_EQ(r.reply.status, 503u);
        EXPECT_LT(r.latency, 1000ms);
    }
    http_client client("127.0.0.1", svc.port(), 5s);
    EXPECT_EQ(client.get("/healthz").status, 200u);
    EXPECT_EQ(client.get("/readyz").status, 503u);
    const std::string metrics = scrape_metrics(svc.port());
    EXPECT_EQ(
        metric_value(metrics, R"(switchboard_webhooks_total{outcome="queue_full",type="hang"})"),
        10);
    EXPECT_EQ(metric_value(metrics, "switchboard_queue_depth"), 2);

    // A message a caller waits for still gets in (the queue's headroom for replies), and its
    // reply goes out after the commit wait.
    const auto asked = client.post(
        "/receive", with_call_id(example_file("01-assistant-request.json"), "full-reply"),
        secret_headers());
    EXPECT_EQ(asked.status, 200u) << asked.body;

    // The database comes back: the two admitted events are written, the queue empties, and
    // webhooks are accepted again.
    ASSERT_TRUE(pg.start()) << pg.log();
    EXPECT_EQ(wait_for_status(svc.port(), "/readyz", 200, 15s), 200u);
    EXPECT_EQ(client.post("/receive", small_webhook("full-after"), secret_headers()).status, 200u);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
    const auto stored =
        query_column(pg.url(), "SELECT string_agg(call_id, ',' ORDER BY call_id) FROM call_events");
    std::sort(admitted.begin(), admitted.end());
    ASSERT_EQ(stored.size(), 1u);
    EXPECT_EQ(stored[0], (admitted.size() == 2 ? admitted[0] + "," + admitted[1] + "," : "") +
                             "full-after,full-reply");
}

}  // namespace
}  // namespace switchboard::test
