// Slow and idle clients: a request that stalls half-way is cut off by the read timeout, an idle
// keep-alive connection by the idle timeout, and neither holds up other clients.
#include "support/e2e.hpp"
#include "support/http_client.hpp"
#include "support/raw_connection.hpp"
#include "support/service_process.hpp"
#include "support/test_db.hpp"
#include "support/webhooks.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::test {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

bool starts_with(const std::string& s, std::string_view prefix) {
    return s.rfind(prefix, 0) == 0;
}

const std::string k_partial_header = "POST /receive HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vapi-Secret: ";

std::string partial_body_request() {
    const std::string body = small_webhook("never-finished", "hang", 2000);
    return "POST /receive HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vapi-Secret: " + k_secret +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body.substr(0, 100);
}

std::chrono::milliseconds since(steady::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t);
}

/// The service with a read timeout and an idle timeout (ms).
template <int ReadMs, int IdleMs>
class WithTimeouts : public ::testing::Test {
  protected:
    void SetUp() override {
        svc_ = std::make_unique<service_process>(service_process::options{
            .env =
                service_env(db_.url(), {{"SWITCHBOARD_READ_TIMEOUT_MS", std::to_string(ReadMs)},
                                        {"SWITCHBOARD_IDLE_TIMEOUT_MS", std::to_string(IdleMs)}})});
        ASSERT_NE(svc_->port(), 0);
    }
    void TearDown() override {
        if (svc_) {
            EXPECT_EQ(svc_->stop(SIGTERM), 0) << svc_->log();
        }
    }
    test_db db_;
    std::unique_ptr<service_process> svc_;
};

// Read timeout 300 ms, idle timeout 10 s: a stalled request must be cut off by the former.
using SlowClients = WithTimeouts<300, 10000>;

// beast::tcp_stream closes the socket when its deadline expires: the client sees the connection
// close, without an answer (a 408 could not be sent).
TEST_F(SlowClients, StallInTheBodyIsDisconnected) {
    raw_connection conn(svc_->port());
    ASSERT_TRUE(conn.connected());
    const auto started = steady::now();
    ASSERT_TRUE(conn.send(partial_body_request()));
    const auto r = conn.read_until_closed(5s);
    const auto took = since(started);
    EXPECT_TRUE(r.closed) << r.data;
    EXPECT_TRUE(r.data.empty()) << r.data;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 3s);
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM call_events"), "0");
}

TEST_F(SlowClients, StallInTheHeaderIsDisconnectedByTheReadTimeout) {
    raw_connection conn(svc_->port());
    ASSERT_TRUE(conn.connected());
    const auto started = steady::now();
    ASSERT_TRUE(conn.send(k_partial_header));
    const auto r = conn.read_until_closed(8s);
    const auto took = since(started);
    EXPECT_TRUE(r.closed) << "still open after " << took.count() << " ms";
    EXPECT_TRUE(r.data.empty()) << r.data;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 3s) << "a partial header was held for the idle timeout, not the read timeout";
}

// The read timeout is one deadline for the whole request: a header and a body that each come
// within it, but not together, are cut off (not given a second deadline for the body).
TEST_F(SlowClients, TheHeaderAndTheBodyShareOneDeadline) {
    const std::string body = small_webhook("two-deadlines", "hang", 2000);
    const std::string header =
        "POST /receive HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vapi-Secret: " + k_secret +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n";
    raw_connection conn(svc_->port());
    ASSERT_TRUE(conn.connected());
    const auto started = steady::now();
    ASSERT_TRUE(conn.send(header.substr(0, 20)));
    std::this_thread::sleep_for(200ms);
    ASSERT_TRUE(conn.send(header.substr(20) + body.substr(0, 100)));
    std::this_thread::sleep_for(200ms);  // 400 ms since the first byte: past the 300 ms
    conn.send(body.substr(100), 1s);
    const auto r = conn.read_until_closed(5s);
    EXPECT_TRUE(r.closed) << r.data;
    EXPECT_TRUE(r.data.empty()) << r.data;
    EXPECT_LT(since(started), 3s);
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM call_events"), "0");
}

