// Webhook authentication end to end: the static secret header (default and custom name), the
// bearer token, Vapi's HMAC plan with its replay window, its OAuth2 plan (the token endpoint and
// its tokens), and the start-up rule that no scheme at all must be an explicit choice.
#include "support/e2e.hpp"
#include "support/examples.hpp"
#include "support/http_client.hpp"
#include "support/raw_connection.hpp"
#include "support/service_process.hpp"
#include "support/test_db.hpp"
#include "support/webhooks.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <cctype>
#include <csignal>

namespace switchboard::test {
namespace {

using namespace std::chrono_literals;

std::string body_for(const std::string& call_id) {
    return with_call_id(example_file("09-hang.json"), call_id);
}

/// application/x-www-form-urlencoded, every byte but unreserved ones escaped.
std::string form_encode(std::string_view text) {
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += "0123456789ABCDEF"[c >> 4];
            out += "0123456789ABCDEF"[c & 15];
        }
    }
    return out;
}

/// Expects a 401 with a JSON error naming `reason`.
void expect_unauthorized(const http_reply& reply, const std::string& reason) {
    EXPECT_EQ(reply.status, 401u) << reply.body << reply.error;
    EXPECT_EQ(reply.headers.count("content-type") ? reply.headers.at("content-type") : "",
              "application/json");
    const auto error = json_error_text(reply.body);
    ASSERT_TRUE(error.has_value()) << reply.body;
    EXPECT_NE(error->find(reason), std::string::npos) << *error;
}

TEST(Auth, WrongOrMissingSecretIsRefusedAndNothingIsStored) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    expect_unauthorized(client.post("/receive", body_for("a-missing")), "missing_credentials");
    expect_unauthorized(client.post("/receive", body_for("a-wrong"), {{"X-Vapi-Secret", "nope"}}),
                        "wrong_secret");
    expect_unauthorized(
        client.post("/receive", body_for("a-prefix"), {{"X-Vapi-Secret", k_secret + "x"}}),
        "wrong_secret");
    expect_unauthorized(client.post("/receive", body_for("a-empty"), {{"X-Vapi-Secret", ""}}),
                        "wrong_secret");
    // Even a body that is not JSON gets 401, not 400: nothing is parsed before authentication.
    expect_unauthorized(client.post("/receive", "not json"), "missing_credentials");
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events"), "0");
    db.wait_derived();  // a call recorded by mistake would have its row within the delay
    EXPECT_EQ(db.scalar("SELECT count(*) FROM calls"), "0");
    // The right secret on the same connection still works.
    EXPECT_EQ(client.post("/receive", body_for("a-right"), secret_headers()).status, 200u);
    EXPECT_EQ(db.scalar("SELECT string_agg(call_id, ',') FROM call_events"), "a-right");
    const std::string metrics = scrape_metrics(svc.port());
    EXPECT_EQ(
        metric_value(metrics, R"(switchboard_webhook_auth_failures_total{reason="wrong_secret"})"),
        3);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

