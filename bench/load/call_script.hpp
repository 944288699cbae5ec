#pragma once
/// Synthetic Vapi calls for the load generator. Each call replays what Vapi sends during a real
/// call: status updates (queued, ringing, in-progress), per turn speech updates, user
/// transcripts (partial and final), a conversation-update carrying the whole history so far
/// (both formats, so it grows turn by turn), a tool call every third turn, then
/// status-update ended and an end-of-call report with the full artifact.
///
/// Bodies are rendered from the shared/vapi/examples files turned into templates once at
/// start-up (placeholders for ids, timestamps, roles, texts and the growing arrays), so a body
/// costs a few string appends, not a JSON serialisation: the generator shares the machine with
/// the server it measures.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::load {

/// A body with placeholders: pieces interleaved with slots.
class body_template {
  public:
    enum class slot : std::uint8_t {
        call_id,
        timestamp,
        status,
        role,
        turn,
        transcript_type,
        text,
        tool_id,
        messages,
        openai,
        transcript_log
    };
    /// `json` contains placeholders of the form @@NAME@@ (see call_script.cpp).
    explicit body_template(const std::string& json);

    struct values {
        std::string_view call_id, status, role, transcript_type, text, tool_id, messages, openai,
            transcript_log;
        std::int64_t timestamp = 0;
        std::int64_t turn = 0;
    };
    void render(const values& v, std::string& out) const;

  private:
    std::vector<std::string> pieces_;
    std::vector<slot> slots_;
};

/// The message templates, built from the example files in `examples_dir`.
struct call_templates {
    explicit call_templates(const std::string& examples_dir);
    body_template status_update, speech_update, transcript, conversation_update, tool_calls,
        end_of_call_report;
    std::vector<std::string> user_lines, bot_lines;
};

/// One call's message sequence; `next` renders the next body until the call is over.
class call_script {
  public:
    /// `id` must be unique per run; `turns` user/assistant exchanges.
    call_script(const call_templates& t, std::string id, int turns, std::int64_t start_ms);

    bool done() const { return step_ >= total_steps_; }
    /// Renders the next message into `out`; returns its Vapi timestamp (ms), unique in the call.
    std::int64_t next(std::string& out);
    const std::string& id() const { return id_; }
    /// Messages the whole call sends.
    int total() const { return total_steps_; }

  private:
    void add_turn_items(int turn);

    const call_templates& t_;
    std::string id_;
    int turns_;
    std::int64_t start_ms_;
    int step_ = 0;
    int total_steps_;
    std::string messages_;        // JSON array items (no brackets) of the conversation so far
    std::string openai_;          // the same in OpenAI format
    std::string transcript_log_;  // "AI: …\nUser: …" (JSON-escaped)
};

}  // namespace switchboard::load
