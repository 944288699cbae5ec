// Replies to the Vapi messages that expect one: reply shapes, handler-reply validation, the
// routing table, the facts the parser collects for replies, the replier's choices and the
// replies configuration. (The shapes are checked against the SDK types by the e2e tests, which
// run ../shared/vapi/check-conformance.sh on every reply the service sends.)
#include "switchboard/ingest/replies.hpp"
#include "switchboard/config/config.hpp"
#include "switchboard/http/client.hpp"
#include "switchboard/ingest/parse.hpp"
#include "switchboard/ingest/routing.hpp"

#include "support/examples.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace switchboard::ingest {
namespace {

using ::testing::HasSubstr;
using vapi::message_type;
namespace json = boost::json;

json::value js(const std::string& text) {
    return json::parse(text);
}

event parsed(std::string body) {
    body.reserve(body.size() + 64);
    event ev;
    auto r = parse_webhook(body, ev);
    EXPECT_TRUE(r) << (r ? "" : r.error().detail);
    ev.body = std::move(body);
    return ev;
}

// --- reply bodies ------------------------------------------------------------------------------

TEST(ReplyBody, RoutedNamesExactlyOneTarget) {
    EXPECT_EQ(js(reply_body::routed({route::kind::assistant, "a-1"})),
              js(R"({"assistantId":"a-1"})"));
    EXPECT_EQ(js(reply_body::routed({route::kind::workflow, "w-1"})),
              js(R"({"workflowId":"w-1"})"));
    EXPECT_EQ(js(reply_body::routed({route::kind::squad, "s-1"})), js(R"({"squadId":"s-1"})"));
}

TEST(ReplyBody, StringsAreJsonEscaped) {
    const std::string nasty = "say \"hi\"\\\n\t\x01 é";
    EXPECT_EQ(js(reply_body::error(nasty)).at("error").as_string(), nasty);
    EXPECT_EQ(js(reply_body::routed({route::kind::assistant, nasty})).at("assistantId").as_string(),
              nasty);
}

TEST(ReplyBody, ToolCallsErrorAnswersEveryCall) {
    const std::vector<reply_facts::tool_call> calls = {{"call_1", "lookup"}, {"call_2", "book"}};
    const auto v = js(reply_body::tool_calls_error(calls, "handler down"));
    EXPECT_EQ(v, js(R"({"results":[
        {"toolCallId":"call_1","name":"lookup","error":"handler down"},
        {"toolCallId":"call_2","name":"book","error":"handler down"}]})"));
    // No call to answer: an empty list and the top-level error.
    EXPECT_EQ(js(reply_body::tool_calls_error({}, "x")), js(R"({"results":[],"error":"x"})"));
}

TEST(ReplyBody, HandoffErrorHasTheRequiredDestination) {
    EXPECT_EQ(js(reply_body::handoff_error("no")), js(R"({"destination":{},"error":"no"})"));
}

TEST(ReplyBody, ConfiguredReplies) {
    EXPECT_EQ(reply_body::endpointing(0.5), R"({"timeoutSeconds":0.5})");
    EXPECT_EQ(reply_body::endpointing(1.2), R"({"timeoutSeconds":1.2})");
    EXPECT_EQ(reply_body::endpointing(0), R"({"timeoutSeconds":0})");
    EXPECT_EQ(reply_body::predial(true), R"({"eligible":true})");
    EXPECT_EQ(reply_body::predial(false), R"({"eligible":false})");
    EXPECT_EQ(reply_body::no_documents(), R"({"documents":[]})");
}

TEST(ReplyBody, ErrorReplyHasTheShapeOfEachRelayedType) {
    const std::vector<reply_facts::tool_call> calls = {{"c", "f"}};
    EXPECT_EQ(js(error_reply(message_type::tool_calls, calls, "m")),
              js(R"({"results":[{"toolCallId":"c","name":"f","error":"m"}]})"));
    EXPECT_EQ(js(error_reply(message_type::transfer_destination_request, calls, "m")),
              js(R"({"error":"m"})"));
    EXPECT_EQ(js(error_reply(message_type::handoff_destination_request, calls, "m")),
              js(R"({"destination":{},"error":"m"})"));
    EXPECT_EQ(js(error_reply(message_type::knowledge_base_request, calls, "m")),
              js(R"({"documents":[]})"));
}

