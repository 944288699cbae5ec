// Replies to the Vapi messages that expect one, end to end: the real binary, a real Postgres and
// a real relay handler over loopback (the project's own http::server inside the test). Every
// reply body the service sends here is checked against the Vapi SDK types with
// ../shared/vapi/check-conformance.sh (skipped, with a message, only when npm is missing).
#include "switchboard/http/response.hpp"
#include "switchboard/http/router.hpp"
#include "switchboard/http/server.hpp"

#include "support/e2e.hpp"
#include "support/examples.hpp"
#include "support/http_client.hpp"
#include "support/pg_cluster.hpp"
#include "support/service_process.hpp"
#include "support/test_db.hpp"
#include "support/webhooks.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

namespace switchboard::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using steady = std::chrono::steady_clock;
namespace asio = boost::asio;
namespace json = boost::json;

const std::string k_relay_secret = "relay-secret";

/// Writes each reply as NN-<type>.response.json into a temporary folder and checks them all
/// against the SDK types at the end of the test.
class conformance_check {
  public:
    conformance_check() {
        dir_ = std::filesystem::temp_directory_path() /
               ("sb-replies-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
        std::filesystem::create_directories(dir_);
    }
    ~conformance_check() { std::filesystem::remove_all(dir_); }

    void add(const std::string& type, const std::string& body) {
        char name[16];
        std::snprintf(name, sizeof name, "%02d-", ++files_);
        std::ofstream(dir_ / (name + type + ".response.json"), std::ios::binary) << body;
    }

    /// Runs the script on every reply added; fails the test when one does not conform.
    void verify() {
        if (files_ == 0) return;
        if (std::system("command -v npm >/dev/null 2>&1") != 0) {
            GTEST_SKIP() << "npm is not installed: the " << files_
                         << " replies were not checked against the Vapi SDK types";
        }
        const std::string script =
            std::string(SWITCHBOARD_EXAMPLES_DIR) + "/../check-conformance.sh";
        const std::string cmd = "bash '" + script + "' '" + dir_.string() + "' 2>&1";
        std::string output;
        FILE* p = ::popen(cmd.c_str(), "r");
        ASSERT_NE(p, nullptr);
        char buf[4096];
        while (std::fgets(buf, sizeof buf, p) != nullptr) output += buf;
        const int status = ::pclose(p);
        EXPECT_EQ(status, 0) << output;
        EXPECT_THAT(output, HasSubstr("match the Vapi SDK 2.0.1 types")) << output;
    }

  private:
    static int& counter() {
        static int n = 0;
        return n;
    }
    std::filesystem::path dir_;
    int files_ = 0;
};

/// "08-tool-calls.json" → "tool-calls"
std::string type_of_file(const std::string& file) {
    const auto dash = file.find('-');
    return file.substr(dash + 1, file.size() - dash - 1 - 5);
}

/// Posts an example (with its own call id) and records the reply for the conformance check.
http_reply post_example(http_client& client, conformance_check& check, const std::string& file,
                        const std::string& call_id) {
    const std::string body = with_call_id(example_file(file), call_id);
    auto reply = client.post("/receive", body, secret_headers());
    if (reply.status == 200) check.add(type_of_file(file), reply.body);
    return reply;
}

json::value js(const std::string& text) {
    json::error_code ec;
    auto v = json::parse(text, ec);
    if (ec) return json::string("<not JSON: " + text + ">");
    return v;
}

double metric(std::uint16_t port, const std::string& series) {
    return metric_value(scrape_metrics(port), series).value_or(-1);
}

std::string replies_series(const std::string& type, const std::string& outcome) {
    return R"(switchboard_replies_total{outcome=")" + outcome + R"(",type=")" + type + R"("})";
}

/// Posts `file` until the reply satisfies `want` or `timeout` passes; returns the last reply.
template <class Pred>
http_reply post_until(http_client& client, const std::string& file, Pred want,
                      std::chrono::milliseconds timeout, int& attempt) {
    const auto deadline = steady::now() + timeout;
    http_reply reply;
    for (;;) {
        reply = client.post("/receive",
                            with_call_id(example_file(file), "poll-" + std::to_string(++attempt)),
                            secret_headers());
        if (want(reply) || steady::now() > deadline) return reply;
        std::this_thread::sleep_for(20ms);
    }
}

// --- a relay handler ---------------------------------------------------------------------------

/// The user's handler, played by the project's http::server on 127.0.0.1:0 with its own
/// io_context thread. Paths: /ok answers the example reply of the message's type; /slow the
/// same after 3 s; /fail 500; /notjson 200 text; /badresults {"results":{}}; /array [1,2].
class relay_handler {
  public:
    struct received {
        std::string target;
        std::string body;
        std::string secret;
        std::string content_type;
    };

