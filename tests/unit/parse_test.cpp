#include "switchboard/ingest/parse.hpp"

#include "support/examples.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>

namespace switchboard::ingest {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using vapi::message_type;

/// A body with the padding http::padded_body guarantees.
std::string padded(std::string s) {
    s.reserve(s.size() + 64);
    return s;
}

/// Parses `text` (padded) into a fresh event; the event's body is set afterwards, as the
/// webhook handler does, so that message() can be checked.
struct parsed {
    boost::system::result<void, parse_error> result;
    event ev;
};

parsed parse(std::string text) {
    parsed p;
    std::string body = padded(std::move(text));
    p.result = parse_webhook(body, p.ev);
    if (p.ev.body.empty()) p.ev.body = std::move(body);  // else the parse kept it, escaped
    return p;
}

/// Asserts that `text` is refused with `code`.
void expect_refused(const std::string& text, errc code) {
    SCOPED_TRACE(text.size() > 200 ? text.substr(0, 200) + "..." : text);
    auto p = parse(text);
    ASSERT_FALSE(p.result) << "accepted; type=" << p.ev.type_name;
    EXPECT_EQ(p.result.error().code, code) << p.result.error().detail;
    EXPECT_FALSE(p.result.error().detail.empty());
}

/// Asserts that `text` parses, and returns the event.
event expect_accepted(const std::string& text) {
    auto p = parse(text);
    EXPECT_TRUE(p.result) << (p.result ? "" : p.result.error().detail) << "\n"
                          << text.substr(0, 300);
    return std::move(p.ev);
}

/// The "message" member of `body`, with Boost.JSON (an independent parser).
boost::json::value message_of(const std::string& body) {
    return boost::json::parse(body).as_object().at("message");
}

void expect_message_bounds(const event& ev, const std::string& body) {
    const std::string_view msg = ev.message();
    ASSERT_FALSE(msg.empty());
    ASSERT_LE(ev.message_offset + ev.message_length, ev.body.size());
    boost::system::error_code ec;
    const auto got = boost::json::parse(msg, ec);
    ASSERT_FALSE(ec) << "message() is not one JSON value: " << msg.substr(0, 200);
    EXPECT_EQ(got, message_of(body));
    EXPECT_EQ(msg.front(), '{');
    EXPECT_EQ(msg.back(), '}');
}

// --- the examples -------------------------------------------------------------------------------

struct expected_event {
    message_type type;
    const char* type_name;
    const char* call_id;
    std::int64_t timestamp_ms;
    const char* dedupe_key;
    const char* status;
    const char* ended_reason = "";
    std::optional<double> cost = std::nullopt;
    const char* customer_number = "";
    std::optional<std::int64_t> created_at_us = std::nullopt;
    std::optional<std::int64_t> started_at_us = std::nullopt;
    std::optional<std::int64_t> ended_at_us = std::nullopt;
    const char* call_type = "";
    const char* assistant_id = "";
    const char* phone_number_id = "";
    const char* org_id = "";
};

constexpr const char* k_call = "7c1e4f0a-3b9d-4e62-9a51-2f8d6c0b71e4";
constexpr const char* k_org = "b2f6d3a1-8e47-4c09-bf3e-5a9e12c7d804";
constexpr const char* k_riley = "5d8a2e6f-1c3b-4f7a-a9d2-e04b7c61f3a8";
constexpr const char* k_maple_number = "9e4c1b7d-62a0-4d58-8f13-c7b2a05e94d1";
constexpr std::int64_t k_created = 1749736985120000;  // 2025-06-12T14:03:05.120Z
constexpr std::int64_t k_started = 1749736987500000;  // 2025-06-12T14:03:07.500Z
constexpr std::int64_t k_ended = 1749737023900000;    // 2025-06-12T14:03:43.900Z

// Values read from shared/vapi/examples (timestamps converted with python3's datetime).
const std::map<std::string, expected_event>& expected_examples() {
    static const std::map<std::string, expected_event> table = {
        {"01-assistant-request.json",
         {message_type::assistant_request, "assistant-request", k_call, 1749736985260,
          "assistant-request|1749736985260", "queued", "", std::nullopt, "+14155550142", k_created,
          std::nullopt, std::nullopt, "inboundPhoneCall", "", k_maple_number, k_org}},
        {"02-status-update-queued.json",
         {message_type::status_update, "status-update", k_call, 1749736985730,
          "status-update|1749736985730|queued", "queued", "", std::nullopt, "+14155550142",
          k_created, std::nullopt, std::nullopt, "inboundPhoneCall", k_riley, k_maple_number,
          k_org}},
        {"03-status-update-ringing.json",
         {message_type::status_update, "status-update", k_call, 1749736986570,
          "status-update|1749736986570|ringing", "ringing", "", std::nullopt, "+14155550142",
          k_created, std::nullopt, std::nullopt, "inboundPhoneCall", k_riley, k_maple_number,
          k_org}},
        {"04-status-update-in-progress.json",
         {message_type::status_update, "status-update", k_call, 1749736987535,
          "status-update|1749736987535|in-progress", "in-progress", "", std::nullopt,
          "+14155550142", k_created, k_started, std::nullopt, "inboundPhoneCall", k_riley,
          k_maple_number, k_org}},
        {"05-speech-update.json",
         {message_type::speech_update, "speech-update", k_call, 1749736988120,
          "speech-update|1749736988120|started|assistant|0", "in-progress", "", std::nullopt,
          "+14155550142", k_created, k_started, std::nullopt, "inboundPhoneCall", k_riley,
          k_maple_number, k_org}},
        {"06-transcript-partial.json",
         {message_type::transcript, "transcript", k_call, 1749736993950,
          "transcript|1749736993950|user|partial|592a81627b852e5f", "in-progress", "", std::nullopt,
          "+14155550142", k_created, k_started, std::nullopt, "inboundPhoneCall", k_riley,
          k_maple_number, k_org}},
        {"07-transcript-final.json",
         {message_type::transcript, "transcript", k_call, 1749736996210,
          "transcript|1749736996210|user|final|9b7f40d754a67ecf", "in-progress", "", std::nullopt,
          "+14155550142", k_created, k_started, std::nullopt, "inboundPhoneCall", k_riley,
          k_maple_number, k_org}},
        {"08-tool-calls.json",
         {message_type::tool_calls, "tool-calls", k_call, 1749737002520,
          "tool-calls|1749737002520|call_Xq4mB7nR2tL9vK1pZ8wD3hYc", "in-progress", "", std::nullopt,
          "+14155550142", k_created, k_started, std::nullopt, "inboundPhoneCall", k_riley,
          k_maple_number, k_org}},
        {"09-hang.json",
         {message_type::hang, "hang", k_call, 1749737004100, "hang|1749737004100", "in-progress",
          "", std::nullopt, "+14155550142", k_created, k_started, std::nullopt, "inboundPhoneCall",
          k_riley, k_maple_number, k_org}},
        {"10-conversation-update.json",
         {message_type::conversation_update, "conversation-update", k_call, 1749737005340,
          "conversation-update|1749737005340|n:7/7", "in-progress", "", std::nullopt,
          "+14155550142", k_created, k_started, std::nullopt, "inboundPhoneCall", k_riley,
          k_maple_number, k_org}},
        {"11-status-update-ended.json",
         {message_type::status_update, "status-update", k_call, 1749737023990,
          "status-update|1749737023990|ended", "ended", "customer-ended-call", std::nullopt,
          "+14155550142", k_created, k_started, k_ended, "inboundPhoneCall", k_riley,
          k_maple_number, k_org}},
        {"12-end-of-call-report.json",
         {message_type::end_of_call_report, "end-of-call-report", k_call, 1749737028100,
          "end-of-call-report", "ended", "customer-ended-call", 0.0691, "+14155550142", k_created,
          k_started, k_ended, "inboundPhoneCall", k_riley, k_maple_number, k_org}},
        {"13-end-of-call-report-webcall.json",
         {message_type::end_of_call_report, "end-of-call-report",
          "e2a7c9d1-4f06-4b3e-9c85-1d7f2a6b0e93", 1749741238740, "end-of-call-report", "ended",
          "assistant-said-end-call-phrase", 0.0302, "", 1749741212480000, 1749741213390000,
          1749741234740000, "webCall", "1a6e3f9c-0b72-4d85-b3e1-6c9d2f7a4b08", "", k_org}},
        {"14-transcript-french.json",
         {message_type::transcript, "transcript", "3f8b1d6e-9a24-4c71-b05e-8e2c7d4a1f69",
          1749803422060, "transcript|1749803422060|user|final|83fc4fc3388890ab", "in-progress", "",
          std::nullopt, "+33612345678", 1749803410250000, 1749803412120000, std::nullopt,
          "inboundPhoneCall", "8b3f0e6a-2d94-47c1-a5e8-f1c7d3b90a26",
          "d7e2a4c9-5b16-4e08-9f3a-0c6b8d1e2f57", k_org}},
        {"15-transfer-destination-request.json",
         {message_type::transfer_destination_request, "transfer-destination-request",
          "4d2c8a61-7e3b-4f95-b1d0-a8e6c3f27b14", 1749745578210,
          "transfer-destination-request|1749745578210", "in-progress", "", std::nullopt,
          "+14155550177", 1749745530000000, 1749745532100000, std::nullopt, "inboundPhoneCall",
          k_riley, k_maple_number, k_org}},
        {"16-handoff-destination-request.json",
         {message_type::handoff_destination_request, "handoff-destination-request",
          "a9f5e3b2-1c68-4d07-8e4a-2b7d9c0f6e31", 1749746037400,
          "handoff-destination-request|1749746037400", "in-progress", "", std::nullopt,
          "+14155550177", 1749746011000000, 1749746013100000, std::nullopt, "inboundPhoneCall",
          k_riley, k_maple_number, k_org}},
        {"17-knowledge-base-request.json",
         {message_type::knowledge_base_request, "knowledge-base-request",
          "5e1b7c3d-8f24-4a69-b2e0-c4d9a6f18e72", 1749747215000,
          "knowledge-base-request|1749747215000|n:3/3", "in-progress", "", std::nullopt,
          "+14155550177", 1749747203000000, 1749747205100000, std::nullopt, "inboundPhoneCall",
          k_riley, k_maple_number, k_org}},
        {"18-call.endpointing.request.json",
         {message_type::call_endpointing_request, "call.endpointing.request",
          "b6d3f1a8-2e57-4c90-a7b4-d1e8f5c2a093", 1749748014150,
          "call.endpointing.request|1749748014150|n:3/3", "in-progress", "", std::nullopt,
          "+14155550177", 1749748005000000, 1749748007100000, std::nullopt, "inboundPhoneCall",
          k_riley, k_maple_number, k_org}},
        {"19-campaign.predial.json",
         {message_type::campaign_predial, "campaign.predial",
          "campaign:2c7e9a4f-0d13-4b68-95e1-f3a6b8d2c705:e8a1c5f3-7b29-4d06-b4c2-9f0e3d7a6b18",
          1749750600150, "campaign.predial|1749750600150", ""}},
        {"20-voice-request.json",
         {message_type::voice_request, "voice-request", "0a4f8d2e-6c15-4b73-a9e6-b2d7f1c3e850",
          1749751322900, "voice-request|1749751322900|ae0a0c31d56e4168", "in-progress", "",
          std::nullopt, "+14155550177", 1749751320000000, 1749751322100000, std::nullopt,
          "inboundPhoneCall", k_riley, k_maple_number, k_org}},
    };
    return table;
}

std::string fact_text(const switchboard::ingest::call_facts& f, switchboard::ingest::fact which) {
    return std::string(f.get(which).value_or(""));
}
std::optional<double> fact_number(const switchboard::ingest::call_facts& f,
                                  switchboard::ingest::fact which) {
    auto t = f.get(which);
    if (!t) return std::nullopt;
    return std::stod(std::string(*t));
}
std::optional<std::int64_t> fact_micros(const switchboard::ingest::call_facts& f,
                                        switchboard::ingest::fact which) {
    auto t = f.get(which);
    if (!t) return std::nullopt;
    return std::stoll(std::string(*t));
}

void expect_example_fields(const event& ev, const expected_event& want) {
    EXPECT_EQ(ev.type, want.type);
    EXPECT_EQ(ev.type_name, want.type_name);
    EXPECT_EQ(ev.call_id, want.call_id);
    EXPECT_EQ(ev.org_id, want.org_id);
    EXPECT_EQ(ev.timestamp_ms, want.timestamp_ms);
    EXPECT_EQ(ev.dedupe_key, want.dedupe_key);
    const auto& f = ev.call;
    EXPECT_EQ(f.status, want.status);
    EXPECT_EQ(fact_text(f, fact::ended_reason), want.ended_reason);
    ASSERT_EQ(fact_number(f, fact::cost).has_value(), want.cost.has_value());
    if (want.cost) {
        EXPECT_DOUBLE_EQ(*fact_number(f, fact::cost), *want.cost);
    }
    EXPECT_EQ(fact_text(f, fact::customer_number), want.customer_number);
    EXPECT_EQ(fact_micros(f, fact::created_at), want.created_at_us);
    EXPECT_EQ(fact_micros(f, fact::started_at), want.started_at_us);
    EXPECT_EQ(fact_micros(f, fact::ended_at), want.ended_at_us);
    EXPECT_EQ(fact_text(f, fact::type), want.call_type);
    EXPECT_EQ(fact_text(f, fact::assistant_id), want.assistant_id);
    EXPECT_EQ(fact_text(f, fact::phone_number_id), want.phone_number_id);
}

TEST(ParseWebhook, EveryExampleIsCoveredByTheTable) {
    const auto examples = test::webhook_examples();
    ASSERT_EQ(examples.size(), expected_examples().size());
    for (const auto& ex : examples) EXPECT_EQ(expected_examples().count(ex.name), 1u) << ex.name;
}

TEST(ParseWebhook, EveryExampleParsesWithExpectedFields) {
    for (const auto& ex : test::webhook_examples()) {
        SCOPED_TRACE(ex.name);
        auto it = expected_examples().find(ex.name);
        ASSERT_NE(it, expected_examples().end());
        auto p = parse(ex.body);
        ASSERT_TRUE(p.result) << p.result.error().detail;
        expect_example_fields(p.ev, it->second);
    }
}

TEST(ParseWebhook, EveryExampleMessageBoundsAreTheMessageObject) {
    for (const auto& ex : test::webhook_examples()) {
        SCOPED_TRACE(ex.name);
        auto p = parse(ex.body);
        ASSERT_TRUE(p.result) << p.result.error().detail;
        expect_message_bounds(p.ev, ex.body);
    }
}

TEST(ParseWebhook, EveryExampleMinifiedGivesTheSameEvent) {
    for (const auto& ex : test::webhook_examples()) {
        SCOPED_TRACE(ex.name);
        const std::string compact = boost::json::serialize(boost::json::parse(ex.body));
        ASSERT_LT(compact.size(), ex.body.size());
        auto p = parse(compact);
        ASSERT_TRUE(p.result) << p.result.error().detail;
        expect_example_fields(p.ev, expected_examples().at(ex.name));
        expect_message_bounds(p.ev, compact);
    }
}

TEST(ParseWebhook, EveryExampleWrappedInExtraEnvelopeFieldsAndWhitespace) {
    for (const auto& ex : test::webhook_examples()) {
        SCOPED_TRACE(ex.name);
        // The message object, placed between other envelope members, with CRLF and tabs around.
        const std::string msg = boost::json::serialize(message_of(ex.body));
        const std::string body =
            "\r\n\t {\"before\" : {\"message\": {\"type\": \"decoy\"}, \"s\": \"}\"} ,\r\n"
            "\t\"message\"\t:\r\n" +
            msg + " \r\n\t , \"after\": [1, \"}\", {}]\r\n}\r\n\t ";
        auto p = parse(body);
        ASSERT_TRUE(p.result) << p.result.error().detail;
        expect_example_fields(p.ev, expected_examples().at(ex.name));
        expect_message_bounds(p.ev, body);
        EXPECT_EQ(p.ev.message(), msg);
    }
}

TEST(ParseWebhook, MessageBoundsWhenMessageIsLastWithWhitespaceBeforeTheEnvelopeEnds) {
    const std::string body = R"({"x":1,"message":{"type":"hang","n":{"a":"}"}}   )"
                             "\n\t}";
    auto p = parse(body);
    ASSERT_TRUE(p.result) << p.result.error().detail;
    EXPECT_EQ(p.ev.message(), R"({"type":"hang","n":{"a":"}"}})");
}

