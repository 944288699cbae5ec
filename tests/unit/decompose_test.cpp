#include "switchboard/ingest/parse.hpp"
#include "switchboard/store/export.hpp"

#include "support/examples.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace switchboard::ingest {
namespace {

event parsed(const std::string& json, std::string& body) {
    body = json;
    body.reserve(body.size() + 64);
    event ev;
    auto r = parse_webhook(body, ev);
    EXPECT_TRUE(r) << (r ? "" : r.error().detail);
    if (ev.body.empty()) ev.body = body;  // a body with U+0000 is kept escaped by the parse
    return ev;
}

boost::json::value message_of(const std::string& body) {
    return boost::json::parse(body).at("message");
}

TEST(Decompose, EveryExampleRebuildsJsonEqualFromSkeletonAndParts) {
    for (const auto& ex : test::webhook_examples()) {
        SCOPED_TRACE(ex.name);
        std::string body;
        const event ev = parsed(ex.body, body);
        const std::string rebuilt =
            store::rebuild_message(ev.skeleton, store::refs_json(ev), store::parts_of(ev));
        EXPECT_EQ(boost::json::parse(rebuilt), message_of(ex.body));
        // The skeleton is valid JSON on its own and holds none of the cut-out parts.
        const auto skeleton = boost::json::parse(ev.skeleton).as_object();
        for (const auto& ref : ev.refs) {
            const std::string_view path = ingest::path_name(ref.path);
            if (path.find('.') == std::string_view::npos) {
                EXPECT_FALSE(skeleton.contains(path)) << path;
            }
        }
    }
}

TEST(Decompose, RepeatedPartsAreCutOutOfTheSkeleton) {
    std::string body;
    const event ev = parsed(test::example_file("10-conversation-update.json"), body);
    std::vector<std::string> paths;
    for (const auto& ref : ev.refs) paths.emplace_back(ingest::path_name(ref.path));
    EXPECT_EQ(paths, (std::vector<std::string>{"messages", "messagesOpenAIFormatted", "call",
                                               "customer", "phoneNumber", "assistant"}));
    EXPECT_LT(ev.skeleton.size(), 200u) << ev.skeleton;
    EXPECT_EQ(ev.nodes.size(), 14u);  // 7 items in each format
    EXPECT_EQ(ev.blobs.size(), 4u);
}

TEST(Decompose, PackedRefsHoldEachPartInSeventeenBytes) {
    std::string body;
    event ev = parsed(test::example_file("10-conversation-update.json"), body);
    ev.refs.push_back({ref_path::artifact_messages, {}, true, true});  // an empty array
    std::string packed = "x";
    store::append_refs_packed(ev, packed);
    ASSERT_EQ(packed.size(), 1 + 17 * ev.refs.size());
    for (std::size_t i = 0; i < ev.refs.size(); ++i) {
        const part_ref& ref = ev.refs[i];
        const std::string_view entry = std::string_view(packed).substr(1 + 17 * i, 17);
        const bool empty = ref.is_array && ref.empty;
        EXPECT_EQ(static_cast<std::uint8_t>(entry[0]),
                  static_cast<std::uint8_t>(ref.path) + (empty ? 128 : 0));
        EXPECT_EQ(entry.substr(1),
                  empty ? std::string(16, '\0')
                        : std::string(reinterpret_cast<const char*>(ref.hash.data()), 16));
    }
}

TEST(Decompose, RefPathCodesNameTheirPaths) {
    // The codes are stored (call_events.refs_packed) and read back by switchboard_refs()
    // (schemas/sql/013), which names them in this order: they must never change.
    const std::vector<std::string_view> names = {"call",
                                                 "assistant",
                                                 "phoneNumber",
                                                 "customer",
                                                 "messages",
                                                 "messagesOpenAIFormatted",
                                                 "artifact.messages",
                                                 "artifact.messagesOpenAIFormatted"};
    for (std::uint8_t code = 1; code <= 8; ++code)
        EXPECT_EQ(path_name(static_cast<ref_path>(code)), names[code - 1]) << int{code};
}

TEST(Decompose, EndOfCallReportArtifactArraysAreCutOutOfTheNestedArtifact) {
    std::string body;
    const event ev = parsed(test::example_file("12-end-of-call-report.json"), body);
    bool artifact_messages = false;
    for (const auto& ref : ev.refs)
        artifact_messages = artifact_messages || ref.path == ingest::ref_path::artifact_messages;
    EXPECT_TRUE(artifact_messages);
    const auto skeleton = boost::json::parse(ev.skeleton);
    EXPECT_FALSE(skeleton.at("artifact").as_object().contains("messages"));
    EXPECT_TRUE(skeleton.at("artifact").as_object().contains("recordingUrl"));
}

TEST(Decompose, GrowingConversationSharesItsPrefixNodes) {
    // Two updates of the same call, the second with one more item: every node of the first
    // is a node of the second, which adds exactly one node per format.
    const std::string one =
        R"({"message":{"type":"conversation-update","timestamp":1,"call":{"id":"c"},"messages":[{"role":"user","message":"hi"}],"messagesOpenAIFormatted":[{"role":"user","content":"hi"}]}})";
    const std::string two =
        R"({"message":{"type":"conversation-update","timestamp":2,"call":{"id":"c"},"messages":[{"role":"user","message":"hi"},{"role":"bot","message":"hello"}],"messagesOpenAIFormatted":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}})";
    std::string b1, b2;
    const event e1 = parsed(one, b1);
    const event e2 = parsed(two, b2);
    ASSERT_EQ(e1.nodes.size(), 2u);
    ASSERT_EQ(e2.nodes.size(), 4u);
    std::set<std::string> second;
    for (const auto& n : e2.nodes) second.insert(to_uuid(n.node));
    for (const auto& n : e1.nodes)
        EXPECT_TRUE(second.count(to_uuid(n.node))) << "prefix node not shared";
    EXPECT_EQ(e1.blobs.front().hash, e2.blobs.front().hash);  // the same call object
}

TEST(Decompose, EmptyArraysRepeatedKeysAndWhitespaceSurvive) {
    const std::string tricky =
        "{ \"message\" : {\n \"type\" : \"conversation-update\" ,\"timestamp\":3,\n"
        " \"messages\" : [ ] , \"call\" : { \"id\" : \"c\" } ,\n"
        " \"messagesOpenAIFormatted\" : [ {\"role\":\"user\",\"content\":\"a\"} , "
        "{\"role\":\"user\",\"content\":\"b\"} ] ,"
        " \"artifact\": {\"messages\": [1], \"x\": 2, \"messages\": [ 3 , 4 ]},"
        " \"call\" : {\"id\":\"c\",\"v\":2} }\n}";
    std::string body;
    const event ev = parsed(tricky, body);
    const std::string rebuilt =
        store::rebuild_message(ev.skeleton, store::refs_json(ev), store::parts_of(ev));
    EXPECT_EQ(boost::json::parse(rebuilt).at("messages"), boost::json::array());
    EXPECT_EQ(boost::json::parse(rebuilt).at("call").at("v"), 2);  // the last "call" wins
    EXPECT_EQ(boost::json::parse(rebuilt).at("artifact").at("messages"),
              boost::json::parse("[3,4]"));
    EXPECT_EQ(boost::json::parse(rebuilt).at("messagesOpenAIFormatted").as_array().size(), 2u);
}

}  // namespace
}  // namespace switchboard::ingest