    relay_handler() {
        cfg_.listen_host = "127.0.0.1";
        cfg_.listen_port = 0;
        cfg_.io_threads = 1;
        using http::verb;
        routes_.add(verb::post, "/ok", [this](http::request& req) { return ok(req, 0ms); });
        routes_.add(verb::post, "/slow", [this](http::request& req) { return ok(req, 3s); });
        routes_.add(verb::post, "/fail", [this](http::request& req) {
            return canned(req, http::status::internal_server_error, R"({"error":"boom"})");
        });
        routes_.add(verb::post, "/notjson", [this](http::request& req) {
            return canned(req, http::status::ok, "hello, not JSON");
        });
        routes_.add(verb::post, "/badresults", [this](http::request& req) {
            return canned(req, http::status::ok, R"({"results":{"not":"an array"}})");
        });
        routes_.add(verb::post, "/array",
                    [this](http::request& req) { return canned(req, http::status::ok, "[1,2]"); });
        server_ = std::make_unique<http::server>(ioc_, cfg_, routes_, reg_);
        port_ = server_->start().port();
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~relay_handler() {
        server_->stop();
        ioc_.stop();
        thread_.join();
    }

    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }

    std::vector<received> requests() const {
        std::lock_guard lock(mutex_);
        return requests_;
    }

    /// The example reply for the type of a webhook body.
    static std::string example_reply(const std::string& body) {
        const auto type = std::string(js(body).at("message").at("type").as_string());
        for (const char* file : {"08-tool-calls", "15-transfer-destination-request",
                                 "16-handoff-destination-request", "17-knowledge-base-request"}) {
            if (type_of_file(std::string(file) + ".json") == type) {
                return example_file(std::string(file) + ".response.json");
            }
        }
        return "{}";
    }

  private:
    void record(const http::request& req) {
        std::lock_guard lock(mutex_);
        requests_.push_back({std::string(req.target()), req.body(),
                             std::string(req[k_secret_header]),
                             std::string(req[boost::beast::http::field::content_type])});
    }