TEST(ParseWebhook, MessageBoundsOfAnEmptyObjectWithToolCallList) {
    const std::string body = R"({"message":{"toolCallList":[]}})";
    auto p = parse(body);
    ASSERT_TRUE(p.result) << p.result.error().detail;
    EXPECT_EQ(p.ev.message(), R"({"toolCallList":[]})");
}

TEST(ParseWebhook, EscapedMessageKeyIsRecognised) {
    const std::string body = R"({"mess\u0061ge":{"type":"hang","timestamp":7}})";
    auto p = parse(body);
    ASSERT_TRUE(p.result) << p.result.error().detail;
    EXPECT_EQ(p.ev.type, message_type::hang);
    EXPECT_EQ(p.ev.message(), R"({"type":"hang","timestamp":7})");
}

TEST(ParseWebhook, LeavesCallerFieldsAlone) {
    event ev;
    ev.received_us = 42;
    const std::string body = padded(R"({"message":{"type":"hang"}})");
    ASSERT_TRUE(parse_webhook(body, ev));
    EXPECT_EQ(ev.received_us, 42);
    EXPECT_TRUE(ev.body.empty());
    EXPECT_EQ(ev.ack, nullptr);
}

// --- types --------------------------------------------------------------------------------------

TEST(ParseWebhook, ToolCallsWithoutTypeDetectedByToolCallList) {
    const auto ev = expect_accepted(
        R"({"message":{"timestamp":1749737002520,"toolCallList":[{"id":"call_A","type":"function"},)"
        R"({"id":"call_B","function":{"name":"x","arguments":"{}"}}],"call":{"id":"c-1"}}})");
    EXPECT_EQ(ev.type, message_type::tool_calls);
    EXPECT_EQ(ev.type_name, "tool-calls");
    EXPECT_EQ(ev.call_id, "c-1");
    EXPECT_EQ(ev.dedupe_key, "tool-calls|1749737002520|call_A,call_B");
}