TEST(ReplyBody, OutcomeLabels) {
    EXPECT_EQ(to_string(reply_outcome::defaulted), "default");
    EXPECT_EQ(to_string(reply_outcome::relay_timeout), "relay_timeout");
    EXPECT_EQ(to_string(reply_outcome::refused), "refused");
    EXPECT_TRUE(is_relayed(message_type::tool_calls));
    EXPECT_TRUE(is_relayed(message_type::knowledge_base_request));
    EXPECT_FALSE(is_relayed(message_type::assistant_request));
    EXPECT_FALSE(is_relayed(message_type::call_endpointing_request));
}

// --- handler replies ---------------------------------------------------------------------------

TEST(HandlerReply, MustBeAJsonObject) {
    EXPECT_FALSE(
        check_handler_reply(message_type::transfer_destination_request,
                            test::example_file("15-transfer-destination-request.response.json")));
    EXPECT_FALSE(check_handler_reply(message_type::knowledge_base_request, "{}"));
    EXPECT_THAT(check_handler_reply(message_type::knowledge_base_request, "not json").value_or(""),
                HasSubstr("not JSON"));
    EXPECT_THAT(check_handler_reply(message_type::knowledge_base_request, "[1]").value_or(""),
                HasSubstr("not a JSON object"));
    EXPECT_TRUE(check_handler_reply(message_type::handoff_destination_request, ""));
    EXPECT_TRUE(check_handler_reply(message_type::handoff_destination_request, "{} trailing"));
}

TEST(HandlerReply, ToolCallsNeedAResultsArray) {
    EXPECT_FALSE(check_handler_reply(message_type::tool_calls,
                                     test::example_file("08-tool-calls.response.json")));
    EXPECT_FALSE(check_handler_reply(message_type::tool_calls, R"({"results":[]})"));
    EXPECT_FALSE(check_handler_reply(message_type::tool_calls, R"({"error":"tool broke"})"));
    EXPECT_THAT(check_handler_reply(message_type::tool_calls, R"({"results":{}})").value_or(""),
                HasSubstr("not an array"));
    EXPECT_THAT(check_handler_reply(message_type::tool_calls, R"({})").value_or(""),
                HasSubstr("results"));
    EXPECT_TRUE(check_handler_reply(message_type::tool_calls, R"({"error":42})"));
}

