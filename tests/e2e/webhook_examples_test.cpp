#include "support/examples.hpp"
#include "support/http_client.hpp"
#include "support/service_process.hpp"
#include "support/test_db.hpp"

#include <gtest/gtest.h>

#include <csignal>

namespace switchboard::test {
namespace {

TEST(WebhookExamples, EveryExampleIsStoredOnceAndAcknowledged) {
    test_db db;
    service_process svc({.env = {{"DATABASE_URL", db.url()}, {"SWITCHBOARD_WEBHOOK_SECRET", "e2e-secret"}}});
    ASSERT_NE(svc.port(), 0);
    http_client client("127.0.0.1", svc.port());
    const auto examples = webhook_examples();
    for (int round = 0; round < 2; ++round) {
        for (const auto& ex : examples) {
            auto reply = client.post("/receive", ex.body, {{"X-Vapi-Secret", "e2e-secret"}});
            EXPECT_EQ(reply.status, 200u) << ex.name << ": " << reply.body << reply.error;
        }
    }
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events"), std::to_string(examples.size()));
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

}  // namespace
}  // namespace switchboard::test