TEST(ParseWebhook, ToolCallListOfAnotherShapeStillDetectsToolCalls) {
    const auto ev = expect_accepted(R"({"message":{"toolCallList":{"not":"an array"}}})");
    EXPECT_EQ(ev.type, message_type::tool_calls);
}

TEST(ParseWebhook, UnknownFutureTypeIsAcceptedAndKeepsItsName) {
    const auto ev = expect_accepted(
        R"({"message":{"type":"assistant.thoughtEmitted","timestamp":1749737000000,"call":{"id":"c-2"},"thought":{"x":[1,2]}}})");
    EXPECT_EQ(ev.type, message_type::unknown);
    EXPECT_EQ(ev.type_name, "assistant.thoughtEmitted");
    EXPECT_EQ(ev.call_id, "c-2");
    EXPECT_EQ(ev.dedupe_key, "assistant.thoughtEmitted|1749737000000");
}

TEST(ParseWebhook, TypeNameIsUnescaped) {
    const auto ev =
        expect_accepted(R"({"message":{"type":"status\u002dupdate","status":"queued"}})");
    EXPECT_EQ(ev.type, message_type::status_update);
    EXPECT_EQ(ev.type_name, "status-update");
}

TEST(ParseWebhook, EveryKnownTypeNameMapsToItsEnum) {
    for (std::size_t i = 0; i + 1 < vapi::message_type_count; ++i) {
        const auto t = static_cast<message_type>(i);
        const std::string name(vapi::to_string(t));
        SCOPED_TRACE(name);
        const auto ev = expect_accepted(R"({"message":{"type":")" + name + R"(","timestamp":1}})");
        EXPECT_EQ(ev.type, t);
        EXPECT_EQ(ev.type_name, name);
    }
}

// --- ids ----------------------------------------------------------------------------------------

TEST(ParseWebhook, ChatAndSessionIdsServeAsCallId) {
    const auto chat = expect_accepted(
        R"({"message":{"type":"chat.created","timestamp":5,"chat":{"id":"chat_1","orgId":"o"}}})");
    EXPECT_EQ(chat.type, message_type::chat_created);
    EXPECT_EQ(chat.call_id, "chat_1");
    EXPECT_EQ(chat.dedupe_key, "chat.created|5|chat_1");

    const auto deleted = expect_accepted(
        R"({"message":{"type":"chat.deleted","timestamp":5,"chat":{"id":"chat_1"}}})");
    EXPECT_EQ(deleted.dedupe_key, "chat.deleted|5|chat_1");

    const auto session = expect_accepted(
        R"({"message":{"type":"session.updated","timestamp":6,"session":{"id":"sess_9","status":"active"}}})");
    EXPECT_EQ(session.call_id, "sess_9");
    EXPECT_EQ(session.dedupe_key, "session.updated|6|sess_9");
    // The session's own status is not message.status.
    EXPECT_EQ(session.call.status, "");
}

TEST(ParseWebhook, SameTimestampDifferentChatsGetDifferentKeys) {
    const auto a = expect_accepted(
        R"({"message":{"type":"chat.created","timestamp":5,"chat":{"id":"chat_1"}}})");
    const auto b = expect_accepted(
        R"({"message":{"type":"chat.created","timestamp":5,"chat":{"id":"chat_2"}}})");
    EXPECT_NE(a.dedupe_key, b.dedupe_key);
}

TEST(ParseWebhook, CampaignPredialIdIsCampaignAndContact) {
    const auto ev = expect_accepted(
        R"({"message":{"type":"campaign.predial","timestamp":9,"campaignId":"camp-1","contact":{"id":"contact-7","number":"+1555"}}})");
    EXPECT_EQ(ev.call_id, "campaign:camp-1:contact-7");
    EXPECT_EQ(fact_text(ev.call, fact::customer_number), "");
}

TEST(ParseWebhook, CallIdWinsOverOtherEntityIds) {
    const auto ev = expect_accepted(
        R"({"message":{"type":"chat.created","chat":{"id":"chat_1"},"call":{"id":"call_1"}}})");
    EXPECT_EQ(ev.call_id, "call_1");
    const auto chat_first = expect_accepted(
        R"({"message":{"chat":{"id":"chat_1"},"call":{"id":"call_1"},"type":"hang"}})");
    EXPECT_EQ(chat_first.call_id, "call_1");
}

