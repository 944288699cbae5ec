// SIGTERM: stop accepting, finish in-flight requests, drain the queue, exit 0 — and never
// acknowledge a webhook that is not stored.
#include "support/e2e.hpp"
#include "support/examples.hpp"
#include "support/http_client.hpp"
#include "support/load_driver.hpp"
#include "support/pg_cluster.hpp"
#include "support/service_process.hpp"
#include "support/test_db.hpp"
#include "support/webhooks.hpp"

#include "switchboard/store/pg.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <future>
#include <set>
#include <thread>

#include <unistd.h>

namespace switchboard::test {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

std::set<std::string> stored_ids(test_db& db, const std::string& prefix) {
    const auto ids =
        db.column("SELECT call_id FROM call_events WHERE call_id LIKE '" + prefix + "%'");
    return {ids.begin(), ids.end()};
}

TEST(Shutdown, SigtermUnderLoadExits0AndKeepsEveryAcknowledgedWebhook) {
    test_db db;
    // Batches wait up to 20 ms for more rows, so requests are in flight when SIGTERM arrives.
    service_process svc(
        {.env = service_env(db.url(), {{"SWITCHBOARD_BATCH_MAX_DELAY_US", "20000"}})});
    ASSERT_NE(svc.port(), 0);
    load_driver load({.port = svc.port(),
                      .threads = 6,
                      .body_template = example_file("05-speech-update.json"),
                      .headers = secret_headers(),
                      .id_prefix = "term",
                      .max_requests_per_thread = 5000,
                      .max_duration = 30s,
                      .client_timeout = 10s});
    load.start();
    const auto deadline = steady::now() + 10s;
    while (load.count(200) < 200 && steady::now() < deadline) std::this_thread::sleep_for(10ms);
    ASSERT_GE(load.count(200), 200u) << "no load before SIGTERM";

    load.set_phase(1);
    ASSERT_EQ(::kill(svc.pid(), SIGTERM), 0);
    const int code = svc.wait(30s);
    load.set_phase(2);
    std::this_thread::sleep_for(300ms);  // requests against the exited process
    load.stop();
    EXPECT_EQ(code, 0) << svc.log();
    EXPECT_NE(svc.log().find("stopped cleanly"), std::string::npos) << svc.log();

    const auto stored = stored_ids(db, "term-");
    std::size_t ok = 0, missing = 0, during = 0, after_exit = 0;
    for (const auto& r : load.records()) {
        if (r.status == 200) {
            ++ok;
            if (stored.count(r.call_id) == 0 && ++missing <= 5) {
                ADD_FAILURE() << "acknowledged but not stored: " << r.call_id << " (phase "
                              << r.phase_at_send << ")";
            }
        } else if (r.status != 0) {
            // A response during shutdown may only be a refusal to retry later.
            EXPECT_EQ(r.status, 503u) << r.call_id;
        }
        if (r.phase_at_send == 1) ++during;
        if (r.phase_at_send == 2) {
            ++after_exit;
            EXPECT_EQ(r.status, 0u) << "answered after the process exited?";
            EXPECT_FALSE(r.error.empty());
        }
    }
    EXPECT_EQ(missing, 0u) << "of " << ok;
    EXPECT_GE(after_exit, 1u) << "the load did not outlive the process";
    std::printf(
        "sigterm: %zu acknowledged (all stored), %zu sent during shutdown, %zu after exit\n", ok,
        during, after_exit);
}

// Requests waiting for a slow commit when SIGTERM arrives are answered 200 once the commit
// happens, and the process then exits 0 with everything stored.
TEST(Shutdown, SigtermWaitsForInFlightWebhooks) {
    test_db db;
    service_process svc({.env = service_env(db.url(), {{"SWITCHBOARD_ACK_TIMEOUT_MS", "8000"}})});
    ASSERT_NE(svc.port(), 0);
    EXPECT_EQ(wait_for_status(svc.port(), "/readyz", 200, 10s), 200u);

    // Hold a lock that makes every batch wait.
    std::string error;
    auto locker = store::pg_connection::connect(db.url(), 10s, error);
    ASSERT_TRUE(locker) << error;
    ASSERT_FALSE(locker->exec("BEGIN; LOCK TABLE call_events IN ACCESS EXCLUSIVE MODE"));

    std::vector<std::future<http_reply>> replies;
    for (int i = 0; i < 3; ++i) {
        replies.push_back(std::async(std::launch::async, [port = svc.port(), i] {
            http_client client("127.0.0.1", port, 20s);
            return client.post("/receive", small_webhook("inflight-" + std::to_string(i)),
                               secret_headers());
        }));
    }
    // All three are admitted and waiting.
    const auto deadline = steady::now() + 5s;
    while (steady::now() < deadline &&
           metric_value(scrape_metrics(svc.port()), "switchboard_queue_depth") != 3) {
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(metric_value(scrape_metrics(svc.port()), "switchboard_queue_depth"), 3);
    ASSERT_EQ(::kill(svc.pid(), SIGTERM), 0);
    std::this_thread::sleep_for(500ms);
    EXPECT_TRUE(svc.running()) << "exited with webhooks in flight";
    // New connections are refused once shutdown began.
    http_client late("127.0.0.1", svc.port(), 2s);
    EXPECT_EQ(late.get("/healthz").status, 0u);

    ASSERT_FALSE(locker->exec("COMMIT"));
    for (auto& f : replies) {
        const auto reply = f.get();
        EXPECT_EQ(reply.status, 200u) << reply.body << reply.error;
        EXPECT_FALSE(reply.keep_alive) << "a response during shutdown should close the connection";
    }
    EXPECT_EQ(svc.wait(20s), 0) << svc.log();
    EXPECT_EQ(stored_ids(db, "inflight-").size(), 3u);
}

// With Postgres down, SIGTERM cannot drain the queue: after the shutdown timeout the process
// gives the unwritten events up and says so with exit code 1 (no --spool-dir here).
TEST(Shutdown, SigtermWithPostgresDownGivesUpAfterTheShutdownTimeout) {
    pg_cluster pg;
    ASSERT_TRUE(pg.started()) << pg.log();
    service_process svc({.env = service_env(pg.url(), {{"SWITCHBOARD_ACK_TIMEOUT_MS", "300"},
                                                       {"SWITCHBOARD_SHUTDOWN_TIMEOUT_S", "2"}})});
    ASSERT_NE(svc.port(), 0);
    ASSERT_TRUE(pg.stop(/*immediate=*/true));
    http_client client("127.0.0.1", svc.port(), 10s);
    for (int i = 0; i < 3; ++i) {
        const auto reply =
            client.post("/receive", small_webhook("doomed-" + std::to_string(i)), secret_headers());
        EXPECT_EQ(reply.status, 503u) << reply.body << reply.error;
    }
    const auto started = steady::now();
    const int code = svc.stop(SIGTERM, 20s);
    const auto took = steady::now() - started;
    EXPECT_EQ(code, 1) << svc.log();
    EXPECT_GE(took, 1500ms) << "gave up before the shutdown timeout";
    EXPECT_LT(took, 8s) << "did not give up after the shutdown timeout";
    EXPECT_NE(svc.log().find("stopped with unwritten events"), std::string::npos) << svc.log();
    EXPECT_NE(svc.log().find("events=3"), std::string::npos) << svc.log();
}

// A Postgres that holds the writer's statement (here: a lock on call_events) does not hold
// the stop past the shutdown timeout. What could not be written goes to the spool, an
// assistant-request answered before its commit included, and the next start writes it.
TEST(Shutdown, WhatAStopGivesUpIsSpooledAndWrittenAtTheNextStart) {
    test_db db;
    db.migrate();
    const std::string dir = ::testing::TempDir() + "sb-spool-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    const auto env = service_env(db.url(), {{"SWITCHBOARD_ACK_TIMEOUT_MS", "1000"},
                                            {"SWITCHBOARD_SHUTDOWN_TIMEOUT_S", "2"},
                                            {"SWITCHBOARD_SPOOL_DIR", dir}});
    std::string error;
    auto holder = store::pg_connection::connect(db.url(), 10s, error);
    ASSERT_TRUE(holder) << error;
    {
        service_process svc({.env = env});
        ASSERT_NE(svc.port(), 0);
        ASSERT_FALSE(holder->exec("BEGIN"));
        ASSERT_FALSE(holder->exec("LOCK TABLE call_events IN ACCESS EXCLUSIVE MODE"));
        http_client client("127.0.0.1", svc.port(), 10s);
        // Answered after --reply-commit-wait-ms without its commit.
        const auto replied = client.post(
            "/receive", with_call_id(example_file("01-assistant-request.json"), "spooled-reply"),
            secret_headers());
        EXPECT_EQ(replied.status, 200u) << replied.body;
        EXPECT_EQ(client.post("/receive", small_webhook("spooled-503"), secret_headers()).status,
                  503u);
        const auto started = steady::now();
        EXPECT_EQ(svc.stop(SIGTERM, 30s), 0) << svc.log();
        EXPECT_LT(steady::now() - started, 10s) << "the stop waited for the lock";
        EXPECT_NE(svc.log().find("kept in the spool"), std::string::npos) << svc.log();
    }
    // The backend that ran the writer's batch notices its client gone (abort_connections) and
    // ends: were it still waiting for the lock, it would commit the batch once the lock goes.
    const auto orphans_by = steady::now() + 10s;
    const std::string waiting =
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND datname = current_database()";
    while (db.scalar(waiting) != "0" && steady::now() < orphans_by) {
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(db.scalar(waiting), "0") << "a backend of the stopped service still waits";
    ASSERT_FALSE(holder->exec("ROLLBACK"));
    EXPECT_TRUE(std::filesystem::exists(dir + "/switchboard.spool"));
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events"), "0");

    service_process again({.env = env});
    ASSERT_NE(again.port(), 0);
    const auto deadline = steady::now() + 15s;
    while (db.scalar("SELECT count(*) FROM call_events") != "2" && steady::now() < deadline) {
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(db.scalar("SELECT string_agg(call_id, ',' ORDER BY call_id) FROM call_events"),
              "spooled-503,spooled-reply");
    while ((std::filesystem::exists(dir + "/switchboard.spool.replaying") ||
            std::filesystem::exists(dir + "/switchboard.spool")) &&
           steady::now() < deadline) {
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_FALSE(std::filesystem::exists(dir + "/switchboard.spool.replaying"));
    EXPECT_FALSE(std::filesystem::exists(dir + "/switchboard.spool"));
    EXPECT_NE(again.log().find("spool: replayed"), std::string::npos) << again.log();
    EXPECT_EQ(again.stop(SIGTERM), 0) << again.log();
    std::filesystem::remove_all(dir);
}

// --shutdown-delay-ms: after the signal the instance reports itself unready while it still
// serves, so that a load balancer stops sending before the port closes; then the usual drain.
TEST(Shutdown, TheShutdownDelayIsUnreadyButStillServing) {
    test_db db;
    service_process svc(
        {.env = service_env(db.url(), {{"SWITCHBOARD_SHUTDOWN_DELAY_MS", "2000"}})});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port(), 5s);
    EXPECT_EQ(client.get("/readyz").status, 200u);
    const auto signalled = steady::now();
    ::kill(svc.pid(), SIGTERM);
    std::this_thread::sleep_for(300ms);
    const auto ready = client.get("/readyz");
    EXPECT_EQ(ready.status, 503u) << ready.body;
    EXPECT_NE(ready.body.find("\"shutting_down\":true"), std::string::npos) << ready.body;
    // A new connection is still accepted, and its webhook committed.
    http_client fresh("127.0.0.1", svc.port(), 5s);
    EXPECT_EQ(fresh.post("/receive", small_webhook("during-delay"), secret_headers()).status, 200u);
    EXPECT_LT(steady::now() - signalled, 1500ms) << "the checks above came too late";
    EXPECT_EQ(svc.wait(20s), 0) << svc.log();
    EXPECT_GE(steady::now() - signalled, 1900ms) << "the listener closed before the delay";
    EXPECT_EQ(stored_ids(db, "during-delay"), std::set<std::string>{"during-delay"});
}

// A stop keeps one deadline, from the signal: a spool replay waiting for Postgres does not hold
// the drain, and the writers get what is left of the shutdown timeout, not a second one. SIGHUP
// (a terminal that closes) stops the service like SIGTERM; the spool stays for the next start.
TEST(Shutdown, AStopDuringAReplayHeldByPostgresKeepsItsDeadline) {
    test_db db;
    db.migrate();
    const std::string dir = ::testing::TempDir() + "sb-spool-hup-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    const auto env = service_env(db.url(), {{"SWITCHBOARD_ACK_TIMEOUT_MS", "500"},
                                            {"SWITCHBOARD_SHUTDOWN_TIMEOUT_S", "5"},
                                            {"SWITCHBOARD_SPOOL_DIR", dir}});
    std::string error;
    auto holder = store::pg_connection::connect(db.url(), 10s, error);
    ASSERT_TRUE(holder) << error;
    ASSERT_FALSE(holder->exec("BEGIN"));
    ASSERT_FALSE(holder->exec("LOCK TABLE call_events IN ACCESS EXCLUSIVE MODE"));
    {
        service_process svc({.env = env});
        ASSERT_NE(svc.port(), 0);
        http_client client("127.0.0.1", svc.port(), 10s);
        EXPECT_EQ(client.post("/receive", small_webhook("held-1"), secret_headers()).status, 503u);
        EXPECT_EQ(svc.stop(SIGTERM, 30s), 0) << svc.log();
    }
    ASSERT_TRUE(std::filesystem::exists(dir + "/switchboard.spool"));
    {
        // The lock is still held: the replay's events wait in the queue when the stop comes.
        service_process svc({.env = env});
        ASSERT_NE(svc.port(), 0);
        const auto replaying_by = steady::now() + 10s;
        while (svc.log().find("spool: writing what the last stop kept") == std::string::npos &&
               steady::now() < replaying_by) {
            std::this_thread::sleep_for(20ms);
        }
        const auto started = steady::now();
        EXPECT_EQ(svc.stop(SIGHUP, 30s), 0) << svc.log();
        const auto took = steady::now() - started;
        EXPECT_LT(took, 8500ms) << "the stop took the shutdown timeout twice\n" << svc.log();
        EXPECT_NE(svc.log().find("kept in the spool"), std::string::npos) << svc.log();
    }
    ASSERT_FALSE(holder->exec("ROLLBACK"));
    service_process again({.env = env});
    ASSERT_NE(again.port(), 0);
    const auto deadline = steady::now() + 15s;
    while (db.scalar("SELECT count(*) FROM call_events") != "1" && steady::now() < deadline) {
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(db.scalar("SELECT string_agg(call_id, ',') FROM call_events"), "held-1");
    EXPECT_EQ(again.stop(SIGTERM), 0) << again.log();
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace switchboard::test
