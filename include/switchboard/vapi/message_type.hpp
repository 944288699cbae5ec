#pragma once
/// The `message.type` values of Vapi server messages (shared/vapi/spec.md §1.3): the 29 types of
/// the SDK union, the three legacy/unlisted ones, and `unknown` for anything newer. Unknown
/// types are stored like any other; the enum only drives replies, dedupe keys and metrics.

#include <array>
#include <cstdint>
#include <string_view>

namespace switchboard::vapi {

enum class message_type : std::uint8_t {
    assistant_request,
    conversation_update,
    end_of_call_report,
    handoff_destination_request,
    hang,
    knowledge_base_request,
    model_output,
    phone_call_control,
    speech_update,
    status_update,
    tool_calls,
    transfer_destination_request,
    transfer_update,
    transcript,
    user_interrupted,
    language_change_detected,
    voice_input,
    assistant_speech_started,
    voice_request,
    call_endpointing_request,
    chat_created,
    chat_deleted,
    session_created,
    session_updated,
    session_deleted,
    call_deleted,
    call_delete_failed,
    call_artifact_upload,
    campaign_predial,
    assistant_started,
    function_call,
    language_changed,
    unknown,
};

inline constexpr std::size_t message_type_count =
    static_cast<std::size_t>(message_type::unknown) + 1;

/// The wire name, e.g. "status-update"; "unknown" for message_type::unknown.
std::string_view to_string(message_type t) noexcept;

/// Maps a wire name to its type; message_type::unknown when it is not one we know.
message_type parse_message_type(std::string_view name) noexcept;

/// True for the types whose sender waits for a reply body (spec.md §1.4).
bool needs_reply(message_type t) noexcept;

}  // namespace switchboard::vapi