TEST(ParseWebhook, MessageWithoutAnyIdHasEmptyCallId) {
    const auto ev = expect_accepted(R"({"message":{"type":"hang","timestamp":1}})");
    EXPECT_EQ(ev.call_id, "");
    EXPECT_EQ(ev.org_id, "");
}

TEST(ParseWebhook, IdsOfTheWrongTypeAreIgnored) {
    const auto ev =
        expect_accepted(R"({"message":{"type":"hang","call":{"id":12345,"orgId":null}}})");
    EXPECT_EQ(ev.call_id, "");
    const auto not_object = expect_accepted(R"({"message":{"type":"hang","call":"c-1"}})");
    EXPECT_EQ(not_object.call_id, "");
}

TEST(ParseWebhook, NestedIdsAreNotTakenForTheCallId) {
    // Only message.call.id names the call; ids deeper inside call must not overwrite it.
    const auto ev = expect_accepted(
        R"({"message":{"type":"hang","call":{"transport":{"id":"t-1"},"id":"c-9","customer":{"id":"cust-1"}}}})");
    EXPECT_EQ(ev.call_id, "c-9");
}

// --- timestamps ---------------------------------------------------------------------------------

TEST(ParseWebhook, TimestampForms) {
    EXPECT_EQ(
        expect_accepted(R"({"message":{"type":"hang","timestamp":1749737004100}})").timestamp_ms,
        1749737004100);
    EXPECT_EQ(
        expect_accepted(R"({"message":{"type":"hang","timestamp":"1749737004100"}})").timestamp_ms,
        1749737004100);
    EXPECT_EQ(
        expect_accepted(R"({"message":{"type":"hang","timestamp":"2025-06-12T14:03:24.100Z"}})")
            .timestamp_ms,
        1749737004100);
    EXPECT_EQ(
        expect_accepted(R"({"message":{"type":"hang","timestamp":1749737004100.9}})").timestamp_ms,
        1749737004100);
    EXPECT_EQ(
        expect_accepted(R"({"message":{"type":"hang","timestamp":1.7497370041e12}})").timestamp_ms,
        1749737004100);
}

TEST(ParseWebhook, UnusableTimestampsAreDroppedNotRefused) {
    for (const char* ts :
         {R"("yesterday")", "null", "true", "{}", "[1]", R"("")", "1e300", "-1e300"}) {
        SCOPED_TRACE(ts);
        const auto ev =
            expect_accepted(std::string(R"({"message":{"type":"hang","timestamp":)") + ts + "}}");
        EXPECT_FALSE(ev.timestamp_ms.has_value());
        // Without a usable timestamp, the message's own content tells it apart.
        EXPECT_TRUE(ev.dedupe_key.starts_with("hang||c:")) << ev.dedupe_key;
    }
}

TEST(ParseWebhook, MissingTimestamp) {
    const auto ev = expect_accepted(R"({"message":{"type":"status-update","status":"queued"}})");
    EXPECT_FALSE(ev.timestamp_ms.has_value());
    EXPECT_TRUE(ev.dedupe_key.starts_with("status-update||queued|c:")) << ev.dedupe_key;
}

// --- call facts ---------------------------------------------------------------------------------

TEST(ParseWebhook, MessageLevelFactsWinOverCallLevel) {
    const auto ev = expect_accepted(R"({"message":{"type":"end-of-call-report","timestamp":1,
        "endedReason":"msg-reason","cost":1.5,"customer":{"number":"+1000"},
        "startedAt":"2025-01-01T00:00:01Z","endedAt":"2025-01-01T00:00:09Z",
        "call":{"id":"c","status":"in-progress","endedReason":"call-reason","cost":9.5,
                "customer":{"number":"+2000"},"startedAt":"2025-01-01T00:00:02Z",
                "endedAt":"2025-01-01T00:00:08Z","createdAt":"2025-01-01T00:00:00Z"}}})");
    EXPECT_EQ(ev.call.status, "ended");
    EXPECT_EQ(fact_text(ev.call, fact::ended_reason), "msg-reason");
    EXPECT_EQ(fact_number(ev.call, fact::cost), 1.5);
    EXPECT_EQ(fact_text(ev.call, fact::customer_number), "+1000");
    EXPECT_EQ(fact_micros(ev.call, fact::started_at), 1735689601000000);
    EXPECT_EQ(fact_micros(ev.call, fact::ended_at), 1735689609000000);
    EXPECT_EQ(fact_micros(ev.call, fact::created_at), 1735689600000000);
}

TEST(ParseWebhook, CallLevelFactsFillGaps) {
    const auto ev = expect_accepted(R"({"message":{"type":"hang","startedAt":"not a date",
        "call":{"id":"c","status":"forwarding","endedReason":"call-reason","cost":9.5,
                "customer":{"number":"+2000"},"startedAt":"2025-01-01T00:00:02Z"}}})");
    EXPECT_EQ(ev.call.status, "forwarding");
    EXPECT_EQ(fact_text(ev.call, fact::ended_reason), "call-reason");
    EXPECT_EQ(fact_number(ev.call, fact::cost), 9.5);
    EXPECT_EQ(fact_text(ev.call, fact::customer_number), "+2000");
    EXPECT_EQ(fact_micros(ev.call, fact::started_at), 1735689602000000);
    EXPECT_FALSE(fact_micros(ev.call, fact::ended_at).has_value());
    EXPECT_FALSE(fact_micros(ev.call, fact::created_at).has_value());
}

TEST(ParseWebhook, StatusUpdateStatusComesFromTheMessage) {
    const auto ev = expect_accepted(
        R"({"message":{"type":"status-update","status":"ringing","call":{"id":"c","status":"queued"}}})");
    EXPECT_EQ(ev.call.status, "ringing");
}

TEST(ParseWebhook, SpeechUpdateStatusIsNotACallStatus) {
    const auto ev = expect_accepted(
        R"({"message":{"type":"speech-update","status":"stopped","role":"user","call":{"id":"c","status":"in-progress"}}})");
    EXPECT_EQ(ev.call.status, "in-progress");
}

TEST(ParseWebhook, FactsOfTheWrongTypeAreIgnored) {
    const auto ev = expect_accepted(
        R"({"message":{"type":"hang","cost":"cheap","endedReason":7,"customer":"+1","call":{"cost":null,"status":["x"]}}})");
    EXPECT_FALSE(fact_number(ev.call, fact::cost).has_value());
    EXPECT_EQ(fact_text(ev.call, fact::ended_reason), "");
    EXPECT_EQ(fact_text(ev.call, fact::customer_number), "");
    EXPECT_EQ(ev.call.status, "");
}

// --- refusals -----------------------------------------------------------------------------------

TEST(ParseWebhook, RefusesMalformedJson) {
    for (const char* bad : {
             R"({"message": {"type": "hang")",      // truncated
             R"({"message": {"type": "hang"})",     // envelope not closed
             R"({"message": {"type": "hang"}}})",   // one brace too many
             R"({"message": {"type": "hang"}} x)",  // trailing garbage
             R"({"message": {"type": "hang"}}{})",  // two documents
             R"({"message": {"type": "hang"}},)",   // trailing comma
             R"({"message": {"type": "hang"}}])",
             R"({"message": {"type": "hang",}})",  // trailing comma in object
             R"({"message": {"type": "hang", "a": [1,]}})",
             R"({"message": {"type": "hang" "a": 1}})",  // missing comma
             R"({"message": {"type": "hang", "a" 1}})",  // missing colon
             R"({"message": {"type": "hang", a: 1}})",   // unquoted key
             R"({"message": {"type": 'hang'}})",         // single quotes
             R"({"message": {"type": "hang", "a": tru}})",
             R"({"message": {"type": "hang", "a": nul}})",
             R"({"message": {"type": "hang", "a": falsey}})",
             R"({"message": {"type": "hang", "a": True}})",
             R"({"message": {"type": "hang", "a": undefined}})",
             R"({"message": {"type": "hang", "a": "\x41"}})",  // bad escapes
             R"({"message": {"type": "hang", "a": "\u12"}})",
             R"({"message": {"type": "hang", "a": "\uZZZZ"}})",
             R"({"message": {"type": "hang", "a": "\'"}})",
             R"({"message": {"type": "hang", "a": "unterminated}})",
             R"({"message": {"type": "hang"}, "b": tru})",  // bad literal outside the message
             R"({"message": {"type": "hang"}, "b": "\q"})",
             R"({"b": [1, 2, }, "message": {"type": "hang"}})",
         }) {
        expect_refused(bad, errc::malformed_json);
    }
}

