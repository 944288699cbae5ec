#include "switchboard/ingest/parse.hpp"

#include "support/examples.hpp"

#include <gtest/gtest.h>

namespace switchboard::ingest {
namespace {

/// A body with the padding http::padded_body guarantees.
std::string padded(std::string s) {
    s.reserve(s.size() + 64);
    return s;
}

TEST(ParseWebhook, EveryExampleParsesWithTypeCallIdAndBounds) {
    for (const auto& ex : test::webhook_examples()) {
        SCOPED_TRACE(ex.name);
        const std::string body = padded(ex.body);
        event ev;
        auto r = parse_webhook(body, ev);
        ASSERT_TRUE(r) << r.error().detail;
        EXPECT_FALSE(ev.type_name.empty());
        EXPECT_NE(ev.type, vapi::message_type::unknown);
        EXPECT_FALSE(ev.call_id.empty());
        EXPECT_TRUE(ev.timestamp_ms.has_value());
        EXPECT_FALSE(ev.dedupe_key.empty());
        // The stored message is exactly the "message" object of the body.
        ev.body = body;
        const auto msg = ev.message();
        ASSERT_GE(msg.size(), 2u);
        EXPECT_EQ(msg.front(), '{');
        EXPECT_EQ(msg.back(), '}');
        EXPECT_NE(body.find(std::string("\"message\"")), std::string::npos);
    }
}

TEST(ParseWebhook, RefusesMalformedJson) {
    event ev;
    auto r = parse_webhook(padded(R"({"message": {"type": "hang")"), ev);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::malformed_json);
}

}  // namespace
}  // namespace switchboard::ingest
