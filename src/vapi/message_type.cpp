#include "switchboard/vapi/message_type.hpp"

namespace switchboard::vapi {
namespace {

constexpr std::array<std::string_view, message_type_count> k_names = {
    "assistant-request",
    "conversation-update",
    "end-of-call-report",
    "handoff-destination-request",
    "hang",
    "knowledge-base-request",
    "model-output",
    "phone-call-control",
    "speech-update",
    "status-update",
    "tool-calls",
    "transfer-destination-request",
    "transfer-update",
    "transcript",
    "user-interrupted",
    "language-change-detected",
    "voice-input",
    "assistant.speechStarted",
    "voice-request",
    "call.endpointing.request",
    "chat.created",
    "chat.deleted",
    "session.created",
    "session.updated",
    "session.deleted",
    "call.deleted",
    "call.delete.failed",
    "call.artifact.upload",
    "campaign.predial",
    "assistant.started",
    "function-call",
    "language-changed",
    "unknown",
};

}  // namespace

std::string_view to_string(message_type t) noexcept {
    return k_names[static_cast<std::size_t>(t)];
}

message_type parse_message_type(std::string_view name) noexcept {
    // 32 short names: a linear scan is as fast as a hash here and has no set-up.
    for (std::size_t i = 0; i + 1 < k_names.size(); ++i) {
        if (k_names[i] == name) return static_cast<message_type>(i);
    }
    return message_type::unknown;
}

bool needs_reply(message_type t) noexcept {
    switch (t) {
        case message_type::assistant_request:
        case message_type::tool_calls:
        case message_type::transfer_destination_request:
        case message_type::handoff_destination_request:
        case message_type::knowledge_base_request:
        case message_type::call_endpointing_request:
        case message_type::campaign_predial:
        case message_type::voice_request:
            return true;
        default:
            return false;
    }
}

}  // namespace switchboard::vapi