// A client dribbling its header one byte at a time does not get a new deadline per byte.
TEST_F(SlowClients, DribblingClientIsCutOffByTheReadTimeout) {
    raw_connection conn(svc_->port());
    ASSERT_TRUE(conn.connected());
    const auto started = steady::now();
    bool closed = false;
    for (std::size_t i = 0; i < k_partial_header.size() && since(started) < 5s; ++i) {
        if (!conn.send(k_partial_header.substr(i, 1), 1s)) {
            closed = true;
            break;
        }
        const auto r = conn.read_until_closed(100ms);
        if (r.closed) {
            closed = true;
            break;
        }
    }
    if (!closed) closed = conn.read_until_closed(3s).closed;
    EXPECT_TRUE(closed);
    EXPECT_LT(since(started), 3s);
}

TEST_F(SlowClients, OtherClientsAreServedWhileManyConnectionsStall) {
    std::vector<std::unique_ptr<raw_connection>> stalled;
    for (int i = 0; i < 20; ++i) {
        auto c = std::make_unique<raw_connection>(svc_->port());
        ASSERT_TRUE(c->connected());
        ASSERT_TRUE(c->send(i % 2 == 0 ? k_partial_header : partial_body_request()));
        stalled.push_back(std::move(c));
    }
    {
        http_client client("127.0.0.1", svc_->port(), 5s);
        for (int i = 0; i < 10; ++i) {
            const auto started = steady::now();
            auto reply = client.post("/receive", small_webhook("served-" + std::to_string(i)),
                                     secret_headers());
            EXPECT_EQ(reply.status, 200u) << reply.body << reply.error;
            EXPECT_LT(since(started), 1s);
            EXPECT_EQ(client.get("/healthz").status, 200u);
        }
    }  // closes the client's keep-alive connection
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM call_events WHERE call_id LIKE 'served-%'"), "10");
    // Every stalled connection is closed by the server, and none is left open.
    for (auto& c : stalled) EXPECT_TRUE(c->read_until_closed(5s).closed);
    const auto deadline = steady::now() + 3s;
    std::optional<double> open;
    do {
        open = metric_value(scrape_metrics(svc_->port()), "switchboard_http_connections");
    } while (open != 1 && steady::now() < deadline);
    EXPECT_EQ(open, 1) << "only the scraping connection should be open";
}

// Idle timeout 500 ms, read timeout 10 s.
using IdleClients = WithTimeouts<10000, 500>;

TEST_F(IdleClients, IdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
    raw_connection conn(svc_->port());
    ASSERT_TRUE(conn.connected());
    ASSERT_TRUE(conn.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    auto r = conn.read_until(R"({"status":"ok"})", 5s);
    ASSERT_TRUE(starts_with(r.data, "HTTP/1.1 200")) << r.data;
    EXPECT_EQ(r.data.find("Connection: close"), std::string::npos) << r.data;
    const auto idle_since = steady::now();
    r = conn.read_until_closed(5s);
    const auto took = since(idle_since);
    EXPECT_TRUE(r.closed);
    EXPECT_TRUE(r.data.empty()) << r.data;
    EXPECT_GE(took, 400ms);
    EXPECT_LT(took, 2500ms);
}

TEST_F(IdleClients, KeepAliveConnectionServesRequestsUntilItIsIdle) {
    raw_connection conn(svc_->port());
    ASSERT_TRUE(conn.connected());
    // Three requests, 300 ms apart (each pause shorter than the idle timeout): one connection.
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(conn.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")) << i;
        const auto r = conn.read_until(R"({"status":"ok"})", 5s);
        ASSERT_TRUE(starts_with(r.data, "HTTP/1.1 200")) << i << ": " << r.data;
        std::this_thread::sleep_for(300ms);
    }
    EXPECT_TRUE(conn.read_until_closed(3s).closed);
}

TEST_F(IdleClients, SilentConnectionIsClosedAfterTheIdleTimeout) {
    raw_connection conn(svc_->port());
    ASSERT_TRUE(conn.connected());
    const auto started = steady::now();
    const auto r = conn.read_until_closed(5s);
    EXPECT_TRUE(r.closed);
    EXPECT_TRUE(r.data.empty()) << r.data;
    EXPECT_LT(since(started), 2500ms);
    http_client client("127.0.0.1", svc_->port(), 5s);
    EXPECT_EQ(client.get("/healthz").status, 200u);
}

}  // namespace
}  // namespace switchboard::test
