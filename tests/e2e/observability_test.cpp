// /healthz, /readyz (including a real Postgres outage on a dedicated cluster) and /metrics
// (content, and Prometheus' own linter).
#include "support/e2e.hpp"
#include "support/examples.hpp"
#include "support/http_client.hpp"
#include "support/pg_cluster.hpp"
#include "support/service_process.hpp"
#include "support/test_db.hpp"
#include "support/webhooks.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <sys/wait.h>

#include <unistd.h>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace switchboard::test {
namespace {

using namespace std::chrono_literals;

/// A member of a JSON object body, serialized ("<missing>" when absent or not an object).
std::string field(const std::string& body, const char* key) {
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    if (ec || !v.is_object()) return "<not an object: " + body + ">";
    const auto* member = v.as_object().if_contains(key);
    return member != nullptr ? boost::json::serialize(*member) : "<missing>";
}

/// GET /readyz until its JSON says `writers` writers are connected (bounded).
http_reply wait_for_writers(std::uint16_t port, int writers, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    http_reply reply;
    for (;;) {
        http_client client("127.0.0.1", port, 5s);
        reply = client.get("/readyz");
        if (field(reply.body, "postgres_writers_connected") == std::to_string(writers) ||
            std::chrono::steady_clock::now() > deadline) {
            return reply;
        }
        std::this_thread::sleep_for(50ms);
    }
}

TEST(Observability, HealthzAnswers200) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    auto reply = client.get("/healthz");
    EXPECT_EQ(reply.status, 200u);
    EXPECT_EQ(reply.headers["content-type"], "application/json");
    EXPECT_EQ(field(reply.body, "status"), "\"ok\"");
    EXPECT_EQ(client.get("/healthz?verbose=1").status, 200u);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(Observability, ReadyzAnswers200WhenPostgresIsReachable) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    const auto reply = wait_for_writers(svc.port(), 2, 10s);
    EXPECT_EQ(reply.status, 200u) << reply.body;
    EXPECT_EQ(field(reply.body, "status"), "\"ready\"");
    EXPECT_EQ(field(reply.body, "postgres_writers_connected"), "2");
    EXPECT_EQ(field(reply.body, "queue_saturated"), "false");
    EXPECT_EQ(field(reply.body, "shutting_down"), "false");
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

// Readiness must follow the database even when no webhook arrives: a load balancer should
// stop routing to an instance whose Postgres is gone, and route to it again once it is back.
TEST(Observability, ReadyzIs503WhilePostgresIsDownAndRecovers) {
    pg_cluster pg;
    ASSERT_TRUE(pg.started()) << pg.log();
    service_process svc({.env = service_env(pg.url())});
    ASSERT_NE(svc.port(), 0);
    EXPECT_EQ(wait_for_status(svc.port(), "/readyz", 200, 10s), 200u);

    ASSERT_TRUE(pg.stop(/*immediate=*/true));
    EXPECT_EQ(wait_for_status(svc.port(), "/readyz", 503, 10s), 503u);
    http_client client("127.0.0.1", svc.port(), 5s);
    auto reply = client.get("/readyz");
    EXPECT_EQ(reply.status, 503u);
    EXPECT_EQ(field(reply.body, "status"), "\"not ready\"");
    EXPECT_EQ(field(reply.body, "postgres_writers_connected"), "0");
    EXPECT_EQ(client.get("/healthz").status, 200u) << "liveness must not depend on Postgres";

    ASSERT_TRUE(pg.start()) << pg.log();
    EXPECT_EQ(wait_for_status(svc.port(), "/readyz", 200, 15s), 200u);
    EXPECT_EQ(client.post("/receive", small_webhook("after-outage"), secret_headers()).status,
              200u);
    EXPECT_EQ(query_column(pg.url(),
                           "SELECT count(*) FROM call_events WHERE call_id = "
                           "'after-outage'"),
              std::vector<std::string>{"1"});
    EXPECT_GE(
        metric_value(scrape_metrics(svc.port()), "switchboard_pg_reconnects_total").value_or(0), 1);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

// A writer connected to a Postgres that commits nothing (here: the table locked) looks healthy
// by its connection; switchboard_commit_stalled_seconds and /readyz's commit_stalled_seconds
// show how long the admitted events have waited, and go back to 0 once commits resume.
TEST(Observability, AStallOfTheCommitsIsShown) {
    test_db db;
    db.migrate();
    service_process svc({.env = service_env(db.url(), {{"SWITCHBOARD_ACK_TIMEOUT_MS", "1000"}})});
    ASSERT_NE(svc.port(), 0);
    auto stalled = [&] {
        return metric_value(scrape_metrics(svc.port()), "switchboard_commit_stalled_seconds")
            .value_or(-1);
    };
    EXPECT_EQ(stalled(), 0);
    std::string error;
    auto holder = store::pg_connection::connect(db.url(), 10s, error);
    ASSERT_TRUE(holder) << error;
    ASSERT_FALSE(holder->exec("BEGIN"));
    ASSERT_FALSE(holder->exec("LOCK TABLE call_events IN ACCESS EXCLUSIVE MODE"));
    http_client client("127.0.0.1", svc.port(), 5s);
    EXPECT_EQ(client.post("/receive", small_webhook("stalled-1"), secret_headers()).status, 503u);
    std::this_thread::sleep_for(500ms);
    EXPECT_GE(stalled(), 1.4);
    const auto ready = client.get("/readyz");
    EXPECT_GE(std::stod(field(ready.body, "commit_stalled_seconds")), 1.4) << ready.body;
    ASSERT_FALSE(holder->exec("COMMIT"));
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (stalled() != 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(stalled(), 0);
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events WHERE call_id = 'stalled-1'"), "1");
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(Observability, MetricsExposeTheServiceSeries) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    ASSERT_EQ(
        client.post("/receive", example_file("02-status-update-queued.json"), secret_headers())
            .status,
        200u);
    ASSERT_EQ(client.post("/receive", "{", secret_headers()).status, 400u);
    auto reply = client.get("/metrics");
    ASSERT_EQ(reply.status, 200u);
    EXPECT_EQ(reply.headers["content-type"].rfind("text/plain", 0), 0u)
        << reply.headers["content-type"];
    const std::string& m = reply.body;
    for (const char* name :
         {"switchboard_webhooks_total", "switchboard_queue_depth",
          "switchboard_batch_commit_seconds", "switchboard_webhook_ack_latency_seconds",
          "switchboard_pg_reconnects_total", "switchboard_http_responses_total",
          "switchboard_events_inserted_total"}) {
        EXPECT_NE(m.find(std::string("# TYPE ") + name + " "), std::string::npos) << name;
    }
    EXPECT_EQ(
        metric_value(m, R"(switchboard_webhooks_total{outcome="stored",type="status-update"})"), 1);
    EXPECT_EQ(metric_value(m, R"(switchboard_webhooks_total{outcome="invalid",type="unknown"})"),
              1);
    EXPECT_EQ(metric_value(m, "switchboard_webhook_ack_latency_seconds_count"), 1);
    EXPECT_GE(metric_value(m, "switchboard_batch_commit_seconds_count").value_or(0), 1);
    EXPECT_EQ(metric_value(m, "switchboard_events_inserted_total"), 1);
    EXPECT_EQ(metric_value(m, "switchboard_queue_depth"), 0);
    EXPECT_EQ(metric_value(m, "switchboard_pg_reconnects_total"), 0);
    EXPECT_EQ(metric_value(m, R"(switchboard_http_responses_total{code="400"})"), 1);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

// A webhook sent again after its acknowledgement (a sender that retries) is answered 200 from
// the writer's memory: no second row, and Postgres never sees it (the row's xmax would change:
// ON CONFLICT DO UPDATE locks the row it keeps).
TEST(Observability, ARepeatedWebhookIsAnsweredWithoutReachingPostgres) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    const std::string report = example_file("12-end-of-call-report.json");
    ASSERT_EQ(client.post("/receive", report, secret_headers()).status, 200u);
    const std::string row = "SELECT count(*) || ' ' || max(xmax::text) FROM call_events";
    const std::string first = db.scalar(row);
    EXPECT_EQ(first.substr(0, 2), "1 ") << first;
    ASSERT_EQ(client.post("/receive", report, secret_headers()).status, 200u);
    EXPECT_EQ(db.scalar(row), first);
    const std::string m = client.get("/metrics").body;
    EXPECT_EQ(metric_value(m, "switchboard_events_repeat_total"), 1);
    EXPECT_EQ(metric_value(m, "switchboard_events_duplicate_total"), 1);
    EXPECT_EQ(metric_value(m, "switchboard_events_inserted_total"), 1);
    EXPECT_EQ(metric_value(
                  m, R"(switchboard_webhooks_total{outcome="stored",type="end-of-call-report"})"),
              2);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(Observability, MetricsPassPromtoolCheck) {
    // promtool comes from Debian's `prometheus` package (scripts/deps.sh --test). A missing
    // linter is a broken test environment, not a reason to skip.
    ASSERT_EQ(std::system("command -v promtool >/dev/null 2>&1"), 0)
        << "promtool not found: install it with scripts/deps.sh --test";
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    // Touch every kind of series: stored, refused, unauthorized, 404.
    EXPECT_EQ(client.post("/receive", example_file("12-end-of-call-report.json"), secret_headers())
                  .status,
              200u);
    EXPECT_EQ(client.post("/receive", "{}", secret_headers()).status, 400u);
    EXPECT_EQ(client.post("/receive", "{}").status, 401u);
    EXPECT_EQ(client.get("/nope").status, 404u);
    const std::string metrics = scrape_metrics(svc.port());
    ASSERT_FALSE(metrics.empty());

    const std::string out = "/tmp/sbtest-promtool-" + std::to_string(::getpid()) + ".txt";
    FILE* pipe = ::popen(("promtool check metrics >'" + out + "' 2>&1").c_str(), "w");
    ASSERT_NE(pipe, nullptr);
    std::fwrite(metrics.data(), 1, metrics.size(), pipe);
    const int status = ::pclose(pipe);
    std::ifstream in(out);
    std::stringstream report;
    report << in.rdbuf();
    std::remove(out.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "promtool check metrics failed:\n"
                                                               << report.str();
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

}  // namespace
}  // namespace switchboard::test