TEST(ParseWebhook, RefusesInvalidNumberGrammar) {
    for (const char* num : {"01", "-01", "1.", "-", ".5", "+1", "1e", "1e+", "1.e5", "0x10", "NaN",
                            "Infinity", "-Infinity", "1..2", "1e5.5", "--1", "00", "1_000"}) {
        SCOPED_TRACE(num);
        // In an ordinary field, and in each field the parser reads as a number.
        expect_refused(std::string(R"({"message":{"type":"hang","n":)") + num + "}}",
                       errc::malformed_json);
        expect_refused(
            std::string(R"({"message":{"type":"end-of-call-report","cost":)") + num + "}}",
            errc::malformed_json);
        expect_refused(std::string(R"({"message":{"type":"hang","timestamp":)") + num + "}}",
                       errc::malformed_json);
        expect_refused(std::string(R"({"message":{"type":"speech-update","turn":)") + num + "}}",
                       errc::malformed_json);
        expect_refused(std::string(R"({"message":{"type":"hang","call":{"cost":)") + num + "}}}",
                       errc::malformed_json);
        expect_refused(std::string(R"({"x":[)") + num + R"(],"message":{"type":"hang"}})",
                       errc::malformed_json);
    }
}

TEST(ParseWebhook, AcceptsUnusualButValidNumbers) {
    for (const char* num : {"1e999", "-1e999", "1E-999", "123456789012345678901234567890",
                            "-0.0e+5", "-0", "0", "0.0000000000000000000000000000000001", "1.5E+2",
                            "9007199254740993", "18446744073709551616", "-9223372036854775809"}) {
        SCOPED_TRACE(num);
        // Anywhere in the message...
        const auto ev = expect_accepted(std::string(R"({"message":{"type":"hang","n":[)") + num +
                                        R"(,{"m":)" + num + "}]}}");
        EXPECT_EQ(ev.type, message_type::hang);
        // ...and in the fields the parser reads as numbers: valid JSON must never be refused.
        expect_accepted(std::string(R"({"message":{"type":"end-of-call-report","cost":)") + num +
                        "}}");
        expect_accepted(std::string(R"({"message":{"type":"hang","timestamp":)") + num + "}}");
        expect_accepted(std::string(R"({"message":{"type":"speech-update","turn":)") + num + "}}");
        expect_accepted(std::string(R"({"message":{"type":"hang","call":{"id":"c","cost":)") + num +
                        "}}}");
        expect_accepted(std::string(R"({"big":)") + num + R"(,"message":{"type":"hang"}})");
    }
}

TEST(ParseWebhook, OutOfRangeNumbersLeaveTheirFieldEmptyAndTheRestParsed) {
    const auto ev = expect_accepted(
        R"({"message":{"cost":1e999,"timestamp":-1e999,"turn":1e400,"type":"end-of-call-report",)"
        R"("call":{"cost":1e999,"id":"c-1","status":"ended"},"endedReason":"done"}})");
    EXPECT_EQ(ev.type, message_type::end_of_call_report);
    EXPECT_EQ(ev.call_id, "c-1");
    EXPECT_EQ(fact_text(ev.call, fact::ended_reason), "done");
    EXPECT_FALSE(fact_number(ev.call, fact::cost).has_value());
    EXPECT_FALSE(ev.timestamp_ms.has_value());

    const auto kept =
        expect_accepted(R"({"message":{"type":"hang","cost":1e999,"call":{"cost":2.5}}})");
    EXPECT_EQ(fact_number(kept.call, fact::cost), 2.5);  // falls back to call.cost
}

TEST(ParseWebhook, RefusesNonObjectBodies) {
    for (const char* bad :
         {"[]", R"([{"message":{"type":"hang"}}])", R"("message")", "42", "null", "true"}) {
        expect_refused(bad, errc::invalid_envelope);
    }
}

TEST(ParseWebhook, RefusesMissingMessage) {
    expect_refused("{}", errc::invalid_envelope);
    expect_refused(R"({"msg":{"type":"hang"}})", errc::invalid_envelope);
    expect_refused(R"({"Message":{"type":"hang"}})", errc::invalid_envelope);
    expect_refused(R"({"x":{"message":{"type":"hang"}}})", errc::invalid_envelope);
    expect_refused(R"({"type":"hang"})", errc::invalid_envelope);
}

TEST(ParseWebhook, RefusesMessageThatIsNotAnObject) {
    for (const char* msg : {"[]", R"([{"type":"hang"}])", R"("hang")", "1", "null", "false"}) {
        SCOPED_TRACE(msg);
        auto p = parse(std::string(R"({"message":)") + msg + "}");
        ASSERT_FALSE(p.result);
        EXPECT_EQ(p.result.error().code, errc::invalid_envelope);
        EXPECT_THAT(p.result.error().detail, HasSubstr("message"));
    }
}

TEST(ParseWebhook, RefusesMissingOrEmptyType) {
    expect_refused(R"({"message":{}})", errc::missing_type);
    expect_refused(R"({"message":{"timestamp":1,"call":{"id":"c","type":"webCall"}}})",
                   errc::missing_type);
    expect_refused(R"({"message":{"type":""}})", errc::missing_type);
    expect_refused(R"({"message":{"Type":"hang"}})", errc::missing_type);
}

TEST(ParseWebhook, RefusesTypeThatIsNotAString) {
    for (const char* t : {"42", "null", "true", "[\"hang\"]", R"({"name":"hang"})"}) {
        SCOPED_TRACE(t);
        auto p = parse(std::string(R"({"message":{"type":)") + t + "}}");
        ASSERT_FALSE(p.result);
        EXPECT_EQ(p.result.error().code, errc::invalid_field);
        EXPECT_EQ(p.result.error().detail, "message.type must be a string");
    }
}

TEST(ParseWebhook, RefusesEmptyBody) {
    auto p = parse("");
    ASSERT_FALSE(p.result);
    EXPECT_EQ(p.result.error().code, errc::malformed_json);
    EXPECT_EQ(p.result.error().detail, "empty body");
    expect_refused("   \r\n\t ", errc::malformed_json);
}