// What the SDK's reply types require, checked or made so (conformance of what Vapi gets).
TEST(HandlerReply, ToolResultsAreMadeToConformAndAnswerEveryCall) {
    const std::vector<reply_facts::tool_call> calls = {{"c1", "lookup"}, {"c2", "book"}};
    std::string body = R"({"results":[{"toolCallId":"c1","result":{"found":true},"foo":1}]})";
    ASSERT_FALSE(conform_handler_reply(message_type::tool_calls, body, calls));
    const auto v = boost::json::parse(body);
    const auto& results = v.at("results").as_array();
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(
        results[0],
        boost::json::parse(R"({"toolCallId":"c1","result":"{\"found\":true}","name":"lookup"})"));
    EXPECT_EQ(results[1].at("toolCallId"), "c2");
    EXPECT_EQ(results[1].at("name"), "book");
    EXPECT_TRUE(results[1].at("error").is_string());

    // A conforming reply goes out byte for byte.
    const std::string as_sent = R"({"results":[{"toolCallId":"c1","name":"lookup","result":"ok"},)"
                                R"({"toolCallId":"c2","name":"book","error":"full"}]})";
    body = as_sent;
    ASSERT_FALSE(conform_handler_reply(message_type::tool_calls, body, calls));
    EXPECT_EQ(body, as_sent);

    for (const char* bad : {R"({"results":[1]})", R"({"results":[{"name":"x"}]})",
                            R"({"results":[{"toolCallId":"c9"}]})",
                            R"({"results":[{"toolCallId":"c1","message":"hi"}]})"}) {
        body = bad;
        EXPECT_TRUE(conform_handler_reply(message_type::tool_calls, body, calls)) << bad;
    }
}

TEST(HandlerReply, OtherTypesNeedTheirRequiredMembers) {
    using enum message_type;
    EXPECT_TRUE(check_handler_reply(handoff_destination_request, "{}"));
    EXPECT_TRUE(check_handler_reply(handoff_destination_request, R"({"destination":"x"})"));
    EXPECT_FALSE(
        check_handler_reply(handoff_destination_request,
                            R"({"destination":{"type":"assistant","assistantName":"b"}})"));
    EXPECT_TRUE(check_handler_reply(transfer_destination_request, R"({"destination":{}})"));
    EXPECT_FALSE(check_handler_reply(transfer_destination_request, R"({"error":"no one free"})"));
    EXPECT_TRUE(check_handler_reply(knowledge_base_request, R"({"documents":[{"content":"a"}]})"));
    EXPECT_FALSE(check_handler_reply(knowledge_base_request,
                                     R"({"documents":[{"content":"a","similarity":0.8}]})"));
}

// --- routing table -----------------------------------------------------------------------------

phone_route row(std::string id, std::string number, std::optional<route> target,
                std::int64_t updated = 0) {
    return {std::move(id), std::move(number), std::move(target), updated};
}

TEST(RoutingTable, EmptyUntilLoaded) {
    routing_table t;
    EXPECT_FALSE(t.loaded());
    EXPECT_FALSE(t.lookup("pn-1", "+14155550100"));
    t.replace({});
    EXPECT_TRUE(t.loaded());
    EXPECT_EQ(t.size(), 0u);
}

TEST(RoutingTable, LooksUpByIdThenByNumber) {
    routing_table t;
    t.replace({row("pn-1", "+14155550100", route{route::kind::assistant, "a-1"}),
               row("pn-2", "+14155550200", route{route::kind::workflow, "w-2"}),
               row("pn-3", "", route{route::kind::squad, "s-3"})});
    EXPECT_EQ(t.size(), 3u);
    EXPECT_EQ(t.lookup("pn-1", ""), (route{route::kind::assistant, "a-1"}));
    EXPECT_EQ(t.lookup("", "+14155550200"), (route{route::kind::workflow, "w-2"}));
    EXPECT_EQ(t.lookup("pn-3", "+19999999999"), (route{route::kind::squad, "s-3"}));
    // The id wins over the number; an unknown id falls back to the number.
    EXPECT_EQ(t.lookup("pn-1", "+14155550200"), (route{route::kind::assistant, "a-1"}));
    EXPECT_EQ(t.lookup("pn-unknown", "+14155550200"), (route{route::kind::workflow, "w-2"}));
    EXPECT_FALSE(t.lookup("pn-unknown", "+10000000000"));
    EXPECT_FALSE(t.lookup("", ""));
}

// A known row without a route is final: another row of the same number (an older import of
// it, another owner's before the number was bought again) never answers for it.
TEST(RoutingTable, AKnownRowWithoutARouteHasNone) {
    routing_table t;
    t.replace({row("pn-new", "+14155550100", std::nullopt, 200),
               row("pn-old", "+14155550100", route{route::kind::assistant, "a-old"}, 100)});
    EXPECT_EQ(t.size(), 1u);
    EXPECT_FALSE(t.lookup("pn-new", ""));
    EXPECT_FALSE(t.lookup("pn-new", "+14155550100"));
    EXPECT_EQ(t.lookup("pn-old", "+14155550100"), (route{route::kind::assistant, "a-old"}));
    // An unknown id goes by the number's newest row, which has no route.
    EXPECT_FALSE(t.lookup("pn-unknown", "+14155550100"));
    // With the routed row the newest, the number routes through it.
    t.replace({row("pn-new", "+14155550100", std::nullopt, 100),
               row("pn-old", "+14155550100", route{route::kind::assistant, "a-old"}, 200)});
    EXPECT_EQ(t.lookup("pn-unknown", "+14155550100"), (route{route::kind::assistant, "a-old"}));
    EXPECT_FALSE(t.lookup("pn-new", "+14155550100"));
    // Of several ids, the first the table knows decides.
    EXPECT_FALSE(t.lookup({"pn-unknown", "pn-new"}, "+14155550100"));
    EXPECT_EQ(t.lookup({"", "pn-old"}, ""), (route{route::kind::assistant, "a-old"}));
}

TEST(RoutingTable, TheNewestRowOfANumberWins) {
    routing_table t;
    t.replace({row("pn-old", "+14155550100", route{route::kind::assistant, "old"}, 100),
               row("pn-new", "+14155550100", route{route::kind::assistant, "new"}, 200)});
    EXPECT_EQ(t.lookup("", "+14155550100")->id, "new");
    t.replace({row("pn-new", "+14155550100", route{route::kind::assistant, "new"}, 200),
               row("pn-old", "+14155550100", route{route::kind::assistant, "old"}, 100)});
    EXPECT_EQ(t.lookup("", "+14155550100")->id, "new");
    // A tie is broken by id, whatever the order of the rows.
    t.replace({row("pn-b", "+1", route{route::kind::assistant, "b"}, 5),
               row("pn-a", "+1", route{route::kind::assistant, "a"}, 5)});
    EXPECT_EQ(t.lookup("", "+1")->id, "b");
    t.replace({row("pn-a", "+1", route{route::kind::assistant, "a"}, 5),
               row("pn-b", "+1", route{route::kind::assistant, "b"}, 5)});
    EXPECT_EQ(t.lookup("", "+1")->id, "b");
}

TEST(RoutingTable, ReplaceIsAtomicForConcurrentReaders) {
    routing_table t;
    t.replace({row("pn", "+1", route{route::kind::assistant, "v0"})});
    std::atomic<bool> stop{false};
    std::atomic<int> bad{0};
    std::atomic<long> reads{0};
    std::vector<std::thread> readers;
    for (int i = 0; i < 2; ++i) {
        readers.emplace_back([&] {
            while (!stop) {
                // Both keys always agree: they come from the same snapshot.
                auto by_id = t.lookup("pn", "");
                auto by_number = t.lookup("", "+1");
                if (!by_id || !by_number || by_id->id.rfind('v', 0) != 0) ++bad;
                ++reads;
            }
        });
    }
    for (int v = 1; v <= 2000; ++v) {
        t.replace({row("pn", "+1", route{route::kind::assistant, "v" + std::to_string(v)})});
    }
    while (reads < 1000) std::this_thread::yield();
    stop = true;
    for (auto& r : readers) r.join();
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(t.lookup("pn", "")->id, "v2000");
}

// --- what the parser collects for replies ------------------------------------------------------

TEST(ReplyFacts, AssistantRequestCarriesThePhoneNumber) {
    const event ev = parsed(test::example_file("01-assistant-request.json"));
    EXPECT_EQ(ev.type, message_type::assistant_request);
    EXPECT_EQ(ev.reply.phone_number, "+14155550123");
    EXPECT_TRUE(ev.call.get(fact::phone_number_id).has_value());
    // phoneNumber.id (when present) and a phoneNumber before the type are read too.
    const event ev2 =
        parsed(R"({"message":{"phoneNumber":{"id":"pn-9","number":"+1555","provider":"vapi"},)"
               R"("type":"assistant-request","call":{"id":"c"}}})");
    EXPECT_EQ(ev2.reply.phone_number_id, "pn-9");
    EXPECT_EQ(ev2.reply.phone_number, "+1555");
    EXPECT_FALSE(ev2.call.get(fact::phone_number_id).has_value());
}

TEST(ReplyFacts, OtherTypesSkipThePhoneNumber) {
    const event ev = parsed(test::example_file("02-status-update-queued.json"));
    EXPECT_TRUE(ev.reply.phone_number.empty());
    EXPECT_TRUE(ev.reply.phone_number_id.empty());
}

TEST(ReplyFacts, ToolCallsCarryEveryIdAndName) {
    const event ev = parsed(test::example_file("08-tool-calls.json"));
    ASSERT_EQ(ev.reply.tool_calls.size(), 1u);
    EXPECT_EQ(ev.reply.tool_calls[0].id, "call_Xq4mB7nR2tL9vK1pZ8wD3hYc");
    EXPECT_EQ(ev.reply.tool_calls[0].name, "checkAvailability");

    const event two = parsed(R"({"message":{"type":"tool-calls","timestamp":1,"toolCallList":[
        {"id":"a","type":"function","function":{"name":"f","arguments":{"x":1}}},
        {"function":{"name":"g"},"id":"b"},
        "not an object",
        {"id":"d"}]}})");
    ASSERT_EQ(two.reply.tool_calls.size(), 4u);
    EXPECT_EQ(two.reply.tool_calls[0].name, "f");
    EXPECT_EQ(two.reply.tool_calls[1].id, "b");
    EXPECT_EQ(two.reply.tool_calls[1].name, "g");
    EXPECT_EQ(two.reply.tool_calls[3].id, "d");
    EXPECT_EQ(two.reply.tool_calls[3].name, "");
    // The dedupe key still lists the ids as before.
    EXPECT_THAT(two.dedupe_key, HasSubstr("|a,b,,d"));
}

