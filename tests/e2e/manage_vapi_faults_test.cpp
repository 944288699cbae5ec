// Vapi failures and Postgres failures seen through the management API: clear statuses, and no
// half-created records (the mirror and the fake Vapi agree after every failure).
#include "support/manage.hpp"
#include "support/pg_cluster.hpp"
#include "support/webhooks.hpp"

#include <boost/json.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

namespace switchboard::test {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::size_t count_requests(fake_vapi& fake, const std::string& method, const std::string& path) {
    std::size_t n = 0;
    const json::value log = fake.requests();
    for (const auto& r : log.as_array()) {
        if (r.at("method").as_string() == method && r.at("path").as_string() == path) ++n;
    }
    return n;
}

TEST(ManageVapiFaults, TimeoutIs502AndNothingIsRecorded) {
    manage_service m(env_list{{"VAPI_TIMEOUT_MS", "300"}});
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("u");
    m.fake().add_faults(json::parse(R"({"path":"^/assistant$","method":"POST","delayMs":1500})"));
    auto r = m.call("POST", "assistants", t, R"({"name":"slow"})");
    EXPECT_EQ(r.status, 502u) << r.body;
    EXPECT_THAT(error_of(r), HasSubstr("Vapi"));
    // Nothing mirrored. (The fake may still create it after the deadline: a create that timed
    // out is ambiguous, as with any HTTP API; see docs/management-api.md.)
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM assistants"), "0");
    // Webhooks are served meanwhile and afterwards.
    EXPECT_EQ(wait_for_status(m.port(), "/healthz", 200, 2s), 200u);
}

TEST(ManageVapiFaults, RateLimitWithRetryAfterThenSuccess) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("u");
    m.fake().add_faults(json::parse(
        R"({"path":"^/assistant$","method":"POST","status":429,"retryAfter":1,"times":1})"));
    const auto start = std::chrono::steady_clock::now();
    auto r = m.call("POST", "assistants", t, R"({"name":"patient"})");
    ASSERT_EQ(r.status, 201u) << r.body;
    EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);  // Retry-After honoured
    EXPECT_EQ(count_requests(m.fake(), "POST", "/assistant"), 2u);
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM assistants"), "1");
    EXPECT_EQ(fake_objects(m.fake(), "assistants").size(), 1u);
}

TEST(ManageVapiFaults, ServerErrorsAfterRetriesAre502) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("u");
    // A create is sent once: after a 5xx Vapi may have created the object anyway.
    m.fake().add_faults(
        json::parse(R"({"path":"^/assistant$","method":"POST","status":500,"times":1})"));
    auto r = m.call("POST", "assistants", t, R"({"name":"doomed"})");
    EXPECT_EQ(r.status, 502u) << r.body;
    EXPECT_THAT(error_of(r), HasSubstr("500"));
    EXPECT_EQ(count_requests(m.fake(), "POST", "/assistant"), 1u);
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM assistants"), "0");
    EXPECT_TRUE(fake_objects(m.fake(), "assistants").empty());
    // A read is retried: 1 + 2 retries.
    auto made = m.call("POST", "assistants", t, R"({"name":"kept"})");
    ASSERT_EQ(made.status, 201u) << made.body;
    m.fake().add_faults(
        json::parse(R"({"path":"^/assistant/","method":"GET","status":503,"times":3})"));
    r = m.call("GET", "assistants/" + id_of(made), t);
    EXPECT_EQ(r.status, 502u) << r.body;
    EXPECT_EQ(count_requests(m.fake(), "GET", "/assistant/" + id_of(made)), 3u);
}

TEST(ManageVapiFaults, MalformedReplyIs502) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("u");
    m.fake().add_faults(
        json::parse(R"({"path":"^/v2/knowledge-base$","method":"POST","malformed":true})"));
    auto r = m.call("POST", "knowledge-bases", t, R"({"name":"kb"})");
    EXPECT_EQ(r.status, 502u) << r.body;
    EXPECT_THAT(error_of(r), HasSubstr("not JSON"));
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM knowledge_bases"), "0");
    // A refused API key is Vapi's failure, not the caller's: 502.
    manage_service wrong(env_list{{"VAPI_API_KEY", "wrong-key"}});
    ASSERT_NE(wrong.port(), 0);
    auto k = wrong.call("POST", "assistants", t, R"({"name":"x"})");
    EXPECT_EQ(k.status, 502u) << k.body;
}

/// Holds an exclusive lock on a table from another connection, so the service's mirror write
/// times out (lock_timeout) between the Vapi create and the mirror.
class table_lock {
  public:
    table_lock(const std::string& url, const std::string& table) {
        std::string error;
        auto c = store::pg_connection::connect(url, std::chrono::seconds(5), error);
        EXPECT_TRUE(c.has_value()) << error;
        if (!c) return;
        conn_ = std::move(*c);
        const std::string sql = "BEGIN; LOCK TABLE " + table + " IN ACCESS EXCLUSIVE MODE";
        EXPECT_FALSE(conn_.exec(sql.c_str()).has_value());
    }
    ~table_lock() { release(); }
    void release() {
        if (conn_.ok()) (void)conn_.exec("ROLLBACK");
        conn_.reset();
    }