// Postgres cannot store U+0000: the body is kept with U+0000 as U+FDD0 U+FDD1 and U+FDD0 as
// U+FDD0 U+FDD0 (export-call turns them back), so the message is accepted, not lost.
TEST(ParseWebhook, AcceptsEscapedNulInValuesAndKeysKeepingTheBodyEscaped) {
    for (const char* nul : {
             R"({"message":{"type":"hang","a":"x\u0000y"}})",
             R"({"message":{"type":"hang\u0000"}})",
             R"({"message":{"type":"hang","x\u0000y":1}})",
             R"({"message":{"type":"hang","call":{"id":"c\u0000"}}})",
             R"({"message":{"type":"hang","deep":[{"k":["\u0000"]}]}})",
             R"({"message":{"type":"hang","deep":[{"\u0000":1}]}})",
             R"({"message":{"type":"transcript","transcript":"\u0000"}})",
             R"({"other":"\u0000","message":{"type":"hang"}})",
         }) {
        SCOPED_TRACE(nul);
        auto p = parse(nul);
        ASSERT_TRUE(p.result) << p.result.error().detail;
        EXPECT_NE(p.ev.body.find("\\uFDD0\\uFDD1"), std::string::npos) << p.ev.body;
        EXPECT_EQ(p.ev.body.find("\\u0000"), std::string::npos) << p.ev.body;
        EXPECT_EQ(p.ev.skeleton.find("\\u0000"), std::string::npos) << p.ev.skeleton;
    }
    auto call = parse(R"({"message":{"type":"hang","call":{"id":"c\u0000"}}})");
    ASSERT_TRUE(call.result);
    EXPECT_EQ(call.ev.call_id, "c\xEF\xB7\x90\xEF\xB7\x91");
    // U+FDD0 itself is doubled (raw or escaped), an escaped backslash before u0000 is text.
    auto marker = parse("{\"message\":{\"type\":\"hang\",\"a\":\"\xEF\xB7\x90\\ufdd0\\\\u0000\"}}");
    ASSERT_TRUE(marker.result) << marker.result.error().detail;
    EXPECT_NE(marker.ev.body.find("\xEF\xB7\x90\xEF\xB7\x90\\uFDD0\\uFDD0\\\\u0000"),
              std::string::npos)
        << marker.ev.body;
    // Other escapes of control characters are parsed as received.
    auto other = parse(R"({"message":{"type":"hang","a":"\u0001\t\n\u001f \\u0000"}})");
    ASSERT_TRUE(other.result);
    EXPECT_EQ(other.ev.body.find("FDD"), std::string::npos) << other.ev.body;
}

TEST(ParseWebhook, RefusesRawControlCharactersAndInvalidUtf8) {
    expect_refused(std::string("{\"message\":{\"type\":\"hang\",\"a\":\"tab\there\"}}"),
                   errc::malformed_json);
    expect_refused(std::string("{\"message\":{\"type\":\"hang\",\"a\":\"new\nline\"}}"),
                   errc::malformed_json);
    expect_refused(std::string("{\"message\":{\"type\":\"hang\",\"a\":\"nul\0byte\"}}", 41),
                   errc::malformed_json);
    expect_refused(std::string("{\"message\":{\"type\":\"hang\"}}\0", 28), errc::malformed_json);
    expect_refused("{\"message\":{\"type\":\"hang\",\"a\":\"\xff\xfe\"}}", errc::malformed_json);
    expect_refused("{\"message\":{\"type\":\"hang\",\"a\":\"\xc3\"}}",
                   errc::malformed_json);  // truncated
    expect_refused("{\"message\":{\"type\":\"hang\",\"a\":\"\xed\xa0\x80\"}}",
                   errc::malformed_json);  // surrogate
}

TEST(ParseWebhook, RefusesLoneSurrogateEscapes) {
    expect_refused(R"({"message":{"type":"hang","a":"\ud800"}})", errc::malformed_json);
    expect_refused(R"({"message":{"type":"hang","a":"\ud800x"}})", errc::malformed_json);
    expect_refused(R"({"message":{"type":"hang","a":"\udc00\ud800"}})", errc::malformed_json);
    // A proper pair is fine.
    expect_accepted(R"({"message":{"type":"hang","a":"\ud83d\ude00"}})");
}

std::string nested_arrays(std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
}

TEST(ParseWebhook, AcceptsModerateNesting) {
    expect_accepted(R"({"message":{"type":"hang","n":)" + nested_arrays(100) + "}}");
    expect_accepted(R"({"n":)" + nested_arrays(100) + R"(,"message":{"type":"hang"}})");
}

TEST(ParseWebhook, RefusesDeepNestingWithoutCrashing) {
    for (std::size_t depth : {200u, 1'000u, 5'000u, 100'000u}) {
        SCOPED_TRACE(depth);
        expect_refused(R"({"message":{"type":"hang","n":)" + nested_arrays(depth) + "}}",
                       errc::malformed_json);
        expect_refused(R"({"n":)" + nested_arrays(depth) + R"(,"message":{"type":"hang"}})",
                       errc::malformed_json);
        std::string objects = R"({"message":{"type":"hang","n":)";
        for (std::size_t i = 0; i < depth; ++i) objects += R"({"a":)";
        objects += "1" + std::string(depth, '}') + "}}";
        expect_refused(objects, errc::malformed_json);
    }
    // Deep nesting inside the call object, which the parser walks field by field.
    expect_refused(
        R"({"message":{"type":"hang","call":{"id":"c","transport":)" + nested_arrays(300) + "}}}",
        errc::malformed_json);
    // Unbalanced deep nesting.
    expect_refused(R"({"message":{"type":"hang","n":)" + std::string(10'000, '[') + "}}",
                   errc::malformed_json);
}

TEST(ParseWebhook, LaterErrorsInvalidateEarlierSuccess) {
    // A valid message followed by an invalid envelope member is still refused: the body is
    // validated completely, not only up to the message.
    expect_refused(R"({"message":{"type":"hang"},"x":01})", errc::malformed_json);
    expect_refused(R"({"message":{"type":"hang"},"x":"\u0000","y":01})", errc::malformed_json);
}

TEST(ParseWebhook, ParserIsReusableAfterAnError) {
    expect_refused(R"({"message":{"type":"hang","n":[1,)", errc::malformed_json);
    const auto ev =
        expect_accepted(R"({"message":{"type":"status-update","status":"queued","timestamp":3}})");
    EXPECT_EQ(ev.dedupe_key, "status-update|3|queued");
}

// --- dedupe keys --------------------------------------------------------------------------------

std::string key_of(const std::string& body) {
    return expect_accepted(body).dedupe_key;
}

// Without a timestamp, two different messages of a type are two messages; the same message
// twice (whatever its call object or artifact, e.g. new presigned URLs) is one.
TEST(DedupeKey, WithoutTimestampTheContentTellsMessagesApart) {
    const auto a = key_of(R"({"message":{"type":"hang","note":"first","call":{"id":"c"}}})");
    const auto b = key_of(R"({"message":{"type":"hang","note":"second","call":{"id":"c"}}})");
    EXPECT_NE(a, b);
    EXPECT_EQ(a, key_of(R"({"message":{"type":"hang","note":"first",
        "call":{"id":"c","status":"ended"},"artifact":{"presignedMonoUrl":"https://x/?sig=2"}}})"));
    EXPECT_NE(key_of(R"({"message":{"type":"conversation-update","messages":[{"role":"user"}]}})"),
              key_of(R"({"message":{"type":"conversation-update","messages":[{"role":"bot"}]}})"));
    // With a timestamp the key is as before; the report is one per call in any case.
    EXPECT_EQ(key_of(R"({"message":{"type":"hang","timestamp":5,"note":"x"}})"), "hang|5");
    EXPECT_EQ(key_of(R"({"message":{"type":"end-of-call-report","endedReason":"x"}})"),
              "end-of-call-report");
}

// Two conversation updates in one millisecond are two messages (the conversation grew).
TEST(DedupeKey, ConversationUpdatesOfOneMillisecondDifferByLength) {
    const auto one = key_of(R"({"message":{"type":"conversation-update","timestamp":9,
        "messages":[{"role":"tool_calls"}],"messagesOpenAIFormatted":[{"role":"assistant"}]}})");
    const auto two = key_of(R"({"message":{"type":"conversation-update","timestamp":9,
        "messages":[{"role":"tool_calls"},{"role":"tool_call_result"}],
        "messagesOpenAIFormatted":[{"role":"assistant"},{"role":"tool"}]}})");
    EXPECT_EQ(one, "conversation-update|9|n:1/1");
    EXPECT_EQ(two, "conversation-update|9|n:2/2");
}

