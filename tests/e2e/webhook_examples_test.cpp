#include "support/e2e.hpp"
#include "support/examples.hpp"
#include "support/http_client.hpp"
#include "support/service_process.hpp"
#include "support/test_db.hpp"
#include "support/webhooks.hpp"

#include <gtest/gtest.h>

#include <csignal>

namespace switchboard::test {
namespace {

std::string lit(const std::string& text) {
    return "$sbq$" + text + "$sbq$";
}

TEST(WebhookExamples, EveryExampleIsStoredOnceAndAcknowledged) {
    test_db db;
    service_process svc(
        {.env = {{"DATABASE_URL", db.url()}, {"SWITCHBOARD_WEBHOOK_SECRET", "e2e-secret"}}});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    const auto examples = webhook_examples();
    ASSERT_EQ(examples.size(), 20u);
    for (int round = 0; round < 2; ++round) {
        for (const auto& ex : examples) {
            auto reply = client.post("/receive", ex.body, {{"X-Vapi-Secret", "e2e-secret"}});
            EXPECT_EQ(reply.status, 200u) << ex.name << ": " << reply.body << reply.error;
            EXPECT_EQ(reply.headers["content-type"], "application/json") << ex.name;
        }
        // After the first round every example is there; the second round adds nothing.
        EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events"), std::to_string(examples.size()))
            << "round " << round;
    }
    // What is stored is what was sent (JSON-equal), under the type that was sent.
    for (const auto& ex : examples) {
        EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events WHERE message = " +
                            lit(message_json(ex.body)) + "::jsonb AND type = message->>'type'"),
                  "1")
            << ex.name;
    }
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(WebhookExamples, AliasPathStoresToo) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    const std::string body = with_call_id(example_file("09-hang.json"), "alias-call");
    auto reply = client.post("/webhooks/vapi", body, secret_headers());
    EXPECT_EQ(reply.status, 200u) << reply.body << reply.error;
    EXPECT_EQ(db.scalar("SELECT type FROM call_events WHERE call_id = 'alias-call'"), "hang");
    // The same message on the other path (and with a query string) is the same event.
    reply = client.post("/receive?source=vapi", body, secret_headers());
    EXPECT_EQ(reply.status, 200u) << reply.body << reply.error;
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events WHERE call_id = 'alias-call'"), "1");
    // Unauthenticated requests on the alias are refused like on /receive.
    EXPECT_EQ(client.post("/webhooks/vapi", with_call_id(body, "alias-2")).status, 401u);
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events WHERE call_id = 'alias-2'"), "0");
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

// Messages of one call posted out of order still leave the call in its latest state.
TEST(WebhookExamples, CallStateFollowsTheLifecycleWhateverTheArrivalOrder) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    for (const char* file : {"12-end-of-call-report.json", "03-status-update-ringing.json",
                             "11-status-update-ended.json", "02-status-update-queued.json"}) {
        EXPECT_EQ(client.post("/receive", example_file(file), secret_headers()).status, 200u)
            << file;
    }
    EXPECT_EQ(db.scalar("SELECT (status, ended_reason, cost)::text FROM calls WHERE id = "
                        "'7c1e4f0a-3b9d-4e62-9a51-2f8d6c0b71e4'"),
              "(ended,customer-ended-call,0.0691)");
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

}  // namespace
}  // namespace switchboard::test
