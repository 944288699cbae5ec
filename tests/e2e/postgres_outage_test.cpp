// Durability under a Postgres outage: a dedicated cluster is stopped (immediate mode, like a
// crash) in the middle of concurrent load and started again. Every webhook answered 200 must be
// in call_events; while the database is down senders get 503 with Retry-After after the ack
// timeout; afterwards the service is ready again by itself.
#include "support/e2e.hpp"
#include "support/examples.hpp"
#include "support/load_driver.hpp"
#include "support/pg_cluster.hpp"
#include "support/service_process.hpp"
#include "support/test_db.hpp"
#include "support/webhooks.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <set>
#include <thread>

namespace switchboard::test {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

/// Waits (bounded) until `done()` holds.
template <class Pred>
bool wait_until(Pred done, std::chrono::milliseconds timeout) {
    const auto deadline = steady::now() + timeout;
    while (!done()) {
        if (steady::now() > deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

enum phase : int { before_outage, stopping, down, restarting, after_outage };

TEST(PostgresOutage, EveryAcknowledgedWebhookSurvivesAnOutageAndTheServiceRecovers) {
    pg_cluster pg;
    ASSERT_TRUE(pg.started()) << pg.log();
    service_process svc({.env = service_env(pg.url(), {{"SWITCHBOARD_ACK_TIMEOUT_MS", "500"},
                                                       {"SWITCHBOARD_RETRY_AFTER_S", "2"}})});
    ASSERT_NE(svc.port(), 0);

    load_driver load({.port = svc.port(),
                      .threads = 4,
                      .body_template = example_file("02-status-update-queued.json"),
                      .headers = secret_headers(),
                      .id_prefix = "outage",
                      .max_requests_per_thread = 5000,
                      .max_duration = 45s});
    load.start();
    EXPECT_TRUE(wait_until([&] { return load.count(200) >= 300; }, 15s)) << "no load before outage";

    load.set_phase(stopping);
    ASSERT_TRUE(pg.stop(/*immediate=*/true));
    load.set_phase(down);
    std::this_thread::sleep_for(1500ms);
    EXPECT_TRUE(wait_until([&] { return load.count(503, down) >= 4; }, 5s))
        << "no 503 while Postgres was down";
    EXPECT_EQ(wait_for_status(svc.port(), "/readyz", 503, 5s), 503u);
    ASSERT_TRUE(svc.running()) << svc.log();

    load.set_phase(restarting);
    ASSERT_TRUE(pg.start()) << pg.log();
    load.set_phase(after_outage);
    const std::size_t ok_before_restart = load.count(200);
    EXPECT_TRUE(wait_until([&] { return load.count(200, after_outage) >= 300; }, 20s))
        << "the service did not recover after Postgres came back";
    load.stop();
    EXPECT_GT(load.count(200), ok_before_restart);
    EXPECT_EQ(wait_for_status(svc.port(), "/readyz", 200, 10s), 200u);
    EXPECT_GE(
        metric_value(scrape_metrics(svc.port()), "switchboard_pg_reconnects_total").value_or(0), 1);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();

    // Every 200 has its row; 503s carried Retry-After and came after the ack timeout.
    const auto records = load.records();
    const auto stored_list =
        query_column(pg.url(), "SELECT call_id FROM call_events WHERE call_id LIKE 'outage-%'");
    const std::set<std::string> stored(stored_list.begin(), stored_list.end());
    EXPECT_EQ(stored.size(), stored_list.size()) << "a call id was stored twice";
    std::size_t ok = 0, unavailable = 0, missing = 0, other = 0;
    for (const auto& r : records) {
        if (r.status == 200) {
            ++ok;
            // Sent and answered while the server was stopped: nothing can have been committed.
            EXPECT_FALSE(r.phase_at_send == down && r.phase_at_reply == down)
                << r.call_id << " acknowledged while Postgres was down";
            if (stored.count(r.call_id) == 0) {
                if (++missing <= 5) ADD_FAILURE() << "acknowledged but not stored: " << r.call_id;
            }
        } else if (r.status == 503) {
            ++unavailable;
            EXPECT_TRUE(r.retry_after) << r.call_id;
            EXPECT_GE(r.latency, 450ms) << r.call_id << " answered 503 before the ack timeout";
        } else {
            ++other;
            if (other <= 5) ADD_FAILURE() << r.call_id << ": status " << r.status << " " << r.error;
        }
    }
    EXPECT_EQ(missing, 0u) << "of " << ok << " acknowledged webhooks";
    EXPECT_EQ(other, 0u);
    EXPECT_GE(unavailable, 4u);
    EXPECT_GE(stored.size(), ok);
    std::printf("outage: %zu requests, %zu acknowledged (all stored), %zu answered 503\n",
                records.size(), ok, unavailable);
}

}  // namespace
}  // namespace switchboard::test