// model-output is sent per token, several in the same millisecond: each token is a message.
TEST(DedupeKey, ModelOutputTokensOfOneMillisecondAreDistinct) {
    const auto one = key_of(R"({"message":{"type":"model-output","timestamp":7,"output":"Sure"}})");
    const auto two = key_of(R"({"message":{"type":"model-output","timestamp":7,"output":","}})");
    const auto call =
        key_of(R"({"message":{"type":"model-output","timestamp":7,"output":{"id":"t1"}}})");
    EXPECT_NE(one, two);
    EXPECT_NE(one, call);
    EXPECT_EQ(call,
              key_of(R"({"message":{"type":"model-output","timestamp":7,"output":{"id":"t1"}}})"));
}

TEST(DedupeKey, SameMessageTwiceSameKey) {
    for (const auto& ex : test::webhook_examples()) {
        SCOPED_TRACE(ex.name);
        EXPECT_EQ(key_of(ex.body), key_of(ex.body));
    }
}

TEST(DedupeKey, ExamplesHaveDistinctKeysPerCall) {
    std::map<std::pair<std::string, std::string>, std::string> seen;
    for (const auto& ex : test::webhook_examples()) {
        const auto ev = expect_accepted(ex.body);
        auto [it, fresh] = seen.emplace(std::make_pair(ev.call_id, ev.dedupe_key), ex.name);
        EXPECT_TRUE(fresh) << ex.name << " collides with " << it->second;
    }
}

TEST(DedupeKey, StatusUpdateWithDifferentStatusDiffers) {
    const auto a =
        key_of(R"({"message":{"type":"status-update","timestamp":100,"status":"ringing"}})");
    const auto b =
        key_of(R"({"message":{"type":"status-update","timestamp":100,"status":"in-progress"}})");
    EXPECT_NE(a, b);
    EXPECT_EQ(a, "status-update|100|ringing");
}

TEST(DedupeKey, TranscriptsWithDifferentTextDiffer) {
    const auto a = key_of(
        R"({"message":{"type":"transcript","timestamp":100,"role":"user","transcriptType":"partial","transcript":"Hi, I'd"}})");
    const auto b = key_of(
        R"({"message":{"type":"transcript","timestamp":100,"role":"user","transcriptType":"partial","transcript":"Hi, I'd like"}})");
    EXPECT_NE(a, b);
    EXPECT_THAT(a, StartsWith("transcript|100|user|partial|"));
    EXPECT_THAT(b, StartsWith("transcript|100|user|partial|"));
}

TEST(DedupeKey, TranscriptKeyDependsOnRoleAndTranscriptType) {
    const auto user = key_of(
        R"({"message":{"type":"transcript","timestamp":1,"role":"user","transcriptType":"final","transcript":"ok"}})");
    const auto bot = key_of(
        R"({"message":{"type":"transcript","timestamp":1,"role":"assistant","transcriptType":"final","transcript":"ok"}})");
    const auto partial = key_of(
        R"({"message":{"type":"transcript","timestamp":1,"role":"user","transcriptType":"partial","transcript":"ok"}})");
    EXPECT_NE(user, bot);
    EXPECT_NE(user, partial);
}

TEST(DedupeKey, TextHashUsesTheUnescapedText) {
    const auto plain =
        key_of(R"({"message":{"type":"voice-input","timestamp":1,"input":"hello"}})");
    const auto escaped =
        key_of(R"({"message":{"type":"voice-input","timestamp":1,"input":"h\u0065llo"}})");
    EXPECT_EQ(plain, escaped);
    EXPECT_EQ(plain, "voice-input|1|005a0d15131ec7a1");  // FNV-1a 64 of "hello"
}

TEST(DedupeKey, SpeechUpdateTurnAndRoleMatter) {
    const auto t0 = key_of(
        R"({"message":{"type":"speech-update","timestamp":1,"status":"started","role":"user","turn":0}})");
    const auto t1 = key_of(
        R"({"message":{"type":"speech-update","timestamp":1,"status":"started","role":"user","turn":1}})");
    const auto bot = key_of(
        R"({"message":{"type":"speech-update","timestamp":1,"status":"started","role":"assistant","turn":0}})");
    const auto stopped = key_of(
        R"({"message":{"type":"speech-update","timestamp":1,"status":"stopped","role":"user","turn":0}})");
    EXPECT_NE(t0, t1);
    EXPECT_NE(t0, bot);
    EXPECT_NE(t0, stopped);
    EXPECT_EQ(t0, "speech-update|1|started|user|0");
}

TEST(DedupeKey, TurnsThatAreNotInt64sKeepTheirOwnKeys) {
    const auto key = [](const std::string& turn) {
        return key_of(R"({"message":{"type":"speech-update","timestamp":1,"status":"started",)"
                      R"("role":"user","turn":)" +
                      turn + "}}");
    };
    // An integer, however written, keys as before.
    EXPECT_EQ(key("3"), "speech-update|1|started|user|3");
    EXPECT_EQ(key("3.0"), key("3"));
    EXPECT_EQ(key("-9007199254740993"), "speech-update|1|started|user|-9007199254740992");
    // A fraction or a number beyond int64 is no int64 (the conversion would overflow or
    // truncate, and two messages would share a key): it keys as written.
    EXPECT_EQ(key("0.2"), "speech-update|1|started|user|0.2");
    EXPECT_NE(key("0.2"), key("0.7"));
    EXPECT_NE(key("1e19"), key("2e19"));
    EXPECT_EQ(key("1e19"), "speech-update|1|started|user|1e19");
}

TEST(DedupeKey, LongKeysHaveTheirTailHashed) {
    // Postgres refuses primary-key entries over 2,704 bytes: the key stays under 1,024.
    std::string ids;
    std::string body = R"({"message":{"type":"tool-calls","timestamp":7,"toolCallList":[)";
    for (int i = 0; i < 300; ++i) {
        if (i != 0) body += ',';
        const std::string id =
            "call_" + std::string(40, static_cast<char>('a' + i % 26)) + std::to_string(i);
        body += R"({"id":")" + id + R"(","type":"function","function":{"name":"f"}})";
    }
    body += "]}}";
    const std::string key = key_of(body);
    EXPECT_LE(key.size(), switchboard::ingest::k_max_dedupe_key_bytes);
    EXPECT_TRUE(key.starts_with("tool-calls|7|h:")) << key;
    EXPECT_EQ(key.size(), std::string("tool-calls|7|h:").size() + 32);
    // Another list of ids, another key; the same list, the same key.
    std::string other = body;
    other.replace(other.find("call_"), 5, "CALL_");
    EXPECT_NE(key_of(other), key);
    EXPECT_EQ(key_of(body), key);
    // Short keys are unchanged.
    EXPECT_EQ(
        key_of(R"({"message":{"type":"tool-calls","timestamp":7,"toolCallList":[{"id":"a"}]}})"),
        "tool-calls|7|a");
}

TEST(ParseWebhook, RefusesATypeOrCallIdLongerThanTheKeyAllows) {
    const std::string type(switchboard::ingest::k_max_type_bytes + 1, 't');
    auto p = parse(R"({"message":{"type":")" + type + R"(","timestamp":1}})");
    ASSERT_FALSE(p.result);
    EXPECT_EQ(p.result.error().code, errc::invalid_field);
    EXPECT_EQ(p.result.error().detail, "message.type is longer than 128 bytes");
    EXPECT_TRUE(parse(R"({"message":{"type":")" + type.substr(1) + R"(","timestamp":1}})").result);

    const std::string id(switchboard::ingest::k_max_call_id_bytes + 1, 'c');
    auto q = parse(R"({"message":{"type":"hang","timestamp":1,"call":{"id":")" + id + R"("}}})");
    ASSERT_FALSE(q.result);
    EXPECT_EQ(q.result.error().code, errc::invalid_field);
    EXPECT_EQ(q.result.error().detail, "the call id (message.call.id) is longer than 256 bytes");
    EXPECT_TRUE(parse(R"({"message":{"type":"hang","timestamp":1,"call":{"id":")" + id.substr(1) +
                      R"("}}})")
                    .result);
    // The chat id stands for the call id when there is none: bounded the same way.
    auto chat =
        parse(R"({"message":{"type":"chat.created","timestamp":1,"chat":{"id":")" + id + R"("}}})");
    EXPECT_FALSE(chat.result);
}

