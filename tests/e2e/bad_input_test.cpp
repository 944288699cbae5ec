// Bad input end to end: malformed and incomplete JSON, bodies over (and exactly at) the limit
// with and without `Expect: 100-continue`, chunked bodies, unknown routes and methods, huge
// headers and raw garbage. Every refusal is a JSON error, nothing is stored, and the process
// stays up and healthy.
#include "support/e2e.hpp"
#include "support/examples.hpp"
#include "support/http_client.hpp"
#include "support/raw_connection.hpp"
#include "support/service_process.hpp"
#include "support/test_db.hpp"
#include "support/webhooks.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>

namespace switchboard::test {
namespace {

using namespace std::chrono_literals;

bool starts_with(const std::string& s, std::string_view prefix) {
    return s.rfind(prefix, 0) == 0;
}

/// The process is still running, answers /healthz, and still stores a normal webhook.
void expect_still_healthy(service_process& svc, test_db& db, const std::string& call_id) {
    ASSERT_TRUE(svc.running()) << svc.log();
    http_client client("127.0.0.1", svc.port(), 5s);
    EXPECT_EQ(client.get("/healthz").status, 200u);
    EXPECT_EQ(client.post("/receive", small_webhook(call_id), secret_headers()).status, 200u);
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events WHERE call_id = '" + call_id + "'"), "1");
}

void expect_json_error(const http_reply& reply, unsigned status, std::string_view fragment = {}) {
    EXPECT_EQ(reply.status, status) << reply.body << reply.error;
    EXPECT_EQ(reply.headers.count("content-type") ? reply.headers.at("content-type") : "",
              "application/json");
    const auto error = json_error_text(reply.body);
    ASSERT_TRUE(error.has_value()) << "not a JSON error body: " << reply.body;
    EXPECT_FALSE(error->empty());
    if (!fragment.empty()) {
        EXPECT_NE(error->find(fragment), std::string::npos) << *error;
    }
}

std::string post_head(std::size_t content_length, std::string_view extra = {}) {
    return "POST /receive HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           "X-Vapi-Secret: " +
           k_secret + "\r\n" + std::string(extra) +
           "Content-Length: " + std::to_string(content_length) + "\r\n\r\n";
}

TEST(BadInput, MalformedJsonIs400WithAJsonError) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    const std::pair<std::string, std::string_view> cases[] = {
        {R"({"message": {"type": "hang")", "malformed JSON"},
        {"not json at all", ""},
        {R"({"message": {"type": "hang", "call": {"id": "x"}}} {"extra": 1})", "trailing content"},
        {R"({"message": {"type": "hang", "n": 01}})", "malformed JSON"},
        {R"({"message": {"type": "hang", "s": "bad \x escape"}})", "malformed JSON"},
        {"{\"message\": {\"type\": \"hang\", \"s\": \"\xff\xfe\"}}", "malformed JSON"},
    };
    for (const auto& [body, fragment] : cases) {
        SCOPED_TRACE(body);
        expect_json_error(client.post("/receive", body, secret_headers()), 400, fragment);
    }
    expect_json_error(client.request("POST", "/receive", "", secret_headers()), 400);
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events"), "0");
    expect_still_healthy(svc, db, "after-malformed");
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(BadInput, MissingMessageOrTypeIs400) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    const std::pair<std::string, std::string_view> cases[] = {
        {"{}", "no \"message\""},
        {R"({"msg": {"type": "hang"}})", "no \"message\""},
        {R"({"message": [1, 2]})", "message must be a JSON object"},
        {R"({"message": "hang"})", "message must be a JSON object"},
        {R"([{"message": {"type": "hang"}}])", "must be a JSON object"},
        {R"({"message": {"timestamp": 1749737004100, "call": {"id": "x"}}})",
         "message.type is missing"},
        {R"({"message": {"type": "", "call": {"id": "x"}}})", "message.type is empty"},
        {R"({"message": {"type": 7, "call": {"id": "x"}}})", "message.type must be a string"},
    };
    for (const auto& [body, fragment] : cases) {
        SCOPED_TRACE(body);
        expect_json_error(client.post("/receive", body, secret_headers()), 400, fragment);
    }
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events"), "0");
    const std::string metrics = scrape_metrics(svc.port());
    EXPECT_EQ(
        metric_value(metrics, R"(switchboard_webhooks_total{outcome="invalid",type="unknown"})"),
        8);
    expect_still_healthy(svc, db, "after-missing");
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(BadInput, NineMebibyteBodyIs413) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    const std::string big = small_webhook("too-big", "hang", 9u << 20);
    expect_json_error(client.post("/receive", big, secret_headers()), 413, "exceeds 8388608");
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events"), "0");
    expect_still_healthy(svc, db, "after-413");
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

// With `Expect: 100-continue` the refusal must come before the body is sent, and without a
// "100 Continue" first: the client never has to upload 9 MiB to learn it is too large.
TEST(BadInput, NineMebibyteBodyWithExpectContinueIs413BeforeTheBody) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    raw_connection conn(svc.port());
    ASSERT_TRUE(conn.connected());
    ASSERT_TRUE(conn.send(post_head(9u << 20, "Expect: 100-continue\r\n")));
    const auto r = conn.read_until_closed(5s);
    EXPECT_FALSE(r.timed_out) << r.data;
    EXPECT_TRUE(starts_with(r.data, "HTTP/1.1 413")) << r.data;
    EXPECT_EQ(r.data.find("100 Continue"), std::string::npos) << r.data;
    EXPECT_NE(r.data.find("\"error\""), std::string::npos) << r.data;
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events"), "0");
    expect_still_healthy(svc, db, "after-413-expect");
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

class BodyLimit : public ::testing::Test {
  protected:
    static constexpr std::size_t k_limit = 4096;
    void SetUp() override {
        svc_ = std::make_unique<service_process>(service_process::options{
            .env =
                service_env(db_.url(), {{"SWITCHBOARD_MAX_BODY_BYTES", std::to_string(k_limit)}})});
        ASSERT_NE(svc_->port(), 0);
    }
    void TearDown() override {
        if (svc_) {
            expect_still_healthy(*svc_, db_, "after-limit");
            EXPECT_EQ(svc_->stop(SIGTERM), 0) << svc_->log();
        }
    }
    test_db db_;
    std::unique_ptr<service_process> svc_;
};

TEST_F(BodyLimit, BodyExactlyAtTheLimitIsStoredAndOneByteMoreIs413) {
    http_client client("127.0.0.1", svc_->port());
    const std::string at_limit = small_webhook("at-limit", "hang", k_limit);
    ASSERT_EQ(at_limit.size(), k_limit);
    EXPECT_EQ(client.post("/receive", at_limit, secret_headers()).status, 200u);
    const std::string under = small_webhook("under-limit", "hang", k_limit - 1);
    EXPECT_EQ(client.post("/receive", under, secret_headers()).status, 200u);
    const std::string over = small_webhook("over-limit", "hang", k_limit + 1);
    expect_json_error(client.post("/receive", over, secret_headers()), 413, "exceeds 4096");
    EXPECT_EQ(db_.scalar("SELECT string_agg(call_id, ',' ORDER BY call_id) FROM call_events"),
              "at-limit,under-limit");
    // The stored message is the whole body's message, padding included.
    EXPECT_EQ(db_.scalar("SELECT length(skeleton->>'pad') > 3900 FROM call_events WHERE call_id = "
                         "'at-limit'"),
              "t");
}

TEST_F(BodyLimit, ExpectContinueAtTheLimitGets100ThenIsStored) {
    raw_connection conn(svc_->port());
    ASSERT_TRUE(conn.connected());
    const std::string body = small_webhook("expect-ok", "hang", k_limit);
    ASSERT_TRUE(conn.send(post_head(body.size(), "Expect: 100-continue\r\n")));
    auto r = conn.read_until("\r\n\r\n", 5s);
    EXPECT_TRUE(starts_with(r.data, "HTTP/1.1 100 Continue")) << r.data;
    ASSERT_TRUE(conn.send(body));
    r = conn.read_until("{}", 10s);
    EXPECT_TRUE(starts_with(r.data, "HTTP/1.1 200")) << r.data;
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM call_events WHERE call_id = 'expect-ok'"), "1");
}

TEST_F(BodyLimit, ExpectContinueOverTheLimitIs413WithoutContinue) {
    raw_connection conn(svc_->port());
    ASSERT_TRUE(conn.connected());
    ASSERT_TRUE(conn.send(post_head(k_limit + 1, "Expect: 100-continue\r\n")));
    const auto r = conn.read_until_closed(5s);
    EXPECT_TRUE(starts_with(r.data, "HTTP/1.1 413")) << r.data;
    EXPECT_EQ(r.data.find("100 Continue"), std::string::npos) << r.data;
}

std::string chunked(const std::string& body, std::size_t chunk) {
    std::string out;
    for (std::size_t at = 0; at < body.size(); at += chunk) {
        const std::size_t n = std::min(chunk, body.size() - at);
        char size[32];
        std::snprintf(size, sizeof size, "%zx\r\n", n);
        out += size;
        out.append(body, at, n);
        out += "\r\n";
    }
    return out + "0\r\n\r\n";
}

// A chunked body has no length up front: the padded body grows as chunks arrive, and the limit
// applies to the total.
TEST_F(BodyLimit, ChunkedBodiesAreStoredUnderTheLimitAndRefusedOver) {
    const std::string head =
        "POST /receive HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "X-Vapi-Secret: " +
        k_secret + "\r\nTransfer-Encoding: chunked\r\n\r\n";
    {
        raw_connection conn(svc_->port());
        ASSERT_TRUE(conn.connected());
        ASSERT_TRUE(conn.send(head + chunked(small_webhook("chunked-ok", "hang", 3000), 700)));
        const auto r = conn.read_until("{}", 10s);
        EXPECT_TRUE(starts_with(r.data, "HTTP/1.1 200")) << r.data;
    }
    {
        raw_connection conn(svc_->port());
        ASSERT_TRUE(conn.connected());
        ASSERT_TRUE(conn.send(head + chunked(small_webhook("chunked-big", "hang", 6000), 1000)));
        const auto r = conn.read_until_closed(5s);
        EXPECT_TRUE(starts_with(r.data, "HTTP/1.1 413")) << r.data;
    }
    EXPECT_EQ(db_.scalar("SELECT string_agg(call_id, ',') FROM call_events"), "chunked-ok");
}

// Beast bounds a request's header block, and the body by the limit, but not a chunk extension
// or a trailer: those lines are bounded by the header limit, not left to grow in memory until
// the read timeout.
TEST_F(BodyLimit, ChunkExtensionsAndTrailersAreBounded) {
    const std::string head =
        "POST /receive HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "X-Vapi-Secret: " +
        k_secret + "\r\nTransfer-Encoding: chunked\r\n\r\n";
    const std::string endless(std::size_t{1} << 20, 'b');
    for (const std::string& start : {std::string("1;a="), std::string("1\r\nx\r\n0\r\nX-T: ")}) {
        SCOPED_TRACE(start);
        raw_connection conn(svc_->port());
        ASSERT_TRUE(conn.connected());
        ASSERT_TRUE(conn.send(head + start));
        conn.send(endless, 5s);  // the server may stop reading before all of it
        const auto r = conn.read_until_closed(5s);
        EXPECT_FALSE(r.timed_out) << "still reading: " << r.data.substr(0, 200);
        EXPECT_TRUE(starts_with(r.data, "HTTP/1.1 400")) << r.data.substr(0, 200);
        EXPECT_NE(r.data.find("a chunk header or trailer exceeds 16384 bytes"), std::string::npos)
            << r.data.substr(0, 400);
    }
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM call_events"), "0");
}

// Each open connection may hold a request body: beyond --max-connections a new one is answered
// 503 and closed, and the open ones are served as before.
TEST(BadInput, ConnectionsBeyondTheCapGet503) {
    test_db db;
    service_process svc({.env = service_env(db.url(), {{"SWITCHBOARD_MAX_CONNECTIONS", "2"}})});
    ASSERT_NE(svc.port(), 0);
    auto first = std::make_unique<raw_connection>(svc.port());
    raw_connection second(svc.port());
    ASSERT_TRUE(first->connected() && second.connected());
    // Both are accepted before the third arrives: each answers a request.
    for (raw_connection* c : {first.get(), &second}) {
        ASSERT_TRUE(c->send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
        EXPECT_TRUE(starts_with(c->read_until("\"ok\"", 5s).data, "HTTP/1.1 200"));
    }
    raw_connection third(svc.port());
    ASSERT_TRUE(third.connected());
    const auto refused = third.read_until_closed(5s);
    EXPECT_TRUE(starts_with(refused.data, "HTTP/1.1 503")) << refused.data;
    EXPECT_NE(refused.data.find("too many open connections"), std::string::npos) << refused.data;
    // Counted (asked on an open connection: a new one would be refused too).
    ASSERT_TRUE(second.send("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    const auto page = second.read_until_closed(5s).data;
    EXPECT_EQ(metric_value(page.substr(std::min(page.size(), page.find("\r\n\r\n") + 4)),
                           "switchboard_http_connections_refused_total"),
              1)
        << page.substr(0, 300);
    // One closes: a new connection is served again (once the server has seen the close).
    first.reset();
    bool served = false;
    for (int i = 0; i < 50 && !served; ++i) {
        raw_connection again(svc.port());
        again.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        served = starts_with(again.read_until_closed(5s).data, "HTTP/1.1 200");
        if (!served) std::this_thread::sleep_for(100ms);
    }
    EXPECT_TRUE(served);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

// Bodies over 64 KiB count against --max-body-memory, all connections together, by their
// declared length, from before they are read until their handler is done: one that would not
// fit gets 503 before it is read. Smaller ones and the bodies already admitted go on.
TEST(BadInput, LargeBodiesBeyondTheMemoryBudgetGet503) {
    test_db db;
    constexpr std::size_t k_large = 600'000;  // two do not fit in 1 MiB
    service_process svc(
        {.env = service_env(db.url(), {{"SWITCHBOARD_MAX_BODY_MEMORY", "1048576"},
                                       {"SWITCHBOARD_MAX_BODY_BYTES", "700000"},
                                       {"SWITCHBOARD_MAX_UPLOAD_BYTES", "65536"}})});
    ASSERT_NE(svc.port(), 0);
    auto held = [&] {
        return metric_value(scrape_metrics(svc.port()), "switchboard_http_body_memory_bytes");
    };
    const std::string body = small_webhook("large-first", "hang", k_large);
    ASSERT_EQ(body.size(), k_large);
    raw_connection first(svc.port());
    ASSERT_TRUE(first.connected());
    ASSERT_TRUE(first.send(post_head(k_large) + body.substr(0, 1000)));
    for (int i = 0; i < 100 && held() != k_large; ++i) std::this_thread::sleep_for(20ms);
    EXPECT_EQ(held(), k_large);

    raw_connection second(svc.port());
    ASSERT_TRUE(second.connected());
    ASSERT_TRUE(second.send(post_head(k_large)));
    const auto refused = second.read_until_closed(5s);
    EXPECT_TRUE(starts_with(refused.data, "HTTP/1.1 503")) << refused.data.substr(0, 300);
    EXPECT_NE(refused.data.find("Retry-After: 1"), std::string::npos) << refused.data;
    EXPECT_NE(refused.data.find("too many large request bodies"), std::string::npos);

    // A body of one read is not counted; the admitted one completes and is stored.
    http_client client("127.0.0.1", svc.port(), 5s);
    EXPECT_EQ(client.post("/receive", small_webhook("small-meanwhile"), secret_headers()).status,
              200u);
    ASSERT_TRUE(first.send(body.substr(1000)));
    EXPECT_TRUE(starts_with(first.read_until("{}", 10s).data, "HTTP/1.1 200"));
    EXPECT_EQ(held(), 0);
    EXPECT_EQ(
        client.post("/receive", small_webhook("large-after", "hang", k_large), secret_headers())
            .status,
        200u);
    EXPECT_EQ(db.scalar("SELECT string_agg(call_id, ',' ORDER BY call_id) FROM call_events"),
              "large-after,large-first,small-meanwhile");
    EXPECT_EQ(
        metric_value(scrape_metrics(svc.port()), "switchboard_http_body_memory_refused_total"), 1);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

// A response to HEAD has no body, so a keep-alive client stays in step with the stream.
TEST(BadInput, HeadIsAnsweredWithoutABody) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    for (const char* target : {"/healthz", "/receive", "/nope"}) {
        SCOPED_TRACE(target);
        raw_connection conn(svc.port());
        ASSERT_TRUE(conn.connected());
        ASSERT_TRUE(conn.send(std::string("HEAD ") + target +
                              " HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        const auto r = conn.read_until_closed(5s);
        ASSERT_TRUE(starts_with(r.data, "HTTP/1.1 ")) << r.data;
        // HEAD is GET without the body (RFC 9110): a health check by HEAD sees 200.
        if (std::string_view(target) == "/healthz") {
            EXPECT_TRUE(starts_with(r.data, "HTTP/1.1 200")) << r.data;
        }
        const auto end = r.data.find("\r\n\r\n");
        ASSERT_NE(end, std::string::npos) << r.data;
        // Right after the HEAD's header block: the GET's answer, not a body.
        EXPECT_TRUE(starts_with(r.data.substr(end + 4), "HTTP/1.1 200")) << r.data;
    }
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(BadInput, UnknownPathIs404AndWrongMethodIs405WithJsonBodies) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    expect_json_error(client.get("/nope"), 404, "/nope");
    expect_json_error(client.post("/receive/extra", small_webhook("x"), secret_headers()), 404);
    auto reply = client.get("/receive");
    expect_json_error(reply, 405, "GET");
    EXPECT_EQ(reply.headers["allow"], "POST");
    reply = client.request("DELETE", "/webhooks/vapi");
    expect_json_error(reply, 405);
    EXPECT_EQ(reply.headers["allow"], "POST");
    reply = client.post("/healthz", "{}");
    expect_json_error(reply, 405);
    EXPECT_EQ(reply.headers["allow"], "GET");
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events"), "0");
    expect_still_healthy(svc, db, "after-404");
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(BadInput, HugeHeaderIs431) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    auto headers = secret_headers();
    headers.emplace_back("X-Padding", std::string(20'000, 'a'));
    expect_json_error(client.post("/receive", small_webhook("huge-header"), headers), 431,
                      "header exceeds 16384");
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events"), "0");
    expect_still_healthy(svc, db, "after-431");
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(BadInput, RawGarbageGets400OrACloseAndNeverACrash) {
    test_db db;
    service_process svc({.env = service_env(db.url(), {{"SWITCHBOARD_IDLE_TIMEOUT_MS", "1000"},
                                                       {"SWITCHBOARD_READ_TIMEOUT_MS", "1000"}})});
    ASSERT_NE(svc.port(), 0);
    const std::string garbage[] = {
        std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),  // a TLS ClientHello
        "GARBAGE\r\n\r\n",
        std::string("\0\0\0\0\r\n\r\n", 8),
        "GET / HTTP/1.1\r\nBadHeaderWithoutColon\r\n\r\n",
        "GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        "POST /receive HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        "POST /receive HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "POST /receive HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        "POST /receive HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nxx\r\n",
        "POST /receive HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\x01"
        "b\r\n\r\n",
        "GET /\x7f\x80\xff HTTP/1.1\r\n\r\n",
        "\r\n\r\n\r\n\r\n",
    };
    for (const auto& bytes : garbage) {
        SCOPED_TRACE(testing::PrintToString(bytes));
        raw_connection conn(svc.port());
        ASSERT_TRUE(conn.connected());
        conn.send(bytes);
        const auto r = conn.read_until_closed(5s);
        EXPECT_FALSE(r.timed_out) << "the server kept the connection open: " << r.data;
        // (401: a request to /receive without credentials is refused from its header.)
        EXPECT_TRUE(r.data.empty() || starts_with(r.data, "HTTP/1.1 400") ||
                    starts_with(r.data, "HTTP/1.1 413") || starts_with(r.data, "HTTP/1.1 404") ||
                    starts_with(r.data, "HTTP/1.1 401"))
            << r.data;
        if (!r.data.empty() && starts_with(r.data, "HTTP/1.1 400")) {
            EXPECT_NE(r.data.find("{\"error\":"), std::string::npos) << r.data;
        }
        ASSERT_TRUE(svc.running()) << svc.log();
    }
    // A client that connects and says nothing is closed after the idle timeout, silently.
    raw_connection silent(svc.port());
    const auto r = silent.read_until_closed(5s);
    EXPECT_TRUE(r.closed && r.data.empty()) << r.data;
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events"), "0");
    expect_still_healthy(svc, db, "after-garbage");
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

}  // namespace
}  // namespace switchboard::test