// --- the replier ---------------------------------------------------------------------------------

struct replier_fixture {
    config::replies_config cfg;
    routing_table routes;
    metrics::registry reg;
    std::unique_ptr<replier> make() { return std::make_unique<replier>(cfg, routes, nullptr, reg); }
};

TEST(Replier, AssistantRequestRoutesDefaultsOrSpeaksTheError) {
    replier_fixture f;
    f.cfg.unrouted_message = "Not in service.";
    auto r = f.make();
    const event ev = parsed(test::example_file("01-assistant-request.json"));
    auto out = r->immediate(ev);
    EXPECT_EQ(out.outcome, reply_outcome::unrouted);
    EXPECT_EQ(js(out.body), js(R"({"error":"Not in service."})"));

    f.cfg.default_squad_id = "squad-default";
    r = f.make();
    out = r->immediate(ev);
    EXPECT_EQ(out.outcome, reply_outcome::defaulted);
    EXPECT_EQ(js(out.body), js(R"({"squadId":"squad-default"})"));

    // By number, then by the call's phone number id, which wins.
    f.routes.replace({row("other-id", "+14155550123", route{route::kind::workflow, "w-num"})});
    out = r->immediate(ev);
    EXPECT_EQ(out.outcome, reply_outcome::routed);
    EXPECT_EQ(js(out.body), js(R"({"workflowId":"w-num"})"));
    f.routes.replace({row("other-id", "+14155550123", route{route::kind::workflow, "w-num"}),
                      row(std::string(ev.call.get(fact::phone_number_id).value_or("")), "",
                          route{route::kind::assistant, "a-id"})});
    out = r->immediate(ev);
    EXPECT_EQ(js(out.body), js(R"({"assistantId":"a-id"})"));
    // The call's own number known without a route: the default, not another (newer) row of
    // the same number, say another owner's before the number was bought again.
    f.routes.replace({row("other-id", "+14155550123", route{route::kind::workflow, "w-num"}, 200),
                      row(std::string(ev.call.get(fact::phone_number_id).value_or("")),
                          "+14155550123", std::nullopt, 100)});
    out = r->immediate(ev);
    EXPECT_EQ(out.outcome, reply_outcome::defaulted);
    EXPECT_EQ(js(out.body), js(R"({"squadId":"squad-default"})"));
}