TEST(DedupeKey, DifferentTimestampsDiffer) {
    EXPECT_NE(key_of(R"({"message":{"type":"conversation-update","timestamp":1}})"),
              key_of(R"({"message":{"type":"conversation-update","timestamp":2}})"));
}

TEST(DedupeKey, EndOfCallReportIndependentOfTimestamp) {
    const auto a = key_of(
        R"({"message":{"type":"end-of-call-report","timestamp":1749737028100,"call":{"id":"c"}}})");
    const auto b = key_of(
        R"({"message":{"type":"end-of-call-report","timestamp":1749737099999,"call":{"id":"c"}}})");
    const auto none = key_of(R"({"message":{"type":"end-of-call-report","call":{"id":"c"}}})");
    EXPECT_EQ(a, b);
    EXPECT_EQ(a, none);
    EXPECT_EQ(a, "end-of-call-report");
}

TEST(ParseWebhook, EndOfCallReportIsFiledUnderItsEndTimeNotItsTimestamp) {
    // sent_at is part of call_events' primary key: a redelivery with a new timestamp must land
    // on the same key, so the report is filed under endedAt, which every delivery repeats.
    auto parse = [](const std::string& json) {
        const std::string body = padded(json);
        event ev;
        EXPECT_TRUE(parse_webhook(body, ev));
        return ev;
    };
    const auto a = parse(
        R"({"message":{"type":"end-of-call-report","timestamp":1749737028100,"endedAt":"2025-06-12T14:03:43.900Z","call":{"id":"c"}}})");
    const auto b = parse(
        R"({"message":{"type":"end-of-call-report","timestamp":1749737099999,"endedAt":"2025-06-12T14:03:43.900Z","call":{"id":"c"}}})");
    EXPECT_EQ(a.sent_at_ms, 1749737023900);
    EXPECT_EQ(a.sent_at_ms, b.sent_at_ms);
    EXPECT_EQ(a.dedupe_key, b.dedupe_key);
    EXPECT_NE(a.timestamp_ms, b.timestamp_ms);
    // Other types are filed under their own timestamp.
    const auto hang =
        parse(R"({"message":{"type":"hang","timestamp":1749737004100,"call":{"id":"c"}}})");
    EXPECT_EQ(hang.sent_at_ms, 1749737004100);
}

TEST(ObjectMembers, SplitsTheTopLevelMembersAsWritten) {
    const std::string json =
        "{ \"a\": 1 ,\"b\" :{\"x\": [1, {\"y\": \"}\"}]},\n\"c\\u0041\":\"s\\\"q\" ,\"d\":[] }  ";
    std::vector<object_member> members;
    ASSERT_TRUE(object_members(json, members));
    std::vector<std::string> texts;
    for (const auto& m : members) texts.push_back(json.substr(m.begin, m.end - m.begin));
    EXPECT_THAT(texts, ::testing::ElementsAre("\"a\": 1", "\"b\" :{\"x\": [1, {\"y\": \"}\"}]}",
                                              "\"c\\u0041\":\"s\\\"q\"", "\"d\":[]"));
    // Keys compare unescaped: "c\u0041" is "cA".
    std::vector<object_member> other;
    ASSERT_TRUE(object_members(R"({"cA": "s\"q"})", other));
    EXPECT_EQ(other[0].key_hash, members[2].key_hash);
    EXPECT_NE(other[0].member_hash, members[2].member_hash);  // the bytes differ
    ASSERT_TRUE(object_members(R"({"d":[], "a": 1})", other));
    EXPECT_EQ(other[0].member_hash, members[3].member_hash);
    EXPECT_EQ(other[1].member_hash, members[0].member_hash);
}

TEST(ObjectMembers, RefusesWhatIsNotAnObject) {
    std::vector<object_member> members;
    EXPECT_FALSE(object_members("[1, 2]", members));
    EXPECT_FALSE(object_members("\"x\"", members));
    EXPECT_TRUE(object_members("{}", members));
    EXPECT_TRUE(members.empty());
}

TEST(DedupeKey, IgnoresPresignedUrlsAndOtherVolatileFields) {
    // A redelivery carries fresh presigned URLs: the key must not change.
    const auto a = key_of(
        R"({"message":{"type":"status-update","timestamp":5,"status":"ended","artifact":{"recordingUrl":"https://s/a?sig=1"},"call":{"id":"c","updatedAt":"2025-01-01T00:00:00Z"}}})");
    const auto b = key_of(
        R"({"message":{"type":"status-update","timestamp":5,"status":"ended","artifact":{"recordingUrl":"https://s/a?sig=2"},"call":{"id":"c","updatedAt":"2025-01-01T00:00:01Z"}}})");
    EXPECT_EQ(a, b);

    const std::string report = test::example_file("12-end-of-call-report.json");
    std::string redelivered = report;
    const std::string url = "1749737026000-mono.wav";
    const auto pos = redelivered.find(url);
    ASSERT_NE(pos, std::string::npos);
    redelivered.replace(pos, url.size(), "1749737026000-mono.wav?X-Amz-Signature=abcdef");
    EXPECT_EQ(key_of(report), key_of(redelivered));
}

TEST(DedupeKey, ToolCallsDifferByToolCallIds) {
    const auto a =
        key_of(R"({"message":{"type":"tool-calls","timestamp":1,"toolCallList":[{"id":"x"}]}})");
    const auto b =
        key_of(R"({"message":{"type":"tool-calls","timestamp":1,"toolCallList":[{"id":"y"}]}})");
    EXPECT_NE(a, b);
    EXPECT_EQ(a, "tool-calls|1|x");
}

TEST(DedupeKey, MakeDedupeKeyFormat) {
    dedupe_parts parts;
    EXPECT_EQ(make_dedupe_key("hang", 123, message_type::hang, parts), "hang|123");
    EXPECT_EQ(make_dedupe_key("hang", std::nullopt, message_type::hang, parts), "hang|");
    parts.status = "ended";
    EXPECT_EQ(make_dedupe_key("status-update", 9, message_type::status_update, parts),
              "status-update|9|ended");
    parts.role = "user";
    parts.transcript_type = "final";
    parts.turn = 3;
    parts.discriminator = "d1,d2";
    parts.text_hash = 0xabc;
    EXPECT_EQ(make_dedupe_key("x", 1, message_type::unknown, parts),
              "x|1|ended|user|final|3|d1,d2|0000000000000abc");
    EXPECT_EQ(make_dedupe_key("end-of-call-report", 1, message_type::end_of_call_report, parts),
              "end-of-call-report");
    parts = {};
    parts.turn = 0;
    EXPECT_EQ(make_dedupe_key("speech-update", -5, message_type::speech_update, parts),
              "speech-update|-5|0");
    parts = {};
    parts.text_hash = 0xffffffffffffffffull;
    EXPECT_EQ(make_dedupe_key("t", 1, message_type::transcript, parts), "t|1|ffffffffffffffff");
}

}  // namespace
}  // namespace switchboard::ingest