  private:
    store::pg_connection conn_;
};

TEST(ManageVapiFaults, MirrorFailureIsCompensatedInVapi) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("u");
    {
        table_lock lock(m.db().url(), "assistants");
        auto r = m.call("POST", "assistants", t, R"({"name":"orphan?"})");
        EXPECT_EQ(r.status, 503u) << r.body;
        EXPECT_THAT(error_of(r), HasSubstr("not created"));
    }
    // Created in Vapi, then deleted again: neither side keeps it.
    EXPECT_EQ(count_requests(m.fake(), "POST", "/assistant"), 1u);
    EXPECT_TRUE(fake_objects(m.fake(), "assistants").empty());
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM assistants"), "0");
    // Same for a phone number.
    {
        table_lock lock(m.db().url(), "phone_numbers");
        auto r = m.call("POST", "phone-numbers", t, R"({"provider":"vapi"})");
        EXPECT_EQ(r.status, 503u) << r.body;
    }
    EXPECT_TRUE(fake_objects(m.fake(), "phoneNumbers").empty());
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM phone_numbers"), "0");
    EXPECT_EQ(metric_value(scrape_metrics(m.port()), "switchboard_manage_unreconciled"), 0.0);
}

// A create whose answer names an id the mirror holds for another caller (a Vapi anomaly, or a
// number someone claimed before the creator's row was written): nothing is recorded for the
// creator, and the other caller's object is not deleted or released in Vapi.
TEST(ManageVapiFaults, ACreateAnsweredWithAnotherOwnersIdDeletesNothing) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto alice = hs256_token("alice");
    const auto bob = hs256_token("bob");
    const std::string bobs = id_of(m.call("POST", "assistants", bob, R"({"name":"Bob's"})"));
    ASSERT_FALSE(bobs.empty());
    const std::string bobs_number =
        id_of(m.call("POST", "phone-numbers", bob, R"({"provider":"vapi","name":"Bob's"})"));
    ASSERT_FALSE(bobs_number.empty());
    const json::value answer = fake_objects(m.fake(), "assistants").at(0);
    const json::value number_answer = fake_objects(m.fake(), "phoneNumbers").at(0);
    m.fake().add_faults(json::value{
        {"method", "POST"}, {"path", "^/assistant$"}, {"status", 201}, {"body", answer}});
    m.fake().add_faults(json::value{
        {"method", "POST"}, {"path", "^/phone-number$"}, {"status", 201}, {"body", number_answer}});
    m.fake().clear_requests();

    auto a = m.call("POST", "assistants", alice, R"({"name":"Alice's"})");
    EXPECT_EQ(a.status, 502u) << a.body;
    auto n = m.call("POST", "phone-numbers", alice, R"({"provider":"vapi"})");
    EXPECT_EQ(n.status, 502u) << n.body;
    EXPECT_EQ(count_requests(m.fake(), "DELETE", "/assistant/" + bobs), 0u);
    EXPECT_EQ(count_requests(m.fake(), "DELETE", "/phone-number/" + bobs_number), 0u);
    EXPECT_EQ(fake_objects(m.fake(), "assistants").size(), 1u);
    EXPECT_EQ(fake_objects(m.fake(), "phoneNumbers").size(), 1u);
    EXPECT_EQ(m.call("GET", "assistants/" + bobs, bob).status, 200u);
    EXPECT_EQ(m.call("GET", "phone-numbers/" + bobs_number, bob).status, 200u);
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM assistants WHERE owner = 'alice'"), "0");
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM phone_numbers WHERE owner = 'alice'"), "0");
}

TEST(ManageVapiFaults, PostgresStoppedBetweenVapiAndMirrorIsCompensated) {
    pg_cluster pg;
    ASSERT_TRUE(pg.started());
    manage_service m({}, true, pg.url());
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("u");
    auto before = m.call("POST", "assistants", t, R"({"name":"before"})");
    ASSERT_EQ(before.status, 201u) << before.body;
    ASSERT_TRUE(pg.stop());
    auto r = m.call("POST", "assistants", t, R"({"name":"during"})");
    EXPECT_EQ(r.status, 503u) << r.body;
    EXPECT_EQ(count_requests(m.fake(), "POST", "/assistant"), 2u);  // it did reach Vapi
    ASSERT_EQ(fake_objects(m.fake(), "assistants").size(), 1u);     // and was removed again
    auto listed = m.call("GET", "assistants", t);
    EXPECT_EQ(listed.status, 503u) << listed.body;
    ASSERT_TRUE(pg.start());
    // Back: the pool reconnects; the mirror and Vapi agree.
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (listed.status != 200 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(100ms);
        listed = m.call("GET", "assistants", t);
    }
    ASSERT_EQ(listed.status, 200u) << listed.body;
    ASSERT_EQ(json_of(listed).as_array().size(), 1u);
    EXPECT_EQ(json_of(listed).as_array()[0].at("id"), json_of(before).at("id"));
    EXPECT_EQ(fake_objects(m.fake(), "assistants")[0].at("id"), json_of(before).at("id"));
}

TEST(ManageVapiFaults, FailedCompensationIsReconciledInTheBackground) {
    manage_service m;
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("u");
    // The compensating DELETE is refused once (400: not retried by the client).
    m.fake().add_faults(
        json::parse(R"({"path":"^/assistant/","method":"DELETE","status":400,"times":1})"));
    {
        table_lock lock(m.db().url(), "assistants");
        auto r = m.call("POST", "assistants", t, R"({"name":"left behind"})");
        EXPECT_EQ(r.status, 503u) << r.body;
    }
    EXPECT_EQ(metric_value(scrape_metrics(m.port()), "switchboard_manage_unreconciled"), 1.0);
    // The reconciler removes it from Vapi within a few of its rounds.
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!fake_objects(m.fake(), "assistants").empty() &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_TRUE(fake_objects(m.fake(), "assistants").empty());
    EXPECT_EQ(m.db().scalar("SELECT count(*) FROM assistants"), "0");
    std::optional<double> left;
    while (std::chrono::steady_clock::now() < deadline) {
        left = metric_value(scrape_metrics(m.port()), "switchboard_manage_unreconciled");
        if (left == 0.0) break;
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(left, 0.0);
}

TEST(ManageVapiFaults, SlowVapiDoesNotDelayWebhooks) {
    manage_service m(env_list{{"SWITCHBOARD_MANAGE_THREADS", "1"}});
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("u");
    m.fake().add_faults(json::parse(R"({"path":"^/assistant$","delayMs":3000,"times":4})"));
    std::vector<std::thread> slow;
    for (int i = 0; i < 4; ++i) {
        slow.emplace_back([port = m.port(), t] {
            http_client own("127.0.0.1", port, std::chrono::seconds(30));
            (void)own.post(
                "/functions/v1/assistants", R"({"name":"s"})",
                {{"Authorization", "Bearer " + t}, {"Content-Type", "application/json"}});
        });
    }
    std::this_thread::sleep_for(200ms);  // let the slow calls reach the fake (not an assertion)
    http_client hook("127.0.0.1", m.port());
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) {
        auto r = hook.post("/receive", small_webhook("call-fast-" + std::to_string(i)),
                           {{"X-Vapi-Secret", k_secret}, {"Content-Type", "application/json"}});
        ASSERT_EQ(r.status, 200u) << r.body;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms);
    for (auto& th : slow) th.join();
}

TEST(ManageVapiFaults, InflightLimitAnswers503AndRequestsAreCounted) {
    manage_service m(env_list{{"SWITCHBOARD_MANAGE_MAX_INFLIGHT", "1"}});
    ASSERT_NE(m.port(), 0);
    const auto t = hs256_token("u");
    m.fake().add_faults(json::parse(R"({"path":"^/assistant$","method":"POST","delayMs":1500})"));
    std::thread slow([port = m.port(), t] {
        http_client own("127.0.0.1", port, std::chrono::seconds(30));
        auto r = own.post("/functions/v1/assistants", R"({"name":"slow"})",
                          {{"Authorization", "Bearer " + t}, {"Content-Type", "application/json"}});
        EXPECT_EQ(r.status, 201u) << r.body;
    });
    // Wait (bounded) until the slow request is in progress.
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (metric_value(scrape_metrics(m.port()), "switchboard_manage_inflight") != 1.0 &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
    }
    auto busy = m.call("GET", "assistants", t);
    EXPECT_EQ(busy.status, 503u) << busy.body;
    EXPECT_EQ(busy.headers["retry-after"], "1");
    EXPECT_EQ(busy.headers["access-control-allow-origin"], "*");
    slow.join();
    EXPECT_EQ(m.call("GET", "assistants", t).status, 200u);
    const std::string text = scrape_metrics(m.port());
    EXPECT_EQ(
        metric_value(
            text,
            R"(switchboard_manage_requests_total{action="create",function="assistants",status="201"})"),
        1.0);
    EXPECT_EQ(
        metric_value(
            text,
            R"(switchboard_manage_requests_total{action="list",function="assistants",status="200"})"),
        1.0);
    EXPECT_EQ(
        metric_value(text, R"(switchboard_manage_vapi_seconds_count{operation="POST /assistant"})"),
        1.0);
}

}  // namespace
}  // namespace switchboard::test