TEST(Replier, ConfiguredAndNoHandlerReplies) {
    replier_fixture f;
    f.cfg.endpointing_timeout_seconds = 0.8;
    f.cfg.predial_eligible = false;
    f.cfg.relay_url = "http://127.0.0.1:9/hook";  // no client: nothing is relayed
    auto r = f.make();
    EXPECT_FALSE(r->relays(message_type::tool_calls));

    auto out = r->immediate(parsed(test::example_file("18-call.endpointing.request.json")));
    EXPECT_EQ(out.body, R"({"timeoutSeconds":0.8})");
    EXPECT_EQ(out.outcome, reply_outcome::configured);
    out = r->immediate(parsed(test::example_file("19-campaign.predial.json")));
    EXPECT_EQ(out.body, R"({"eligible":false})");

    out = r->immediate(parsed(test::example_file("08-tool-calls.json")));
    EXPECT_EQ(out.outcome, reply_outcome::no_handler);
    const auto v = js(out.body);
    ASSERT_EQ(v.at("results").as_array().size(), 1u);
    EXPECT_EQ(v.at("results").at(0).at("toolCallId"), "call_Xq4mB7nR2tL9vK1pZ8wD3hYc");
    EXPECT_THAT(std::string(v.at("results").at(0).at("error").as_string()),
                HasSubstr("no tool handler is configured"));

    out = r->immediate(parsed(test::example_file("15-transfer-destination-request.json")));
    EXPECT_EQ(out.outcome, reply_outcome::no_handler);
    EXPECT_THAT(out.body, HasSubstr("no transfer destination handler"));
    out = r->immediate(parsed(test::example_file("16-handoff-destination-request.json")));
    EXPECT_EQ(js(out.body).at("destination"), json::object());
    out = r->immediate(parsed(test::example_file("17-knowledge-base-request.json")));
    EXPECT_EQ(out.body, R"({"documents":[]})");

    out = r->immediate(parsed(test::example_file("20-voice-request.json")));
    EXPECT_EQ(out.outcome, reply_outcome::refused);
    EXPECT_THAT(out.body, HasSubstr("does not synthesize audio"));
}

