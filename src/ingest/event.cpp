#include "switchboard/ingest/event.hpp"

namespace switchboard::ingest {
namespace {

constexpr fact_def k_facts[fact_count] = {
    {"type", fact_kind::text},
    {"org_id", fact_kind::text},
    {"assistant_id", fact_kind::text},
    {"workflow_id", fact_kind::text},
    {"squad_id", fact_kind::text},
    {"phone_number_id", fact_kind::text},
    {"phone_number", fact_kind::text},
    {"customer_number", fact_kind::text},
    {"phone_call_provider", fact_kind::text},
    {"phone_call_transport", fact_kind::text},
    {"transport_provider", fact_kind::text},
    {"ended_reason", fact_kind::text},
    {"ended_message", fact_kind::text},
    {"cost", fact_kind::number},
    {"cost_breakdown", fact_kind::json},
    {"costs", fact_kind::json},
    {"summary", fact_kind::text},
    {"structured_data", fact_kind::json},
    {"success_evaluation", fact_kind::text},
    {"recording_url", fact_kind::text},
    {"stereo_recording_url", fact_kind::text},
    {"video_recording_url", fact_kind::text},
    {"log_url", fact_kind::text},
    {"transcript", fact_kind::text},
    {"destination", fact_kind::json},
    {"created_at", fact_kind::micros},
    {"started_at", fact_kind::micros},
    {"ended_at", fact_kind::micros},
};

/// By code - 1 (ref_path).
constexpr std::string_view k_ref_paths[] = {
    "call",
    "assistant",
    "phoneNumber",
    "customer",
    "messages",
    "messagesOpenAIFormatted",
    "artifact.messages",
    "artifact.messagesOpenAIFormatted",
};

}  // namespace

std::string_view path_name(ref_path p) noexcept {
    return k_ref_paths[static_cast<std::size_t>(p) - 1];
}

const fact_def& definition(fact f) noexcept {
    return k_facts[static_cast<std::size_t>(f)];
}

std::optional<std::string_view> call_facts::get(fact f) const noexcept {
    for (const auto& v : values) {
        if (v.name == f) return std::string_view(text).substr(v.offset, v.length);
    }
    return std::nullopt;
}

void call_facts::set(fact f, std::uint8_t level, std::string_view text_value) {
    for (auto& v : values) {
        if (v.name != f) continue;
        if (level > v.level) return;
        // The old bytes stay in `text` unused: facts are few and small.
        v = {f, level, static_cast<std::uint32_t>(text.size()),
             static_cast<std::uint32_t>(text_value.size())};
        text.append(text_value);
        return;
    }
    values.push_back({f, level, static_cast<std::uint32_t>(text.size()),
                      static_cast<std::uint32_t>(text_value.size())});
    text.append(text_value);
}

void call_facts::clear(fact f) noexcept {
    std::erase_if(values, [f](const call_facts::value& v) { return v.name == f; });
}

}  // namespace switchboard::ingest
