#include "switchboard/vapi/call_status.hpp"
#include "switchboard/vapi/message_type.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace switchboard::vapi {
namespace {

message_type at(std::size_t i) {
    return static_cast<message_type>(i);
}

TEST(MessageType, CountsTheSdkUnionTheLegacyTypesAndUnknown) {
    // 29 SDK types + assistant.started, function-call, language-changed + unknown (spec.md §1.3).
    EXPECT_EQ(message_type_count, 33u);
}

TEST(MessageType, WireNames) {
    EXPECT_EQ(to_string(message_type::assistant_request), "assistant-request");
    EXPECT_EQ(to_string(message_type::conversation_update), "conversation-update");
    EXPECT_EQ(to_string(message_type::end_of_call_report), "end-of-call-report");
    EXPECT_EQ(to_string(message_type::handoff_destination_request), "handoff-destination-request");
    EXPECT_EQ(to_string(message_type::hang), "hang");
    EXPECT_EQ(to_string(message_type::knowledge_base_request), "knowledge-base-request");
    EXPECT_EQ(to_string(message_type::model_output), "model-output");
    EXPECT_EQ(to_string(message_type::phone_call_control), "phone-call-control");
    EXPECT_EQ(to_string(message_type::speech_update), "speech-update");
    EXPECT_EQ(to_string(message_type::status_update), "status-update");
    EXPECT_EQ(to_string(message_type::tool_calls), "tool-calls");
    EXPECT_EQ(to_string(message_type::transfer_destination_request),
              "transfer-destination-request");
    EXPECT_EQ(to_string(message_type::transfer_update), "transfer-update");
    EXPECT_EQ(to_string(message_type::transcript), "transcript");
    EXPECT_EQ(to_string(message_type::user_interrupted), "user-interrupted");
    EXPECT_EQ(to_string(message_type::language_change_detected), "language-change-detected");
    EXPECT_EQ(to_string(message_type::voice_input), "voice-input");
    EXPECT_EQ(to_string(message_type::assistant_speech_started), "assistant.speechStarted");
    EXPECT_EQ(to_string(message_type::voice_request), "voice-request");
    EXPECT_EQ(to_string(message_type::call_endpointing_request), "call.endpointing.request");
    EXPECT_EQ(to_string(message_type::chat_created), "chat.created");
    EXPECT_EQ(to_string(message_type::chat_deleted), "chat.deleted");
    EXPECT_EQ(to_string(message_type::session_created), "session.created");
    EXPECT_EQ(to_string(message_type::session_updated), "session.updated");
    EXPECT_EQ(to_string(message_type::session_deleted), "session.deleted");
    EXPECT_EQ(to_string(message_type::call_deleted), "call.deleted");
    EXPECT_EQ(to_string(message_type::call_delete_failed), "call.delete.failed");
    EXPECT_EQ(to_string(message_type::call_artifact_upload), "call.artifact.upload");
    EXPECT_EQ(to_string(message_type::campaign_predial), "campaign.predial");
    EXPECT_EQ(to_string(message_type::assistant_started), "assistant.started");
    EXPECT_EQ(to_string(message_type::function_call), "function-call");
    EXPECT_EQ(to_string(message_type::language_changed), "language-changed");
    EXPECT_EQ(to_string(message_type::unknown), "unknown");
}

TEST(MessageType, EveryTypeRoundTripsThroughItsName) {
    std::set<std::string_view> names;
    for (std::size_t i = 0; i < message_type_count; ++i) {
        const auto t = at(i);
        const auto name = to_string(t);
        SCOPED_TRACE(std::string(name));
        EXPECT_FALSE(name.empty());
        EXPECT_TRUE(names.insert(name).second) << "duplicate name";
        EXPECT_EQ(parse_message_type(name), t);
    }
    EXPECT_EQ(names.size(), message_type_count);
}

TEST(MessageType, UnrecognisedNamesAreUnknown) {
    for (const char* name :
         {"", "Status-Update", "status_update", "status-update ", " hang", "hang\n",
          "transcript[transcriptType=\"final\"]", "assistant.speechstarted", "assistant-speech",
          "call.endpointing", "end-of-call-report2", "x"}) {
        SCOPED_TRACE(name);
        EXPECT_EQ(parse_message_type(name), message_type::unknown);
    }
}

TEST(MessageType, NameMustMatchExactlyNotAsPrefix) {
    EXPECT_EQ(parse_message_type(std::string_view("status-update-extra", 13)),
              message_type::status_update);
    EXPECT_EQ(parse_message_type(std::string_view("status-update", 12)), message_type::unknown);
}

TEST(MessageType, NeedsReplyExactlyForTheEightRequestTypes) {
    const std::set<message_type> replies = {
        message_type::assistant_request,
        message_type::tool_calls,
        message_type::transfer_destination_request,
        message_type::handoff_destination_request,
        message_type::knowledge_base_request,
        message_type::call_endpointing_request,
        message_type::campaign_predial,
        message_type::voice_request,
    };
    for (std::size_t i = 0; i < message_type_count; ++i) {
        const auto t = at(i);
        SCOPED_TRACE(std::string(to_string(t)));
        EXPECT_EQ(needs_reply(t), replies.count(t) == 1);
    }
    EXPECT_FALSE(needs_reply(message_type::unknown));
    EXPECT_FALSE(needs_reply(message_type::function_call));  // legacy, answered like the rest
}

TEST(CallStatusRank, LifecycleOrder) {
    const char* order[] = {"scheduled", "queued", "ringing", "in-progress", "forwarding", "ended"};
    for (std::size_t i = 0; i + 1 < std::size(order); ++i) {
        SCOPED_TRACE(order[i]);
        EXPECT_GT(call_status_rank(order[i]), 0);
        EXPECT_LT(call_status_rank(order[i]), call_status_rank(order[i + 1]));
    }
}

TEST(CallStatusRank, NotFoundIsTerminalLikeEnded) {
    EXPECT_EQ(call_status_rank("not-found"), call_status_rank("ended"));
    EXPECT_GT(call_status_rank("not-found"), call_status_rank("forwarding"));
}

TEST(CallStatusRank, OthersNeverMoveTheLifecycle) {
    for (const char* s : {"deletion-failed", "", "unknown", "Ended", "ENDED", "in_progress",
                          "started", "stopped", "active", "completed"}) {
        SCOPED_TRACE(s);
        EXPECT_EQ(call_status_rank(s), 0);
    }
}

}  // namespace
}  // namespace switchboard::vapi