TEST(Replier, PerTypeUrlsOverrideTheRelayUrl) {
    replier_fixture f;
    boost::asio::io_context ioc;
    http::client client(ioc.get_executor());
    f.cfg.knowledge_base_url = "http://127.0.0.1:9/kb";
    replier only_kb(f.cfg, f.routes, &client, f.reg);
    EXPECT_TRUE(only_kb.relays(message_type::knowledge_base_request));
    EXPECT_FALSE(only_kb.relays(message_type::tool_calls));
    EXPECT_FALSE(only_kb.relays(message_type::assistant_request));

    replier_fixture g;
    g.cfg.relay_url = "http://127.0.0.1:9/all";
    replier all(g.cfg, g.routes, &client, g.reg);
    for (auto t :
         {message_type::tool_calls, message_type::transfer_destination_request,
          message_type::handoff_destination_request, message_type::knowledge_base_request}) {
        EXPECT_TRUE(all.relays(t)) << vapi::to_string(t);
    }
    EXPECT_FALSE(all.relays(message_type::call_endpointing_request));
    EXPECT_FALSE(all.relays(message_type::assistant_request));
}

}  // namespace
}  // namespace switchboard::ingest

// --- configuration -----------------------------------------------------------------------------

namespace switchboard::config {
namespace {

using ::testing::HasSubstr;

parse_result run_with(std::vector<std::string> env) {
    env.emplace_back("DATABASE_URL=postgresql://db.example/sb");
    env.emplace_back("SWITCHBOARD_WEBHOOK_SECRET=s");
    std::vector<const char*> envp;
    for (const auto& e : env) envp.push_back(e.c_str());
    envp.push_back(nullptr);
    const char* argv[] = {"switchboard"};
    return parse(1, argv, envp.data());
}

std::string error_of(std::vector<std::string> env) {
    try {
        run_with(std::move(env));
    } catch (const config_error& e) {
        return e.what();
    }
    return "(accepted)";
}

TEST(RepliesConfig, Defaults) {
    const auto cfg = run_with({}).config->replies;
    EXPECT_TRUE(cfg.default_assistant_id.empty());
    EXPECT_TRUE(cfg.relay_url.empty());
    EXPECT_EQ(cfg.relay_timeout, std::chrono::milliseconds(4000));
    EXPECT_EQ(cfg.relay_secret_header, "X-Vapi-Secret");
    EXPECT_DOUBLE_EQ(cfg.endpointing_timeout_seconds, 0.5);
    EXPECT_TRUE(cfg.predial_eligible);
    EXPECT_FALSE(cfg.unrouted_message.empty());
}

TEST(RepliesConfig, FromTheEnvironment) {
    const auto cfg =
        run_with(
            {"SWITCHBOARD_DEFAULT_WORKFLOW_ID=wf-1", "SWITCHBOARD_UNROUTED_MESSAGE=Closed today.",
             "SWITCHBOARD_RELAY_URL=https://tools.example.com/vapi",
             "SWITCHBOARD_TOOL_CALLS_URL=http://127.0.0.1:3000/tools",
             "SWITCHBOARD_TRANSFER_DESTINATION_URL=http://h/t",
             "SWITCHBOARD_HANDOFF_DESTINATION_URL=http://h/h",
             "SWITCHBOARD_KNOWLEDGE_BASE_URL=http://h/kb", "SWITCHBOARD_RELAY_TIMEOUT_MS=1500",
             "SWITCHBOARD_RELAY_SECRET=relay-s",
             "SWITCHBOARD_RELAY_SECRET_HEADER=X-Switchboard-Secret",
             "SWITCHBOARD_ENDPOINTING_TIMEOUT_SECONDS=1.25", "SWITCHBOARD_PREDIAL_ELIGIBLE=false"})
            .config->replies;
    EXPECT_EQ(cfg.default_workflow_id, "wf-1");
    EXPECT_EQ(cfg.unrouted_message, "Closed today.");
    EXPECT_EQ(cfg.relay_url, "https://tools.example.com/vapi");
    EXPECT_EQ(cfg.tool_calls_url, "http://127.0.0.1:3000/tools");
    EXPECT_EQ(cfg.transfer_destination_url, "http://h/t");
    EXPECT_EQ(cfg.handoff_destination_url, "http://h/h");
    EXPECT_EQ(cfg.knowledge_base_url, "http://h/kb");
    EXPECT_EQ(cfg.relay_timeout, std::chrono::milliseconds(1500));
    EXPECT_EQ(cfg.relay_secret, "relay-s");
    EXPECT_EQ(cfg.relay_secret_header, "X-Switchboard-Secret");
    EXPECT_DOUBLE_EQ(cfg.endpointing_timeout_seconds, 1.25);
    EXPECT_FALSE(cfg.predial_eligible);
}

TEST(RepliesConfig, BadValuesNameTheSetting) {
    EXPECT_THAT(error_of({"SWITCHBOARD_RELAY_URL=ftp://x/y"}), HasSubstr("--relay-url"));
    EXPECT_THAT(error_of({"SWITCHBOARD_RELAY_URL=not a url"}), HasSubstr("SWITCHBOARD_RELAY_URL"));
    EXPECT_THAT(error_of({"SWITCHBOARD_TOOL_CALLS_URL=http://"}), HasSubstr("--tool-calls-url"));
    EXPECT_THAT(error_of({"SWITCHBOARD_KNOWLEDGE_BASE_URL=http://user:pw@h/x"}),
                HasSubstr("--knowledge-base-url"));
    EXPECT_THAT(error_of({"SWITCHBOARD_RELAY_TIMEOUT_MS=0"}), HasSubstr("--relay-timeout-ms"));
    EXPECT_THAT(error_of({"SWITCHBOARD_RELAY_TIMEOUT_MS=99999999"}),
                HasSubstr("--relay-timeout-ms"));
    EXPECT_THAT(error_of({"SWITCHBOARD_ENDPOINTING_TIMEOUT_SECONDS=-1"}),
                HasSubstr("--endpointing-timeout-seconds"));
    EXPECT_THAT(error_of({"SWITCHBOARD_ENDPOINTING_TIMEOUT_SECONDS=abc"}),
                HasSubstr("--endpointing-timeout-seconds"));
    EXPECT_THAT(error_of({"SWITCHBOARD_PREDIAL_ELIGIBLE=maybe"}), HasSubstr("--predial-eligible"));
    EXPECT_THAT(error_of({"SWITCHBOARD_UNROUTED_MESSAGE="}), HasSubstr("--unrouted-message"));
    EXPECT_THAT(error_of({"SWITCHBOARD_DEFAULT_ASSISTANT_ID=a", "SWITCHBOARD_DEFAULT_SQUAD_ID=s"}),
                HasSubstr("at most one"));
}

TEST(RepliesConfig, HelpListsEveryFlagWithItsVariable) {
    const char* argv[] = {"switchboard", "--help"};
    const char* envp[] = {nullptr};
    const auto r = parse(2, argv, envp);
    for (const char* v :
         {"SWITCHBOARD_DEFAULT_ASSISTANT_ID", "SWITCHBOARD_DEFAULT_WORKFLOW_ID",
          "SWITCHBOARD_DEFAULT_SQUAD_ID", "SWITCHBOARD_UNROUTED_MESSAGE", "SWITCHBOARD_RELAY_URL",
          "SWITCHBOARD_TOOL_CALLS_URL", "SWITCHBOARD_TRANSFER_DESTINATION_URL",
          "SWITCHBOARD_HANDOFF_DESTINATION_URL", "SWITCHBOARD_KNOWLEDGE_BASE_URL",
          "SWITCHBOARD_RELAY_TIMEOUT_MS", "SWITCHBOARD_RELAY_SECRET",
          "SWITCHBOARD_RELAY_SECRET_HEADER", "SWITCHBOARD_ENDPOINTING_TIMEOUT_SECONDS",
          "SWITCHBOARD_PREDIAL_ELIGIBLE"}) {
        EXPECT_THAT(r.output, HasSubstr(v));
    }
}

}  // namespace
}  // namespace switchboard::config