    asio::awaitable<http::response> ok(http::request& req, std::chrono::milliseconds delay) {
        record(req);
        if (delay.count() > 0) {
            asio::steady_timer timer(co_await asio::this_coro::executor, delay);
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        co_return http::json_response(http::status::ok, example_reply(req.body()), req.version());
    }

    asio::awaitable<http::response> canned(http::request& req, http::status code,
                                           std::string body) {
        record(req);
        co_return http::json_response(code, std::move(body), req.version());
    }

    static constexpr const char* k_secret_header = "X-Vapi-Secret";
    config::http_config cfg_;
    http::router routes_;
    metrics::registry reg_;
    asio::io_context ioc_;
    std::unique_ptr<http::server> server_;
    std::uint16_t port_ = 0;
    std::thread thread_;
    mutable std::mutex mutex_;
    std::vector<received> requests_;
};

/// A TCP port on 127.0.0.1 that nothing listens on (bound, then closed).
std::uint16_t closed_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

const std::vector<std::string> k_relayed = {
    "08-tool-calls.json", "15-transfer-destination-request.json",
    "16-handoff-destination-request.json", "17-knowledge-base-request.json"};

// --- assistant-request ---------------------------------------------------------------------------

std::string phone_number_id_of_example() {
    return std::string(js(example_file("01-assistant-request.json"))
                           .at("message")
                           .at("call")
                           .at("phoneNumberId")
                           .as_string());
}

TEST(Replies, AssistantRequestFollowsThePhoneNumbersTable) {
    test_db db;
    service_process svc(
        {.env = service_env(db.url(), {{"SWITCHBOARD_DEFAULT_ASSISTANT_ID", "asst-default"}})});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    conformance_check check;
    const std::string file = "01-assistant-request.json";
    const std::string pn = phone_number_id_of_example();
    int n = 0;

    auto reply = post_example(client, check, file, "ar-" + std::to_string(++n));
    ASSERT_EQ(reply.status, 200u) << reply.body << reply.error;
    EXPECT_EQ(js(reply.body), js(R"({"assistantId":"asst-default"})"));

    // A new row routes the number: the change is announced and picked up within a moment.
    auto changed = [&](const std::string& want) {
        return [want](const http_reply& r) { return r.status == 200 && js(r.body) == js(want); };
    };
    auto t0 = steady::now();
    db.exec("INSERT INTO phone_numbers (id, number, provider, assistant_id) VALUES ('" + pn +
            "', '+14155550123', 'twilio', 'asst-routed')");
    reply = post_until(client, file, changed(R"({"assistantId":"asst-routed"})"), 3s, n);
    EXPECT_EQ(js(reply.body), js(R"({"assistantId":"asst-routed"})"));
    EXPECT_LT(steady::now() - t0, 3s);
    check.add("assistant-request", reply.body);

    db.exec(
        "UPDATE phone_numbers SET assistant_id = NULL, workflow_id = 'wf-1', "
        "updated_at = now() WHERE id = '" +
        pn + "'");
    reply = post_until(client, file, changed(R"({"workflowId":"wf-1"})"), 3s, n);
    EXPECT_EQ(js(reply.body), js(R"({"workflowId":"wf-1"})"));
    check.add("assistant-request", reply.body);

    db.exec("UPDATE phone_numbers SET workflow_id = NULL, squad_id = 'squad-1' WHERE id = '" + pn +
            "'");
    reply = post_until(client, file, changed(R"({"squadId":"squad-1"})"), 3s, n);
    EXPECT_EQ(js(reply.body), js(R"({"squadId":"squad-1"})"));
    check.add("assistant-request", reply.body);

    // An operator changes the row's id (and number): the old id loses its route at once, not at
    // the next full reload. Then back.
    db.exec("UPDATE phone_numbers SET id = 'pn-renamed', number = '+10000000000' WHERE id = '" +
            pn + "'");
    reply = post_until(client, file, changed(R"({"assistantId":"asst-default"})"), 3s, n);
    EXPECT_EQ(js(reply.body), js(R"({"assistantId":"asst-default"})"));
    check.add("assistant-request", reply.body);
    db.exec("UPDATE phone_numbers SET id = '" + pn +
            "', number = '+14155550123' WHERE id = 'pn-renamed'");
    reply = post_until(client, file, changed(R"({"squadId":"squad-1"})"), 3s, n);
    EXPECT_EQ(js(reply.body), js(R"({"squadId":"squad-1"})"));

    // Deleting the row falls back to the default.
    db.exec("DELETE FROM phone_numbers WHERE id = '" + pn + "'");
    reply = post_until(client, file, changed(R"({"assistantId":"asst-default"})"), 3s, n);
    EXPECT_EQ(js(reply.body), js(R"({"assistantId":"asst-default"})"));
    check.add("assistant-request", reply.body);

    // Every assistant-request was stored (one per call id) and counted by outcome.
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events WHERE type = 'assistant-request'"),
              std::to_string(n));
    const auto port = svc.port();
    EXPECT_GE(metric(port, replies_series("assistant-request", "routed")), 3);
    EXPECT_GE(metric(port, replies_series("assistant-request", "default")), 2);
    EXPECT_EQ(metric(port, replies_series("assistant-request", "unrouted")), 0);
    EXPECT_EQ(metric(port, "switchboard_routing_connected"), 1);
    EXPECT_GE(metric(port, R"(switchboard_routing_reloads_total{kind="changed_rows"})"), 4);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
    check.verify();
}

TEST(Replies, AssistantRequestRoutesByNumberOrSpeaksTheConfiguredError) {
    test_db db;
    db.migrate();
    // Loaded at start-up: routed by the number, since the row's id is another one.
    db.exec(
        "INSERT INTO phone_numbers (id, number, workflow_id) VALUES "
        "('pn-by-number', '+14155550123', 'wf-number')");
    service_process svc({.env = service_env(db.url(), {{"SWITCHBOARD_UNROUTED_MESSAGE",
                                                        "Sorry, we are closed. Goodbye."}})});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    conformance_check check;
    auto reply = post_example(client, check, "01-assistant-request.json", "by-number");
    ASSERT_EQ(reply.status, 200u) << reply.body;
    EXPECT_EQ(js(reply.body), js(R"({"workflowId":"wf-number"})"));

    // Another number, no default: the caller hears the configured message.
    std::string other = with_call_id(example_file("01-assistant-request.json"), "unrouted");
    for (std::size_t at = other.find("+14155550123"); at != std::string::npos;
         at = other.find("+14155550123")) {
        other.replace(at, 12, "+14155550999");
    }
    const std::string pn = phone_number_id_of_example();
    other.replace(other.find(pn), pn.size(), "pn-unknown");
    reply = client.post("/receive", other, secret_headers());
    ASSERT_EQ(reply.status, 200u) << reply.body;
    EXPECT_EQ(js(reply.body), js(R"({"error":"Sorry, we are closed. Goodbye."})"));
    check.add("assistant-request", reply.body);
    EXPECT_EQ(metric(svc.port(), replies_series("assistant-request", "unrouted")), 1);
    EXPECT_EQ(metric(svc.port(), "switchboard_routing_numbers"), 1);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
    check.verify();
}

// An operator's UPDATE in SQL makes its row the most recently updated of its number, and a
// TRUNCATE takes every route out of every process (schemas/sql/019).
TEST(Replies, OperatorsUpdatesAndTruncateReachTheRoutes) {
    test_db db;
    db.migrate();
    // Two rows of the example's number, neither with the example's phoneNumberId.
    db.exec(
        "INSERT INTO phone_numbers (id, number, assistant_id, updated_at) VALUES "
        "('pn-newer', '+14155550123', 'asst-newer', now() - interval '1 day'), "
        "('pn-older', '+14155550123', 'asst-older', now() - interval '2 days')");
    service_process svc(
        {.env = service_env(db.url(), {{"SWITCHBOARD_DEFAULT_ASSISTANT_ID", "asst-default"}})});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    const std::string file = "01-assistant-request.json";
    int n = 0;
    auto routed_to = [](const std::string& id) {
        return [id](const http_reply& r) {
            return r.status == 200 && js(r.body) == js(R"({"assistantId":")" + id + R"("})");
        };
    };
    EXPECT_EQ(js(post_until(client, file, routed_to("asst-newer"), 3s, n).body),
              js(R"({"assistantId":"asst-newer"})"));
    db.exec("UPDATE phone_numbers SET assistant_id = 'asst-older-2' WHERE id = 'pn-older'");
    EXPECT_EQ(js(post_until(client, file, routed_to("asst-older-2"), 3s, n).body),
              js(R"({"assistantId":"asst-older-2"})"));
    EXPECT_EQ(db.scalar("SELECT updated_at > now() - interval '1 minute' FROM phone_numbers"
                        " WHERE id = 'pn-older'"),
              "t");
    db.exec("TRUNCATE phone_numbers");
    EXPECT_EQ(js(post_until(client, file, routed_to("asst-default"), 3s, n).body),
              js(R"({"assistantId":"asst-default"})"));
    EXPECT_EQ(metric(svc.port(), "switchboard_routing_numbers"), 0);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(Replies, RoutingCacheReconnectsAfterPostgresRestart) {
    pg_cluster pg;
    ASSERT_TRUE(pg.started()) << pg.log();
    service_process svc({.env = service_env(pg.url())});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    conformance_check check;
    const std::string pn = phone_number_id_of_example();
    const std::string file = "01-assistant-request.json";
    int n = 0;
    auto routed_to = [](const std::string& id) {
        return [id](const http_reply& r) {
            return r.status == 200 && js(r.body) == js(R"({"assistantId":")" + id + R"("})");
        };
    };

    query_column(pg.url(), "INSERT INTO phone_numbers (id, assistant_id) VALUES ('" + pn +
                               "', 'before-restart')");
    auto reply = post_until(client, file, routed_to("before-restart"), 3s, n);
    EXPECT_EQ(js(reply.body), js(R"({"assistantId":"before-restart"})")) << reply.body;
    check.add("assistant-request", reply.body);

    ASSERT_TRUE(pg.stop(/*immediate=*/true));
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(metric(svc.port(), "switchboard_routing_connected"), 0);
    ASSERT_TRUE(pg.start()) << pg.log();
    // Changed at once, possibly before the listener is back: the reload after reconnecting (or
    // the notification) must bring it in.
    query_column(pg.url(),
                 "UPDATE phone_numbers SET assistant_id = 'after-restart' WHERE id = '" + pn + "'");
    reply = post_until(client, file, routed_to("after-restart"), 15s, n);
    EXPECT_EQ(js(reply.body), js(R"({"assistantId":"after-restart"})")) << reply.body;
    check.add("assistant-request", reply.body);

    // And it listens again: a later change arrives by notification.
    const auto deadline = steady::now() + 10s;
    while (metric(svc.port(), "switchboard_routing_connected") != 1 && steady::now() < deadline) {
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(metric(svc.port(), "switchboard_routing_connected"), 1);
    query_column(pg.url(),
                 "UPDATE phone_numbers SET assistant_id = 'notified' WHERE id = '" + pn + "'");
    reply = post_until(client, file, routed_to("notified"), 3s, n);
    EXPECT_EQ(js(reply.body), js(R"({"assistantId":"notified"})")) << reply.body;
    EXPECT_GE(metric(svc.port(), R"(switchboard_routing_reloads_total{kind="full"})"), 2);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
    check.verify();
}

// A change announced while the listener (re)loads the table reaches libpq during the load: it
// must be applied then, not left in libpq's queue until some later notification wakes the
// listener. The table is held so that the listener's load waits, and the change is announced
// and released under it.
TEST(Replies, AChangeAnnouncedWhileTheTableLoadsIsApplied) {
    test_db db;
    db.migrate();
    const std::string pn = phone_number_id_of_example();
    db.exec("INSERT INTO phone_numbers (id, assistant_id) VALUES ('" + pn + "', 'before')");
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    const std::string changed_rows = R"(switchboard_routing_reloads_total{kind="changed_rows"})";
    auto wait_for = [&](const std::string& series, double want) {
        const auto deadline = steady::now() + 10s;
        while (metric(svc.port(), series) != want && steady::now() < deadline) {
            std::this_thread::sleep_for(20ms);
        }
        return metric(svc.port(), series);
    };
    ASSERT_EQ(wait_for("switchboard_routing_connected", 1), 1);
    const double before = metric(svc.port(), changed_rows);

    std::string error;
    auto holder = store::pg_connection::connect(db.url(), 10s, error);
    ASSERT_TRUE(holder) << error;
    ASSERT_FALSE(holder->exec("BEGIN"));
    ASSERT_FALSE(holder->exec("LOCK TABLE phone_numbers IN ACCESS EXCLUSIVE MODE"));
    const std::string listener =
        " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND query LIKE 'SELECT id, number, %'";
    ASSERT_EQ(db.scalar("SELECT count(pg_terminate_backend(pid))" + listener), "1");
    // The listener reconnects, listens, and its load waits for the table.
    const auto deadline = steady::now() + 10s;
    while (db.scalar("SELECT count(*)" + listener + " AND wait_event_type = 'Lock'") != "1" &&
           steady::now() < deadline) {
        std::this_thread::sleep_for(20ms);
    }
    ASSERT_EQ(db.scalar("SELECT count(*)" + listener + " AND wait_event_type = 'Lock'"), "1");
    ASSERT_FALSE(holder->exec(
        ("UPDATE phone_numbers SET assistant_id = 'during-load' WHERE id = '" + pn + "'").c_str()));
    ASSERT_FALSE(holder->exec("COMMIT"));

    // The announcement arrived with the load's result: it is acted on without another one.
    EXPECT_EQ(wait_for(changed_rows, before + 1), before + 1);
    http_client client("127.0.0.1", svc.port());
    const auto reply = client.post(
        "/receive", with_call_id(example_file("01-assistant-request.json"), "during-load-1"),
        secret_headers());
    EXPECT_EQ(js(reply.body), js(R"({"assistantId":"during-load"})")) << reply.body;
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

// A caller is on the line: with Postgres down, the reply still goes out once
// --reply-commit-wait-ms has passed (not a 503 after the 5 s ack timeout), and the message is
// written when Postgres is back.
TEST(Replies, AssistantRequestIsAnsweredWhilePostgresIsDown) {
    pg_cluster pg;
    ASSERT_TRUE(pg.started()) << pg.log();
    service_process svc(
        {.env = service_env(pg.url(), {{"SWITCHBOARD_REPLY_COMMIT_WAIT_MS", "300"}})});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    const std::string file = "01-assistant-request.json";
    query_column(pg.url(), "INSERT INTO phone_numbers (id, assistant_id) VALUES ('" +
                               phone_number_id_of_example() + "', 'asst-1')");
    auto routed = [](const http_reply& r) {
        return r.status == 200 && js(r.body) == js(R"({"assistantId":"asst-1"})");
    };
    int n = 0;
    ASSERT_TRUE(routed(post_until(client, file, routed, 3s, n)));

    ASSERT_TRUE(pg.stop(/*immediate=*/true));
    const auto t0 = steady::now();
    const auto reply =
        client.post("/receive", with_call_id(example_file(file), "while-down"), secret_headers());
    const auto took = steady::now() - t0;
    EXPECT_TRUE(routed(reply)) << reply.status << " " << reply.body << reply.error;
    EXPECT_GE(took, 250ms);  // the commit was waited for first
    EXPECT_LT(took, 3s);     // but not for the ack timeout
    EXPECT_EQ(
        metric(
            svc.port(),
            R"(switchboard_webhooks_total{outcome="replied_uncommitted",type="assistant-request"})"),
        1);

    ASSERT_TRUE(pg.start()) << pg.log();
    std::string stored = "0";
    for (const auto deadline = steady::now() + 20s; stored != "1" && steady::now() < deadline;) {
        std::this_thread::sleep_for(100ms);
        const auto rows =
            query_column(pg.url(), "SELECT count(*) FROM call_events WHERE call_id = 'while-down'");
        if (!rows.empty()) stored = rows[0];
    }
    EXPECT_EQ(stored, "1") << svc.log();
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

// --- relayed types -------------------------------------------------------------------------------

TEST(Replies, RelayPassesTheHandlersReplyThrough) {
    relay_handler handler;
    test_db db;
    service_process svc(
        {.env = service_env(db.url(), {{"SWITCHBOARD_RELAY_URL", handler.url("/ok")},
                                       {"SWITCHBOARD_KNOWLEDGE_BASE_URL", handler.url("/ok?kb")},
                                       {"SWITCHBOARD_RELAY_SECRET", k_relay_secret}})});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    conformance_check check;
    std::vector<std::string> sent;
    for (const auto& file : k_relayed) {
        const std::string call = "relay-" + type_of_file(file);
        sent.push_back(with_call_id(example_file(file), call));
        auto reply = post_example(client, check, file, call);
        ASSERT_EQ(reply.status, 200u) << file << ": " << reply.body << reply.error;
        EXPECT_EQ(reply.headers["content-type"], "application/json");
        // The handler's reply, byte for byte.
        EXPECT_EQ(reply.body, relay_handler::example_reply(sent.back())) << file;
        EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events WHERE call_id = '" + call + "'"), "1")
            << file;
    }
    // The handler got each body unchanged, as JSON, with the relay secret; the knowledge base
    // went to its own URL.
    const auto got = handler.requests();
    ASSERT_EQ(got.size(), sent.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].body, sent[i]) << k_relayed[i];
        EXPECT_EQ(got[i].secret, k_relay_secret);
        EXPECT_EQ(got[i].content_type, "application/json");
        EXPECT_EQ(got[i].target, i == 3 ? "/ok?kb" : "/ok") << k_relayed[i];
    }
    EXPECT_EQ(metric(svc.port(), replies_series("tool-calls", "relayed")), 1);
    EXPECT_EQ(metric(svc.port(), replies_series("knowledge-base-request", "relayed")), 1);
    EXPECT_EQ(metric(svc.port(), R"(switchboard_relay_latency_seconds_count{type="tool-calls"})"),
              1);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
    check.verify();
}

// A relayed message delivered again (a retry by Vapi's backoffPlan or a proxy, a replayed
// request) gets the first delivery's reply without calling the handler again, also while the
// first is still being relayed; a failed relay is not remembered.
TEST(Replies, ARelayedMessageDeliveredAgainRunsTheHandlerOnce) {
    relay_handler handler;
    test_db db;
    service_process svc(
        {.env = service_env(db.url(), {{"SWITCHBOARD_RELAY_URL", handler.url("/ok")}})});
    ASSERT_NE(svc.port(), 0);
    const std::string body = with_call_id(example_file("08-tool-calls.json"), "once-1");
    http_client client("127.0.0.1", svc.port());
    const auto first = client.post("/receive", body, secret_headers());
    const auto again = client.post("/receive", body, secret_headers());
    ASSERT_EQ(first.status, 200u) << first.body;
    EXPECT_EQ(again.status, 200u) << again.body;
    EXPECT_EQ(again.body, first.body);
    EXPECT_EQ(handler.requests().size(), 1u);
    EXPECT_EQ(metric(svc.port(), "switchboard_relay_repeats_total"), 1);
    // Another call's message with the same tool call is another message.
    EXPECT_EQ(client
                  .post("/receive", with_call_id(example_file("08-tool-calls.json"), "once-2"),
                        secret_headers())
                  .status,
              200u);
    EXPECT_EQ(handler.requests().size(), 2u);
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events WHERE call_id LIKE 'once-%'"), "2");
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(Replies, ADeliveryDuringTheFirstsRelayWaitsForItsReply) {
    relay_handler handler;
    test_db db;
    service_process svc(
        {.env = service_env(db.url(), {{"SWITCHBOARD_RELAY_URL", handler.url("/slow")},
                                       {"SWITCHBOARD_RELAY_TIMEOUT_MS", "8000"},
                                       {"SWITCHBOARD_ACK_TIMEOUT_MS", "10000"},
                                       {"SWITCHBOARD_REPLY_COMMIT_WAIT_MS", "10000"}})});
    ASSERT_NE(svc.port(), 0);
    const std::string body = with_call_id(example_file("08-tool-calls.json"), "overlap-1");
    auto post = [&] {
        http_client client("127.0.0.1", svc.port(), 15s);
        return client.post("/receive", body, secret_headers());
    };
    auto a = std::async(std::launch::async, post);
    std::this_thread::sleep_for(300ms);
    auto b = std::async(std::launch::async, post);
    const auto ra = a.get();
    const auto rb = b.get();
    EXPECT_EQ(ra.status, 200u) << ra.body;
    EXPECT_EQ(rb.status, 200u) << rb.body;
    EXPECT_EQ(ra.body, rb.body);
    EXPECT_EQ(handler.requests().size(), 1u);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(Replies, AFailedRelayIsNotRemembered) {
    relay_handler handler;
    test_db db;
    service_process svc(
        {.env = service_env(db.url(), {{"SWITCHBOARD_RELAY_URL", handler.url("/fail")}})});
    ASSERT_NE(svc.port(), 0);
    const std::string body = with_call_id(example_file("08-tool-calls.json"), "failed-1");
    http_client client("127.0.0.1", svc.port());
    EXPECT_EQ(client.post("/receive", body, secret_headers()).status, 200u);  // an error reply
    EXPECT_EQ(client.post("/receive", body, secret_headers()).status, 200u);
    EXPECT_EQ(handler.requests().size(), 2u);
    EXPECT_EQ(metric(svc.port(), "switchboard_relay_repeats_total"), 0);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

// A message whose data Postgres refuses is not stored; a reply made meanwhile is still sent
// (the handler may have acted on it), and the refusal of another message does not show
// Postgres' own words (they are in the service's log).
TEST(Replies, AMessagePostgresRefusesStillGetsItsReply) {
    relay_handler handler;
    test_db db;
    service_process svc(
        {.env = service_env(db.url(), {{"SWITCHBOARD_RELAY_URL", handler.url("/ok")}})});
    ASSERT_NE(svc.port(), 0);
    db.exec(
        "CREATE FUNCTION refuse_some() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.call_id LIKE 'refused-%' THEN RAISE check_violation USING MESSAGE = "
        "'refused by the test'; END IF; RETURN NEW; END $$");
    db.exec(
        "CREATE TRIGGER refuse_some BEFORE INSERT ON call_events FOR EACH ROW "
        "EXECUTE FUNCTION refuse_some()");
    http_client client("127.0.0.1", svc.port());
    const std::string tool_calls = with_call_id(example_file("08-tool-calls.json"), "refused-1");
    const auto replied = client.post("/receive", tool_calls, secret_headers());
    EXPECT_EQ(replied.status, 200u) << replied.body;
    EXPECT_EQ(replied.body, relay_handler::example_reply(tool_calls));
    const auto refused = client.post("/receive", small_webhook("refused-2"), secret_headers());
    EXPECT_EQ(refused.status, 422u) << refused.body;
    EXPECT_EQ(refused.body.find("refused by the test"), std::string::npos) << refused.body;
    EXPECT_EQ(refused.body.find("CONTEXT"), std::string::npos) << refused.body;
    EXPECT_NE(svc.log().find("refused by the test"), std::string::npos) << svc.log();
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events WHERE call_id LIKE 'refused-%'"), "0");
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(Replies, RelayTimeoutGivesAnErrorReplyWithinTheDeadline) {
    relay_handler handler;
    test_db db;
    service_process svc(
        {.env = service_env(db.url(), {{"SWITCHBOARD_RELAY_URL", handler.url("/slow")},
                                       {"SWITCHBOARD_RELAY_TIMEOUT_MS", "400"}})});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    conformance_check check;
    for (const auto& file : k_relayed) {
        const auto t0 = steady::now();
        auto reply = post_example(client, check, file, "slow-" + type_of_file(file));
        const auto elapsed = steady::now() - t0;
        ASSERT_EQ(reply.status, 200u) << file << ": " << reply.body << reply.error;
        EXPECT_GE(elapsed, 380ms) << file;
        EXPECT_LT(elapsed, 1500ms) << file;  // the handler would take 3 s
        const auto v = js(reply.body);
        if (file.starts_with("08")) {
            ASSERT_TRUE(v.at("results").is_array()) << reply.body;
            const auto& r = v.at("results").at(0);
            EXPECT_EQ(r.at("toolCallId"), "call_Xq4mB7nR2tL9vK1pZ8wD3hYc");
            EXPECT_EQ(r.at("name"), "checkAvailability");
            EXPECT_THAT(std::string(r.at("error").as_string()),
                        HasSubstr("no answer within 400 ms"));
        } else if (file.starts_with("17")) {
            EXPECT_EQ(v, js(R"({"documents":[]})"));
        } else {
            EXPECT_THAT(std::string(v.at("error").as_string()), HasSubstr("no answer within"));
        }
        EXPECT_EQ(metric(svc.port(), replies_series(type_of_file(file), "relay_timeout")), 1)
            << file;
    }
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events WHERE call_id LIKE 'slow-%'"), "4");
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
    check.verify();
}

TEST(Replies, RelayFailuresGiveErrorReplies) {
    relay_handler handler;
    test_db db;
    const std::string unreachable = "http://127.0.0.1:" + std::to_string(closed_port()) + "/x";
    service_process svc(
        {.env = service_env(db.url(),
                            {{"SWITCHBOARD_TOOL_CALLS_URL", handler.url("/badresults")},
                             {"SWITCHBOARD_TRANSFER_DESTINATION_URL", handler.url("/fail")},
                             {"SWITCHBOARD_HANDOFF_DESTINATION_URL", handler.url("/notjson")},
                             {"SWITCHBOARD_KNOWLEDGE_BASE_URL", unreachable}})});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    conformance_check check;
    struct expectation {
        std::string file, outcome, says;
    };
    for (const auto& e : std::vector<expectation>{
             {"08-tool-calls.json", "relay_invalid", "is not an array"},
             {"15-transfer-destination-request.json", "relay_failed", "answered HTTP 500"},
             {"16-handoff-destination-request.json", "relay_invalid", "not JSON"},
             {"17-knowledge-base-request.json", "relay_failed", ""}}) {
        auto reply = post_example(client, check, e.file, "fail-" + type_of_file(e.file));
        ASSERT_EQ(reply.status, 200u) << e.file << ": " << reply.body << reply.error;
        EXPECT_THAT(reply.body, HasSubstr(e.says)) << e.file;
        EXPECT_EQ(metric(svc.port(), replies_series(type_of_file(e.file), e.outcome)), 1) << e.file;
    }
    // Each failure was one attempt (no retry).
    EXPECT_EQ(handler.requests().size(), 3u);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
    check.verify();
}

TEST(Replies, ToolCallsHandlerReplyThatIsNotAnObjectIsRefused) {
    relay_handler handler;
    test_db db;
    service_process svc(
        {.env = service_env(db.url(), {{"SWITCHBOARD_RELAY_URL", handler.url("/array")}})});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    conformance_check check;
    auto reply = post_example(client, check, "08-tool-calls.json", "array-reply");
    ASSERT_EQ(reply.status, 200u) << reply.body;
    EXPECT_THAT(reply.body, HasSubstr("not a JSON object"));
    EXPECT_EQ(metric(svc.port(), replies_series("tool-calls", "relay_invalid")), 1);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
    check.verify();
}

// --- configured replies, no handler, voice-request ---------------------------------------------

TEST(Replies, ConfiguredRepliesAndNoHandlerReplies) {
    test_db db;
    service_process svc(
        {.env = service_env(db.url(), {{"SWITCHBOARD_ENDPOINTING_TIMEOUT_SECONDS", "1.2"},
                                       {"SWITCHBOARD_PREDIAL_ELIGIBLE", "false"}})});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    conformance_check check;
    auto reply = post_example(client, check, "18-call.endpointing.request.json", "ep");
    ASSERT_EQ(reply.status, 200u) << reply.body;
    EXPECT_EQ(reply.body, R"({"timeoutSeconds":1.2})");
    reply = post_example(client, check, "19-campaign.predial.json", "predial");
    ASSERT_EQ(reply.status, 200u) << reply.body;
    EXPECT_EQ(reply.body, R"({"eligible":false})");

    for (const auto& file : k_relayed) {
        reply = post_example(client, check, file, "nohandler-" + type_of_file(file));
        ASSERT_EQ(reply.status, 200u) << file << ": " << reply.body;
        if (!file.starts_with("17")) {
            EXPECT_THAT(reply.body, HasSubstr("handler is configured"));
        }
        EXPECT_EQ(metric(svc.port(), replies_series(type_of_file(file), "no_handler")), 1) << file;
    }
    EXPECT_EQ(js(reply.body), js(R"({"documents":[]})"));
    EXPECT_EQ(metric(svc.port(), replies_series("call.endpointing.request", "configured")), 1);
    // Non-reply types still answer {}.
    EXPECT_EQ(client.post("/receive", example_file("09-hang.json"), secret_headers()).body, "{}");
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
    check.verify();
}

TEST(Replies, VoiceRequestIsStoredThenRefused) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    const std::string body = example_file("20-voice-request.json");
    for (int round = 0; round < 2; ++round) {
        auto reply = client.post("/receive", body, secret_headers());
        EXPECT_EQ(reply.status, 422u) << reply.body;
        EXPECT_EQ(reply.headers["content-type"], "application/json");
        EXPECT_THAT(json_error_text(reply.body).value_or(""),
                    HasSubstr("does not synthesize audio"));
    }
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events WHERE type = 'voice-request'"), "1");
    EXPECT_EQ(metric(svc.port(), replies_series("voice-request", "refused")), 2);
    EXPECT_EQ(
        metric(svc.port(), R"(switchboard_webhooks_total{outcome="stored",type="voice-request"})"),
        2);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

}  // namespace
}  // namespace switchboard::test
