#include "support/e2e.hpp"
#include "support/examples.hpp"
#include "support/http_client.hpp"
#include "support/service_process.hpp"
#include "support/test_db.hpp"
#include "support/webhooks.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <algorithm>

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
            // voice-request wants raw audio, which switchboard does not make: it is stored,
            // then refused with 422 (README, "What it answers").
            const unsigned want = ex.name == "20-voice-request.json" ? 422u : 200u;
            EXPECT_EQ(reply.status, want) << ex.name << ": " << reply.body << reply.error;
            EXPECT_EQ(reply.headers["content-type"], "application/json") << ex.name;
        }
        // After the first round every example is there; the second round adds nothing.
        EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events"), std::to_string(examples.size()))
            << "round " << round;
    }
    // What is stored is what was sent (JSON-equal), under the type that was sent.
    std::vector<boost::json::value> stored;
    for (const auto& call : db.column("SELECT DISTINCT call_id FROM call_events")) {
        for (const auto& m : db.exported(call)) stored.push_back(boost::json::parse(m));
    }
    EXPECT_EQ(stored.size(), examples.size());
    for (const auto& ex : examples) {
        const auto sent = boost::json::parse(message_json(ex.body));
        EXPECT_EQ(std::count(stored.begin(), stored.end(), sent), 1) << ex.name;
        EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events WHERE type = " +
                            lit(std::string(sent.at("type").as_string()))) != "0",
                  true);
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
    db.wait_derived();
    EXPECT_EQ(db.scalar("SELECT (status, ended_reason, cost)::text FROM calls WHERE id = "
                        "'7c1e4f0a-3b9d-4e62-9a51-2f8d6c0b71e4'"),
              "(ended,customer-ended-call,0.0691)");
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

}  // namespace
}  // namespace switchboard::test

namespace switchboard::test {
namespace {

TEST(ExportCall, PrintsEveryMessageOfTheCallAsReceivedInOrder) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    const std::string call = "7c1e4f0a-3b9d-4e62-9a51-2f8d6c0b71e4";
    std::vector<boost::json::value> sent;
    for (const auto& ex : webhook_examples()) {
        if (ex.body.find(call) == std::string::npos) continue;
        ASSERT_EQ(client.post("/receive", ex.body, {{"X-Vapi-Secret", "e2e-secret"}}).status, 200u)
            << ex.name;
        // A duplicate must not show up twice in the export.
        ASSERT_EQ(client.post("/receive", ex.body, {{"X-Vapi-Secret", "e2e-secret"}}).status, 200u);
        sent.push_back(boost::json::parse(message_json(ex.body)));
    }
    ASSERT_GE(sent.size(), 10u);
    auto [code, output] = run_binary({"export-call", call}, {{"DATABASE_URL", db.url()}});
    ASSERT_EQ(code, 0) << output;
    std::vector<boost::json::value> exported;
    std::size_t start = 0;
    while (start < output.size()) {
        const auto end = output.find('\n', start);
        const std::string line = output.substr(start, end - start);
        if (!line.empty() && line.front() == '{') exported.push_back(boost::json::parse(line));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    EXPECT_EQ(exported, sent);  // same messages, same (receive) order

    auto [missing_code, missing_output] =
        run_binary({"export-call", "no-such-call"}, {{"DATABASE_URL", db.url()}});
    EXPECT_EQ(missing_code, 3) << missing_output;
    auto [usage_code, usage_output] = run_binary({"export-call"}, {{"DATABASE_URL", db.url()}});
    EXPECT_EQ(usage_code, 2) << usage_output;
    EXPECT_NE(usage_output.find("needs a call id"), std::string::npos);
}

}  // namespace
}  // namespace switchboard::test