// The header alone decides a wrong secret: a large body is never read (nor invited with 100
// Continue), so an unauthenticated client cannot make the server hold megabytes per connection.
TEST(Auth, AWrongSecretIsRefusedBeforeALargeBodyIsRead) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    for (const std::string expect : {"", "Expect: 100-continue\r\n"}) {
        SCOPED_TRACE(expect);
        raw_connection conn(svc.port());
        ASSERT_TRUE(conn.connected());
        ASSERT_TRUE(
            conn.send("POST /receive HTTP/1.1\r\nHost: x\r\nX-Vapi-Secret: nope\r\n"
                      "Content-Type: application/json\r\nContent-Length: 8000000\r\n" +
                      expect + "\r\n"));
        // No body sent at all: the answer comes anyway.
        const auto r = conn.read_until("wrong_secret", 5s);
        EXPECT_TRUE(r.data.rfind("HTTP/1.1 401", 0) == 0) << r.data;
        EXPECT_EQ(r.data.find("100 Continue"), std::string::npos) << r.data;
    }
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events"), "0");
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(Auth, CustomSecretHeaderName) {
    test_db db;
    service_process svc(
        {.env = service_env(db.url(), {{"SWITCHBOARD_WEBHOOK_SECRET_HEADER", "X-Custom-Auth"}})});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    EXPECT_EQ(client.post("/receive", body_for("c-ok"), {{"X-Custom-Auth", k_secret}}).status,
              200u);
    // Header names are case-insensitive.
    EXPECT_EQ(client.post("/receive", body_for("c-lower"), {{"x-custom-auth", k_secret}}).status,
              200u);
    // The default header no longer counts.
    expect_unauthorized(client.post("/receive", body_for("c-default"), secret_headers()),
                        "missing_credentials");
    EXPECT_EQ(db.scalar("SELECT string_agg(call_id, ',' ORDER BY call_id) FROM call_events"),
              "c-lower,c-ok");
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(Auth, BearerToken) {
    test_db db;
    service_process svc(
        {.env = {{"DATABASE_URL", db.url()}, {"SWITCHBOARD_WEBHOOK_BEARER_TOKEN", "tok-123"}}});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    EXPECT_EQ(
        client.post("/receive", body_for("b-ok"), {{"Authorization", "Bearer tok-123"}}).status,
        200u);
    EXPECT_EQ(
        client.post("/receive", body_for("b-case"), {{"Authorization", "bearer tok-123"}}).status,
        200u);
    expect_unauthorized(client.post("/receive", body_for("b-bare"), {{"Authorization", "tok-123"}}),
                        "wrong_token");
    expect_unauthorized(
        client.post("/receive", body_for("b-wrong"), {{"Authorization", "Bearer tok-124"}}),
        "wrong_token");
    expect_unauthorized(client.post("/receive", body_for("b-none")), "missing_credentials");
    // The shared-secret header is not configured, so it does not authenticate anything.
    expect_unauthorized(
        client.post("/receive", body_for("b-secret"), {{"X-Vapi-Secret", "tok-123"}}),
        "missing_credentials");
    EXPECT_EQ(db.scalar("SELECT string_agg(call_id, ',' ORDER BY call_id) FROM call_events"),
              "b-case,b-ok");
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

class Hmac : public ::testing::Test {
  protected:
    void SetUp() override {
        svc_ = std::make_unique<service_process>(
            service_process::options{.env = {{"DATABASE_URL", db_.url()},
                                             {"SWITCHBOARD_HMAC_SECRET", key_},
                                             {"SWITCHBOARD_HMAC_MAX_SKEW_S", "60"}}});
        ASSERT_NE(svc_->port(), 0);
        client_ = std::make_unique<http_client>("127.0.0.1", svc_->port());
    }
    void TearDown() override {
        if (svc_) {
            EXPECT_EQ(svc_->stop(SIGTERM), 0) << svc_->log();
        }
    }

    http_reply post_signed(const std::string& body, const std::string& timestamp,
                           const std::string& signature) {
        return client_->post("/receive", body,
                             {{"x-timestamp", timestamp}, {"x-signature", signature}});
    }
    std::string sign(const std::string& timestamp, const std::string& body,
                     const std::string& key = "") {
        return hmac_sha256_hex(key.empty() ? key_ : key, timestamp + "." + body);
    }

    const std::string key_ = "hmac-e2e-key";
    test_db db_;
    std::unique_ptr<service_process> svc_;
    std::unique_ptr<http_client> client_;
};

TEST_F(Hmac, CorrectSignatureIsAccepted) {
    const std::string now_s = std::to_string(unix_millis_now() / 1000);
    const std::string now_ms = std::to_string(unix_millis_now());
    const std::string a = body_for("h-seconds");
    const std::string b = body_for("h-millis");
    EXPECT_EQ(post_signed(a, now_s, sign(now_s, a)).status, 200u);
    EXPECT_EQ(post_signed(b, now_ms, sign(now_ms, b)).status, 200u);
    // Upper-case hex is the same signature.
    std::string upper = sign(now_s, body_for("h-upper"));
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(post_signed(body_for("h-upper"), now_s, upper).status, 200u);
    EXPECT_EQ(db_.scalar("SELECT string_agg(call_id, ',' ORDER BY call_id) FROM call_events"),
              "h-millis,h-seconds,h-upper");
}

TEST_F(Hmac, BadSignatureIsRefused) {
    const std::string ts = std::to_string(unix_millis_now() / 1000);
    const std::string body = body_for("h-bad");
    // Signed with another key; signed over another body; signed with another timestamp.
    expect_unauthorized(post_signed(body, ts, sign(ts, body, "other-key")), "bad_signature");
    expect_unauthorized(post_signed(body, ts, sign(ts, body_for("h-other"))), "bad_signature");
    expect_unauthorized(post_signed(body, ts, sign(std::to_string(std::stoll(ts) - 1), body)),
                        "bad_signature");
    expect_unauthorized(post_signed(body, ts, "zz-not-hex"), "bad_signature");
    expect_unauthorized(post_signed(body, ts, sign(ts, body).substr(2)), "bad_signature");
    expect_unauthorized(client_->post("/receive", body), "missing_credentials");
    expect_unauthorized(client_->post("/receive", body, {{"x-signature", sign(ts, body)}}),
                        "malformed_timestamp");
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM call_events"), "0");
}

TEST_F(Hmac, StaleOrFutureTimestampIsRefusedEvenWhenSigned) {
    const long long now_s = unix_millis_now() / 1000;
    const std::string body = body_for("h-stale");
    const std::string old_ts = std::to_string(now_s - 120);  // max skew is 60 s
    const std::string future_ts = std::to_string(now_s + 120);
    expect_unauthorized(post_signed(body, old_ts, sign(old_ts, body)), "stale_timestamp");
    expect_unauthorized(post_signed(body, future_ts, sign(future_ts, body)), "stale_timestamp");
    const std::string old_ms = std::to_string((now_s - 120) * 1000);
    expect_unauthorized(post_signed(body, old_ms, sign(old_ms, body)), "stale_timestamp");
    // Inside the window it passes.
    const std::string recent = std::to_string(now_s - 30);
    EXPECT_EQ(post_signed(body, recent, sign(recent, body)).status, 200u);
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM call_events"), "1");
}

/// The OAuth2 plan as Vapi uses it: a client-credentials token from POST /oauth/token, then
/// `Authorization: Bearer <token>` on the webhooks. A second process with the same client secret
/// (a replica) accepts the first one's token.
TEST(Auth, OAuth2ClientCredentialsTokenAuthenticatesWebhooks) {
    test_db db;
    const std::string secret = "oauth client secret for the e2e test";
    const env_list env = {{"DATABASE_URL", db.url()},
                          {"SWITCHBOARD_OAUTH_CLIENT_ID", "vapi"},
                          {"SWITCHBOARD_OAUTH_CLIENT_SECRET", secret},
                          {"SWITCHBOARD_OAUTH_TOKEN_TTL_S", "900"}};
    service_process svc({.env = env});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());

    // Without a token: refused, and nothing is stored.
    expect_unauthorized(client.post("/receive", body_for("o-none")), "missing_credentials");
    expect_unauthorized(
        client.post("/receive", body_for("o-forged"), {{"Authorization", "Bearer a.b.c"}}),
        "invalid_access_token");

    // A wrong secret gets no token.
    const auto refused = client.post(
        "/oauth/token", "grant_type=client_credentials&client_id=vapi&client_secret=wrong",
        {{"Content-Type", "application/x-www-form-urlencoded"}});
    EXPECT_EQ(refused.status, 401u) << refused.body;
    EXPECT_NE(refused.body.find("invalid_client"), std::string::npos) << refused.body;

    // A body larger than a token request can be is refused by the listener; another method or
    // a path below it is not the endpoint.
    const auto large = client.post("/oauth/token", std::string(20000, 'a'),
                                   {{"Content-Type", "application/x-www-form-urlencoded"}});
    EXPECT_EQ(large.status, 413u) << large.body;
    EXPECT_NE(large.body.find("16384"), std::string::npos) << large.body;
    const auto get = client.request("GET", "/oauth/token");
    EXPECT_EQ(get.status, 405u) << get.body;
    EXPECT_EQ(get.headers.count("allow") ? get.headers.at("allow") : "", "POST");
    EXPECT_EQ(client.post("/oauth/token/x", "grant_type=client_credentials").status, 404u);

    const auto issued = client.post(
        "/oauth/token",
        "grant_type=client_credentials&client_id=vapi&client_secret=" + form_encode(secret),
        {{"Content-Type", "application/x-www-form-urlencoded"}});
    ASSERT_EQ(issued.status, 200u) << issued.body;
    EXPECT_EQ(issued.headers.count("cache-control") ? issued.headers.at("cache-control") : "",
              "no-store");
    const boost::json::value token_reply = boost::json::parse(issued.body);
    EXPECT_EQ(token_reply.at("token_type").as_string(), "Bearer");
    EXPECT_EQ(token_reply.at("expires_in").to_number<int>(), 900);
    const std::string token(token_reply.at("access_token").as_string());

    EXPECT_EQ(
        client.post("/receive", body_for("o-ok"), {{"Authorization", "Bearer " + token}}).status,
        200u);
    expect_unauthorized(client.post("/receive", body_for("o-tampered"),
                                    {{"Authorization", "Bearer " + token + "x"}}),
                        "invalid_access_token");

    // A replica sharing the secret takes the same token.
    service_process replica({.env = env});
    ASSERT_NE(replica.port(), 0);
    http_client replica_client("127.0.0.1", replica.port());
    EXPECT_EQ(
        replica_client
            .post("/webhooks/vapi", body_for("o-replica"), {{"Authorization", "Bearer " + token}})
            .status,
        200u);

    EXPECT_EQ(db.scalar("SELECT string_agg(call_id, ',' ORDER BY call_id) FROM call_events"),
              "o-ok,o-replica");
    const std::string metrics = scrape_metrics(svc.port());
    EXPECT_EQ(metric_value(metrics, R"(switchboard_oauth_token_requests_total{outcome="issued"})"),
              1);
    EXPECT_EQ(metric_value(metrics,
                           R"(switchboard_oauth_token_requests_total{outcome="invalid_client"})"),
              1);
    EXPECT_EQ(
        metric_value(metrics,
                     R"(switchboard_webhook_auth_failures_total{reason="invalid_access_token"})"),
        2);
    EXPECT_EQ(replica.stop(SIGTERM), 0) << replica.log();
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(Auth, TheTokenEndpointExistsOnlyWithTheOAuth2Plan) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    EXPECT_EQ(client.post("/oauth/token", "grant_type=client_credentials").status, 404u);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(Auth, NoSchemeConfiguredRefusesToStart) {
    test_db db;
    const auto [code, output] =
        run_binary({}, {{"DATABASE_URL", db.url()}, {"SWITCHBOARD_LISTEN", "127.0.0.1:0"}});
    EXPECT_EQ(code, 2) << output;
    EXPECT_NE(output.find("no webhook authentication configured"), std::string::npos) << output;
    EXPECT_NE(output.find("SWITCHBOARD_ALLOW_UNAUTHENTICATED"), std::string::npos) << output;
    // It refused before touching the database.
    EXPECT_EQ(db.scalar("SELECT to_regclass('switchboard_migrations') IS NULL"), "t");
}

TEST(Auth, AllowUnauthenticatedStartsWithAWarning) {
    test_db db;
    service_process svc(
        {.env = {{"DATABASE_URL", db.url()}, {"SWITCHBOARD_ALLOW_UNAUTHENTICATED", "true"}}});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    EXPECT_EQ(client.post("/receive", body_for("open-1")).status, 200u);
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events WHERE call_id = 'open-1'"), "1");
    const std::string log = svc.log();
    EXPECT_NE(log.find("level=warning"), std::string::npos) << log;
    EXPECT_NE(log.find("authentication is disabled"), std::string::npos) << log;
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

}  // namespace
}  // namespace switchboard::test
