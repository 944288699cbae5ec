#include "switchboard/ingest/parse.hpp"

#include "switchboard/base/check.hpp"
#include "switchboard/base/clock.hpp"
#include "switchboard/http/padded_body.hpp"

#include <simdjson.h>
#include <xxhash.h>
#if defined(__x86_64__)
// The same XXH3 functions, picking the widest SIMD the CPU has at run time (AVX2 here): the
// library's plain entry points are built for SSE2. Part hashes were ~4k instructions per webhook.
#include <xxh_x86dispatch.h>
#endif

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

namespace switchboard::ingest {
namespace od = simdjson::ondemand;

static_assert(http::body_padding >= simdjson::SIMDJSON_PADDING);

namespace {

constexpr int k_max_depth = 128;

std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 1469598103934665603ull) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

/// RFC 8259 number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
/// Checked on the raw token instead of converting it: numbers of any size are valid JSON and
/// valid jsonb, and must not be refused just because they do not fit a double.
bool valid_json_number(std::string_view t) {
    while (!t.empty() &&
           (t.back() == ' ' || t.back() == '\t' || t.back() == '\n' || t.back() == '\r')) {
        t.remove_suffix(1);
    }
    std::size_t i = 0;
    auto digit = [&](std::size_t k) { return k < t.size() && t[k] >= '0' && t[k] <= '9'; };
    if (i < t.size() && t[i] == '-') ++i;
    if (!digit(i)) return false;
    if (t[i] == '0') {
        ++i;
    } else {
        while (digit(i)) ++i;
    }
    if (i < t.size() && t[i] == '.') {
        ++i;
        if (!digit(i)) return false;
        while (digit(i)) ++i;
    }
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
        ++i;
        if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
        if (!digit(i)) return false;
        while (digit(i)) ++i;
    }
    return i == t.size();
}

/// Where the fields of an object are in the body (for cutting out the repeated parts).
struct field_span {
    std::string_view key;  // unescaped; valid while the document is parsed
    const char* key_start;
    const char* value_start;
};
struct object_layout {
    bool present = false;
    std::vector<field_span> fields;
    const char* close = nullptr;  // the closing '}'
    /// Back to empty, keeping the vector's capacity.
    void reset() {
        present = false;
        fields.clear();
        close = nullptr;
    }
};
struct array_layout {
    bool present = false;
    std::vector<const char*> items;
    const char* close = nullptr;  // the closing ']'
    /// Back to empty, keeping the vector's capacity.
    void reset() {
        present = false;
        items.clear();
        close = nullptr;
    }
};

/// Everything one walk collects besides what goes straight into the event.
struct collected {
    std::string status;  // message.status (status-update, speech-update)
    std::string role;
    std::string transcript_type;
    std::optional<std::int64_t> turn;
    std::string turn_text;  // a `turn` that is not an integer of int64's range, as written
    std::string discriminator;
    std::uint64_t text_hash = 0;
    std::string call_status;
    std::string chat_id, session_id, campaign_id, contact_id;
    bool has_tool_call_list = false;
    bool type_present = false;
    object_layout message, artifact;
    array_layout messages, openai, artifact_messages, artifact_openai;

    /// Back to the state of a new walk; the strings and vectors keep their capacity, so a
    /// thread's walks stop allocating once it has seen its largest message.
    void reset() {
        status.clear();
        role.clear();
        transcript_type.clear();
        turn.reset();
        turn_text.clear();
        discriminator.clear();
        text_hash = 0;
        call_status.clear();
        chat_id.clear();
        session_id.clear();
        campaign_id.clear();
        contact_id.clear();
        has_tool_call_list = false;
        type_present = false;
        for (object_layout* o : {&message, &artifact}) o->reset();
        for (array_layout* a : {&messages, &openai, &artifact_messages, &artifact_openai}) {
            a->reset();
        }
    }
};

const char* skip_ws_back(const char* p) {
    while (p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n' || p[-1] == '\r') --p;
    return p;
}

/// The end of a value followed by `next` (the next key or item start) or by the container's
/// closing bracket (`next` = that bracket, `comma` = false).
const char* value_end(const char* next, bool comma) {
    const char* p = skip_ws_back(next);
    if (comma) p = skip_ws_back(p - 1);  // step over the ','
    return p;
}

class walker {
  public:
    walker(event& ev, collected& c, od::document& doc) : ev_(ev), c_(c), doc_(doc) {}

    std::string detail;  // set with invalid_field

    simdjson::error_code any(od::value v, int depth) {
        if (depth > k_max_depth) return simdjson::DEPTH_ERROR;
        od::json_type t;
        if (auto e = v.type().get(t)) return e;
        switch (t) {
            case od::json_type::object: {
                od::object o;
                if (auto e = v.get_object().get(o)) return e;
                for (auto fr : o) {
                    od::field f;
                    if (auto e = fr.error()) return e;
                    f = fr.value_unsafe();
                    std::string_view key;
                    if (auto e = f.unescaped_key().get(key)) return e;
                    if (auto e = no_nul(key)) return e;
                    if (auto e = any(f.value(), depth + 1)) return e;
                }
                return simdjson::SUCCESS;
            }
            case od::json_type::array: {
                od::array a;
                if (auto e = v.get_array().get(a)) return e;
                for (auto er : a) {
                    od::value el;
                    if (auto e = er.error()) return e;
                    el = er.value_unsafe();
                    if (auto e = any(el, depth + 1)) return e;
                }
                return simdjson::SUCCESS;
            }
            case od::json_type::string: {
                std::string_view s;
                if (auto e = v.get_string().get(s)) return e;
                return no_nul(s);
            }
            case od::json_type::number:
                return valid_json_number(v.raw_json_token()) ? simdjson::SUCCESS
                                                             : simdjson::NUMBER_ERROR;
            case od::json_type::boolean: {
                bool b;
                return v.get_bool().get(b);
            }
            case od::json_type::null: {
                bool is_null = false;
                if (auto e = v.is_null().get(is_null)) return e;
                return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
            }
        }
        return simdjson::TAPE_ERROR;
    }

    /// Reads a string field into `out`; a value of another type is validated and ignored.
    simdjson::error_code str(od::value v, std::string& out, int depth) {
        od::json_type t;
        if (auto e = v.type().get(t)) return e;
        if (t != od::json_type::string) return any(v, depth);
        std::string_view s;
        if (auto e = v.get_string().get(s)) return e;
        if (auto e = no_nul(s)) return e;
        out.assign(s);
        return simdjson::SUCCESS;
    }

    simdjson::error_code hashed_text(od::value v, int depth) {
        std::string text;
        if (auto e = str(v, text, depth)) return e;
        c_.text_hash = fnv1a(text, c_.text_hash == 0 ? 1469598103934665603ull : c_.text_hash);
        return simdjson::SUCCESS;
    }

    /// A field whose whole value tells messages apart (model-output's `output`, a token or a
    /// tool call): its text is hashed into the dedupe key, whatever its type.
    simdjson::error_code hashed_raw(od::value v, int depth) {
        od::json_type t;
        if (auto e = v.type().get(t)) return e;
        if (t == od::json_type::string) return hashed_text(v, depth);
        const char* start = v.raw_json_token().data();
        if (t != od::json_type::object && t != od::json_type::array) {
            std::string_view token = v.raw_json_token();
            if (auto e = any(v, depth)) return e;
            c_.text_hash = fnv1a(token, c_.text_hash == 0 ? 1469598103934665603ull : c_.text_hash);
            return simdjson::SUCCESS;
        }
        if (auto e = any(v, depth)) return e;
        const char* next = nullptr;
        if (auto e = doc_.current_location().get(next)) return e;
        const char* end = skip_ws_back(next);
        if (end <= start) return simdjson::TAPE_ERROR;
        c_.text_hash = fnv1a(std::string_view(start, static_cast<std::size_t>(end - start)),
                             c_.text_hash == 0 ? 1469598103934665603ull : c_.text_hash);
        return simdjson::SUCCESS;
    }

    /// Validates a number by its grammar, as `any` does, and converts it when it fits a double:
    /// a valid number beyond double's range (1e999) leaves `out` empty instead of getting the
    /// whole body refused.
    static simdjson::error_code to_double(od::value v, std::optional<double>& out) {
        if (!valid_json_number(v.raw_json_token())) return simdjson::NUMBER_ERROR;
        double d = 0;
        if (v.get_double().get(d) == simdjson::SUCCESS) out = d;
        return simdjson::SUCCESS;
    }

    simdjson::error_code num(od::value v, std::optional<double>& out, int depth) {
        od::json_type t;
        if (auto e = v.type().get(t)) return e;
        if (t != od::json_type::number) return any(v, depth);
        return to_double(v, out);
    }

    /// A string fact; a value of another type is validated and ignored.
    simdjson::error_code fact_str(od::value v, fact f, std::uint8_t level, int depth) {
        od::json_type t;
        if (auto e = v.type().get(t)) return e;
        if (t != od::json_type::string) return any(v, depth);
        std::string_view s;
        if (auto e = v.get_string().get(s)) return e;
        if (auto e = no_nul(s)) return e;
        ev_.call.set(f, level, s);
        return simdjson::SUCCESS;
    }

    /// A number fact, kept as its JSON text (valid numeric input for Postgres).
    simdjson::error_code fact_num(od::value v, fact f, std::uint8_t level, int depth) {
        od::json_type t;
        if (auto e = v.type().get(t)) return e;
        if (t != od::json_type::number) return any(v, depth);
        std::string_view token = v.raw_json_token();
        while (!token.empty() && (token.back() == ' ' || token.back() == '\t' ||
                                  token.back() == '\n' || token.back() == '\r')) {
            token.remove_suffix(1);
        }
        if (!valid_json_number(token)) return simdjson::NUMBER_ERROR;
        std::optional<double> d;
        if (auto e = to_double(v, d)) return e;
        if (d) ev_.call.set(f, level, token);  // beyond a double's range: left out, as `num`
        return simdjson::SUCCESS;
    }

    /// An ISO-8601 time fact, kept as microseconds since the epoch; an unreadable time is
    /// ignored (the message itself is still accepted and stored as received).
    simdjson::error_code fact_time(od::value v, fact f, std::uint8_t level, int depth) {
        std::string s;
        if (auto e = str(v, s, depth)) return e;
        if (s.empty()) return simdjson::SUCCESS;
        if (auto us = base::parse_iso8601_micros(s)) {
            char buf[24];
            auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *us);
            if (ec == std::errc{}) ev_.call.set(f, level, std::string_view(buf, end - buf));
        }
        return simdjson::SUCCESS;
    }

    /// A JSON fact (object or array), kept as its text in the body; null and scalars are
    /// ignored.
    simdjson::error_code fact_json(od::value v, fact f, std::uint8_t level, int depth) {
        od::json_type t;
        if (auto e = v.type().get(t)) return e;
        const char* start = v.raw_json_token().data();
        if (auto e = any(v, depth)) return e;
        if (t != od::json_type::object && t != od::json_type::array) return simdjson::SUCCESS;
        const char* next = nullptr;
        if (auto e = doc_.current_location().get(next)) return e;
        const char* end = skip_ws_back(next);
        const char close = t == od::json_type::object ? '}' : ']';
        if (end <= start || end[-1] != close) return simdjson::TAPE_ERROR;
        ev_.call.set(f, level, std::string_view(start, static_cast<std::size_t>(end - start)));
        return simdjson::SUCCESS;
    }

    /// analysis {summary, structuredData, successEvaluation}
    simdjson::error_code analysis(od::value v, std::uint8_t level, int depth) {
        auto on = [&](std::string_view key, od::value fv) -> std::optional<simdjson::error_code> {
            const int d = depth + 2;
            if (key == "summary") return fact_str(fv, fact::summary, level, d);
            if (key == "structuredData") return fact_json(fv, fact::structured_data, level, d);
            if (key == "successEvaluation") return success(fv, level, d);
            return std::nullopt;
        };
        return fields(v, depth + 1, on);
    }

    /// successEvaluation is a string in the SDK types, but rubrics may yield a number or a
    /// boolean: kept as text either way.
    simdjson::error_code success(od::value v, std::uint8_t level, int depth) {
        od::json_type t;
        if (auto e = v.type().get(t)) return e;
        if (t == od::json_type::string) return fact_str(v, fact::success_evaluation, level, depth);
        if (t == od::json_type::boolean) {
            bool b = false;
            if (auto e = v.get_bool().get(b)) return e;
            ev_.call.set(fact::success_evaluation, level, b ? "true" : "false");
            return simdjson::SUCCESS;
        }
        if (t == od::json_type::number) return fact_num(v, fact::success_evaluation, level, depth);
        return any(v, depth);
    }

    /// The artifact facts (stable recording URLs, final transcript); `nullopt` for other keys.
    std::optional<simdjson::error_code> artifact_fact(std::string_view key, od::value fv,
                                                      std::uint8_t level, int d) {
        if (key == "transcript") return fact_str(fv, fact::transcript, level, d);
        if (key == "recordingUrl") return fact_str(fv, fact::recording_url, level, d);
        if (key == "stereoRecordingUrl") return fact_str(fv, fact::stereo_recording_url, level, d);
        if (key == "videoRecordingUrl") return fact_str(fv, fact::video_recording_url, level, d);
        if (key == "logUrl") return fact_str(fv, fact::log_url, level, d);
        return std::nullopt;
    }

    /// message.timestamp: a number (ms), or a string of digits.
    simdjson::error_code timestamp(od::value v, int depth) {
        od::json_type t;
        if (auto e = v.type().get(t)) return e;
        if (t == od::json_type::number) {
            std::optional<double> d;
            if (auto e = to_double(v, d)) return e;
            if (d && std::isfinite(*d) && std::fabs(*d) < 9e15) {
                ev_.timestamp_ms = static_cast<std::int64_t>(*d);
            }
            return simdjson::SUCCESS;
        }
        std::string s;
        if (auto e = str(v, s, depth)) return e;
        std::int64_t ms = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), ms);
        if (ec == std::errc{} && p == s.data() + s.size()) {
            ev_.timestamp_ms = ms;
        } else if (auto us = base::parse_iso8601_micros(s)) {
            ev_.timestamp_ms = *us / 1000;
        }
        return simdjson::SUCCESS;
    }

    /// Iterates an object, handing each (key, value) to `on_field`, which returns
    /// std::nullopt when it does not handle the key (the value is then validated and skipped).
    template <class OnField>
    simdjson::error_code fields(od::value v, int depth, OnField&& on_field) {
        od::json_type t;
        if (auto e = v.type().get(t)) return e;
        if (t != od::json_type::object) return any(v, depth);
        od::object o;
        if (auto e = v.get_object().get(o)) return e;
        return fields_of(o, depth, on_field);
    }

    template <class OnField>
    simdjson::error_code fields_of(od::object o, int depth, OnField& on_field,
                                   object_layout* layout = nullptr) {
        if (depth > k_max_depth) return simdjson::DEPTH_ERROR;
        for (auto fr : o) {
            od::field f;
            if (auto e = fr.error()) return e;
            f = fr.value_unsafe();
            std::string_view key;
            const char* key_start = f.key().raw() - 1;  // raw() starts after the quote
            if (auto e = f.unescaped_key().get(key)) return e;
            if (auto e = no_nul(key)) return e;
            if (layout != nullptr) {
                layout->fields.push_back({key, key_start, f.value().raw_json_token().data()});
            }
            // The key view lives in the parser's string buffer, which the value's strings append
            // to but never move within one document: it stays valid for this call.
            std::optional<simdjson::error_code> handled = on_field(key, f.value());
            if (!handled) {
                if (auto e = any(f.value(), depth + 1)) return e;
            } else if (*handled) {
                return *handled;
            }
        }
        if (layout != nullptr) {
            if (auto e = closing(layout->close, '}')) return e;
            layout->present = true;
        }
        return simdjson::SUCCESS;
    }

    /// After a container was iterated to its end: the position of its closing bracket.
    simdjson::error_code closing(const char*& out, char bracket) {
        const char* next = nullptr;
        if (auto e = doc_.current_location().get(next)) return e;
        const char* p = skip_ws_back(next) - 1;
        if (*p != bracket) return simdjson::TAPE_ERROR;
        out = p;
        return simdjson::SUCCESS;
    }

    /// Walks an array, recording where each item starts.
    /// Walks an array, handing each element to `on_element`; another type is validated and
    /// skipped (then `*is_array` is false).
    template <class OnElement>
    simdjson::error_code elements(od::value v, int depth, OnElement&& on_element,
                                  bool* is_array = nullptr) {
        od::json_type t;
        if (auto e = v.type().get(t)) return e;
        if (is_array != nullptr) *is_array = t == od::json_type::array;
        if (t != od::json_type::array) return any(v, depth);
        od::array a;
        if (auto e = v.get_array().get(a)) return e;
        for (auto er : a) {
            if (auto e = er.error()) return e;
            if (auto e = on_element(er.value_unsafe())) return e;
        }
        return simdjson::SUCCESS;
    }

    simdjson::error_code items(od::value v, int depth, array_layout& layout) {
        layout.reset();  // a repeated key: the last occurrence is the one that counts
        bool is_array = false;
        auto record = [&](od::value el) {
            layout.items.push_back(el.raw_json_token().data());
            return any(el, depth + 1);
        };
        if (auto e = elements(v, depth, record, &is_array)) return e;
        if (!is_array) return simdjson::SUCCESS;
        if (auto e = closing(layout.close, ']')) return e;
        layout.present = true;
        return simdjson::SUCCESS;
    }

    simdjson::error_code artifact(od::value v, int depth) {
        c_.artifact.reset();
        c_.artifact_messages.reset();
        c_.artifact_openai.reset();
        od::json_type t;
        if (auto e = v.type().get(t)) return e;
        if (t != od::json_type::object) return any(v, depth);
        od::object o;
        if (auto e = v.get_object().get(o)) return e;
        auto on = [&](std::string_view key, od::value fv) -> std::optional<simdjson::error_code> {
            if (key == "messages") return items(fv, depth + 2, c_.artifact_messages);
            if (key == "messagesOpenAIFormatted") return items(fv, depth + 2, c_.artifact_openai);
            return artifact_fact(key, fv, 1, depth + 2);
        };
        return fields_of(o, depth + 1, on, &c_.artifact);
    }

    simdjson::error_code id_of(od::value v, std::string& out, int depth) {
        auto on = [&](std::string_view key, od::value fv) -> std::optional<simdjson::error_code> {
            if (key == "id") return str(fv, out, depth + 2);
            return std::nullopt;
        };
        return fields(v, depth + 1, on);
    }

    simdjson::error_code customer(od::value v, std::uint8_t level, int depth) {
        auto on = [&](std::string_view key, od::value fv) -> std::optional<simdjson::error_code> {
            if (key == "number") return fact_str(fv, fact::customer_number, level, depth + 2);
            return std::nullopt;
        };
        return fields(v, depth + 1, on);
    }

    simdjson::error_code transport(od::value v, int depth) {
        auto on = [&](std::string_view key, od::value fv) -> std::optional<simdjson::error_code> {
            if (key == "provider") return fact_str(fv, fact::transport_provider, 2, depth + 2);
            return std::nullopt;
        };
        return fields(v, depth + 1, on);
    }

    simdjson::error_code call_artifact(od::value v, int depth) {
        auto on = [&](std::string_view key, od::value fv) -> std::optional<simdjson::error_code> {
            return artifact_fact(key, fv, 2, depth + 2);
        };
        return fields(v, depth + 1, on);
    }

    /// The call object: its id, and the facts at level 2 (the message's own fields win).
    simdjson::error_code call(od::value v, int depth) {
        auto on = [&](std::string_view key, od::value fv) -> std::optional<simdjson::error_code> {
            const int d = depth + 2;
            if (key == "id") return str(fv, ev_.call_id, d);
            if (key == "orgId") return str(fv, ev_.org_id, d);
            if (key == "status") return str(fv, c_.call_status, d);
            if (key == "type") return fact_str(fv, fact::type, 2, d);
            if (key == "assistantId") return fact_str(fv, fact::assistant_id, 2, d);
            if (key == "workflowId") return fact_str(fv, fact::workflow_id, 2, d);
            if (key == "squadId") return fact_str(fv, fact::squad_id, 2, d);
            if (key == "phoneNumberId") return fact_str(fv, fact::phone_number_id, 2, d);
            if (key == "phoneNumber") return phone_number(fv, 2, d);
            if (key == "phoneCallProvider") return fact_str(fv, fact::phone_call_provider, 2, d);
            if (key == "phoneCallTransport") return fact_str(fv, fact::phone_call_transport, 2, d);
            if (key == "transport") return transport(fv, d);
            if (key == "createdAt") return fact_time(fv, fact::created_at, 2, d);
            if (key == "startedAt") return fact_time(fv, fact::started_at, 2, d);
            if (key == "endedAt") return fact_time(fv, fact::ended_at, 2, d);
            if (key == "endedReason") return fact_str(fv, fact::ended_reason, 2, d);
            if (key == "endedMessage") return fact_str(fv, fact::ended_message, 2, d);
            if (key == "cost") return fact_num(fv, fact::cost, 2, d);
            if (key == "costBreakdown") return fact_json(fv, fact::cost_breakdown, 2, d);
            if (key == "costs") return fact_json(fv, fact::costs, 2, d);
            if (key == "destination") return fact_json(fv, fact::destination, 2, d);
            if (key == "analysis") return analysis(fv, 2, d);
            if (key == "artifact") return call_artifact(fv, d);
            if (key == "customer") return customer(fv, 2, d);
            return std::nullopt;
        };
        return fields(v, depth + 1, on);
    }

    simdjson::error_code tool_call_list(od::value v, int depth) {
        c_.has_tool_call_list = true;
        ev_.reply.tool_calls.clear();  // a repeated key: the last occurrence is answered
        return elements(v, depth, [&](od::value el) {
            // Every element gets an entry, so the key lists every element as before.
            auto& call = ev_.reply.tool_calls.emplace_back();
            if (auto e = tool_call(el, call, depth + 1)) return e;
            if (!c_.discriminator.empty()) c_.discriminator += ',';
            c_.discriminator += call.id;
            return simdjson::SUCCESS;
        });
    }

    /// One toolCallList item: its id and function.name (a tool-calls error reply names both).
    simdjson::error_code tool_call(od::value v, reply_facts::tool_call& out, int depth) {
        auto on_function = [&](std::string_view key,
                               od::value fv) -> std::optional<simdjson::error_code> {
            if (key == "name") return str(fv, out.name, depth + 4);
            return std::nullopt;
        };
        auto on = [&](std::string_view key, od::value fv) -> std::optional<simdjson::error_code> {
            if (key == "id") return str(fv, out.id, depth + 2);
            if (key == "function") return fields(fv, depth + 3, on_function);
            return std::nullopt;
        };
        return fields(v, depth + 1, on);
    }

    /// phoneNumber (of the message, level 0, or of the call, level 2): its number is a fact of
    /// the call; for an assistant-request (Vapi sends the type first) id and number also route
    /// the reply.
    simdjson::error_code phone_number(od::value v, std::uint8_t level, int depth) {
        const bool route =
            level == 0 && (ev_.type_name.empty() || ev_.type_name == "assistant-request");
        auto on = [&](std::string_view key, od::value fv) -> std::optional<simdjson::error_code> {
            if (key == "number") {
                if (auto e = fact_str(fv, fact::phone_number, level, depth + 2)) return e;
                if (route) {
                    if (auto n = ev_.call.get(fact::phone_number)) ev_.reply.phone_number = *n;
                }
                return simdjson::SUCCESS;
            }
            if (key == "id" && route) return str(fv, ev_.reply.phone_number_id, depth + 2);
            return std::nullopt;
        };
        return fields(v, depth + 1, on);
    }

    simdjson::error_code message(od::object o) {
        std::optional<double> turn;
        std::string_view turn_raw;
        auto on = [&](std::string_view key, od::value fv) -> std::optional<simdjson::error_code> {
            constexpr int d = 2;
            if (key == "type") {
                c_.type_present = true;
                od::json_type t;
                if (auto e = fv.type().get(t)) return e;
                if (t != od::json_type::string) {
                    detail = "message.type must be a string";
                    return simdjson::INCORRECT_TYPE;
                }
                return str(fv, ev_.type_name, d);
            }
            if (key == "timestamp") return timestamp(fv, d);
            if (key == "call") return call(fv, d);
            if (key == "status") return str(fv, c_.status, d);
            if (key == "role") return str(fv, c_.role, d);
            if (key == "transcriptType") return str(fv, c_.transcript_type, d);
            if (key == "turn") {
                od::json_type t;
                if (auto e = fv.type().get(t)) return e;
                if (t != od::json_type::number) return any(fv, d);
                const std::string_view raw = fv.raw_json_token();  // a number: never empty
                turn_raw = {raw.data(), skip_ws_back(raw.data() + raw.size())};
                return to_double(fv, turn);
            }
            if (key == "transcript" || key == "text" || key == "input" || key == "language" ||
                key == "request" || key == "turnId") {
                return hashed_text(fv, d);
            }
            if (key == "output" || key == "functionCall" || key == "artifacts") {
                return hashed_raw(fv, d);
            }
            if (key == "endedReason") return fact_str(fv, fact::ended_reason, 0, d);
            if (key == "startedAt") return fact_time(fv, fact::started_at, 0, d);
            if (key == "endedAt") return fact_time(fv, fact::ended_at, 0, d);
            if (key == "cost") return fact_num(fv, fact::cost, 0, d);
            if (key == "costs") return fact_json(fv, fact::costs, 0, d);
            if (key == "destination") return fact_json(fv, fact::destination, 0, d);
            if (key == "analysis") return analysis(fv, 1, d);
            if (key == "customer") return customer(fv, 0, d);
            if (key == "phoneNumber") return phone_number(fv, 0, d);
            if (key == "toolCallList") return tool_call_list(fv, d);
            if (key == "chat") return id_of(fv, c_.chat_id, d);
            if (key == "session") return id_of(fv, c_.session_id, d);
            if (key == "contact") return id_of(fv, c_.contact_id, d);
            if (key == "campaignId") return str(fv, c_.campaign_id, d);
            if (key == "messages") return items(fv, d, c_.messages);
            if (key == "messagesOpenAIFormatted") return items(fv, d, c_.openai);
            if (key == "artifact") return artifact(fv, d);
            return std::nullopt;
        };
        auto e = fields_of(o, 1, on, &c_.message);
        // An integer of int64's range keys as before; any other number (2.5, 1e19) as written,
        // so that two turns never share a key and no conversion overflows.
        if (turn) {
            if (std::isfinite(*turn) && std::trunc(*turn) == *turn &&
                std::fabs(*turn) < 9223372036854775808.0) {
                c_.turn = static_cast<std::int64_t>(*turn);
            } else {
                c_.turn_text.assign(turn_raw);
            }
        }
        return e;
    }

  private:
    /// No string can hold U+0000 here: simdjson refuses a raw NUL byte in a string
    /// (UNESCAPED_CHARS) and parse_webhook rewrote every \u0000 escape before the walk. Checked
    /// in debug builds only (a memchr per key and string was 3 % of the request path).
    static simdjson::error_code no_nul([[maybe_unused]] std::string_view s) {
        SWITCHBOARD_ASSERT(std::memchr(s.data(), '\0', s.size()) == nullptr);
        return simdjson::SUCCESS;
    }

    event& ev_;
    collected& c_;
    od::document& doc_;
};

boost::system::result<void, parse_error> malformed(simdjson::error_code e, std::string detail) {
    if (detail.empty()) detail = std::string("malformed JSON: ") + simdjson::error_message(e);
    return parse_error{errc::malformed_json, std::move(detail)};
}

std::optional<std::int64_t> micros_fact(const call_facts& f, fact which) {
    auto text = f.get(which);
    if (!text) return std::nullopt;
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
    if (ec != std::errc{} || p != text->data() + text->size()) return std::nullopt;
    return v;
}

/// (priority, Vapi timestamp, hash of the dedupe key) packed into 63 bits; see call_facts::rank.
/// `length`: for a message carrying the conversation, its item count (+1), which breaks ties of
/// timestamp instead of the hash: of two updates in one millisecond the longer one is the later.
std::int64_t rank_of(const event& ev, std::int64_t length) {
    const bool report = ev.type == vapi::message_type::end_of_call_report;
    const std::int64_t priority = report ? 2 : 1;
    constexpr std::int64_t max_ms = (std::int64_t{1} << 42) - 1;  // year 2109
    // A redelivered report may carry a new timestamp: it ranks by the time it is filed under,
    // the same in every delivery, so its rank (kept in calls.fact_ranks) does not move.
    const std::int64_t ms =
        std::clamp<std::int64_t>(report ? ev.sent_at_ms : ev.timestamp_ms.value_or(0), 0, max_ms);
    constexpr std::int64_t low_mask = (1 << 19) - 1;
    const std::int64_t low =
        length > 0 ? std::min<std::int64_t>(length, low_mask)
                   : static_cast<std::int64_t>(
                         XXH3_64bits(ev.dedupe_key.data(), ev.dedupe_key.size()) & low_mask);
    return (priority << 61) | (ms << 19) | low;
}

digest hash_of(const void* data, std::size_t size) {
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical, XXH3_128bits(data, size));
    digest d;
    std::memcpy(d.data(), canonical.digest, d.size());
    return d;
}

/// Cuts the repeated parts out of the message (docs/storage-design.md): builds the skeleton
/// text and the refs, blobs and chain nodes, all as ranges of the body.
class decomposer {
  public:
    decomposer(const std::string& body, const collected& c, event& out)
        : body_(body), c_(c), out_(out) {}

    /// With `hash_content`, also returns a hash of the message's own content (its fields
    /// except the repeated objects and the artifact, whose presigned URLs change between
    /// deliveries; arrays by their chain head): what tells apart two messages without a
    /// timestamp.
    std::uint64_t run(bool hash_content) {
        hash_content_ = hash_content;
        out_.skeleton.reserve(256);
        // The common cut: call, assistant, customer, phoneNumber; one node per array item.
        out_.refs.reserve(4);
        out_.blobs.reserve(4);
        std::size_t items = 0;
        for (const array_layout* a :
             {&c_.messages, &c_.openai, &c_.artifact_messages, &c_.artifact_openai}) {
            if (a->present) items += a->items.size();
        }
        out_.nodes.reserve(items);
        object(c_.message, "", out_.skeleton);
        return content_;
    }

  private:
    static bool is_blob_key(std::string_view key) {
        return key == "call" || key == "assistant" || key == "phoneNumber" || key == "customer";
    }

    body_span span(const char* b, const char* e) const {
        return {static_cast<std::uint32_t>(b - body_.data()), static_cast<std::uint32_t>(e - b)};
    }

    /// Appends the skeleton of an object (message or artifact) to `out`.
    void object(const object_layout& layout, std::string_view prefix, std::string& out) {
        const auto& fields = layout.fields;
        // Of a repeated key only the last occurrence is cut out (it is the one readers keep).
        // Only the keys cut out or descended into need it: their last positions in one pass
        // (a search per field would be quadratic in the number of fields).
        static constexpr std::array<std::string_view, 7> k_cut = {
            "messages", "messagesOpenAIFormatted", "call", "assistant", "phoneNumber", "customer",
            "artifact"};
        std::array<std::size_t, k_cut.size()> last_at;
        last_at.fill(fields.size());
        for (std::size_t i = 0; i < fields.size(); ++i) {
            for (std::size_t k = 0; k < k_cut.size(); ++k) {
                if (fields[i].key == k_cut[k]) last_at[k] = i;
            }
        }
        auto is_last = [&](std::size_t i) {
            for (std::size_t k = 0; k < k_cut.size(); ++k) {
                if (fields[i].key == k_cut[k]) return last_at[k] == i;
            }
            return false;  // not a key that is cut out: it stays in the skeleton as it is
        };
        out += '{';
        bool first = true;
        for (std::size_t i = 0; i < fields.size(); ++i) {
            const auto& f = fields[i];
            const bool more = i + 1 < fields.size();
            const char* end = value_end(more ? fields[i + 1].key_start : layout.close, more);
            const array_layout* array = nullptr;
            if (prefix.empty()) {
                if (f.key == "messages") array = &c_.messages;
                if (f.key == "messagesOpenAIFormatted") array = &c_.openai;
            } else {
                if (f.key == "messages") array = &c_.artifact_messages;
                if (f.key == "messagesOpenAIFormatted") array = &c_.artifact_openai;
            }
            const bool last = is_last(i);
            if (last && array != nullptr && array->present && *f.value_start == '[') {
                cut_array(prefix, f.key, *array);
                if (hash_content_ && prefix.empty()) {
                    const auto& head = out_.refs.back().hash;
                    content_ = fnv1a(f.key, content_);
                    content_ = fnv1a(
                        std::string_view(reinterpret_cast<const char*>(head.data()), head.size()),
                        content_);
                }
                continue;
            }
            if (last && prefix.empty() && is_blob_key(f.key) && *f.value_start == '{') {
                cut_blob(prefix, f.key, f.value_start, end);
                continue;
            }
            if (!first) out += ',';
            first = false;
            if (last && prefix.empty() && f.key == "artifact" && c_.artifact.present &&
                *f.value_start == '{') {
                out.append(f.key_start, f.value_start);  // "artifact":
                object(c_.artifact, "artifact.", out);
                continue;
            }
            out.append(f.key_start, end);
            if (hash_content_ && prefix.empty() && f.key != "artifact") {
                content_ = fnv1a(std::string_view(f.key_start, end), content_);
            }
        }
        out += '}';
    }

    /// A cut-out part's path: `key` at the top level (prefix "") or in the artifact ("artifact.").
    /// Only the blob keys and the conversation arrays are cut out.
    static ref_path path_of(std::string_view prefix, std::string_view key) {
        const bool artifact = !prefix.empty();
        if (key == "messages") return artifact ? ref_path::artifact_messages : ref_path::messages;
        if (key == "messagesOpenAIFormatted")
            return artifact ? ref_path::artifact_messages_openai : ref_path::messages_openai;
        if (key == "assistant") return ref_path::assistant;
        if (key == "phoneNumber") return ref_path::phone_number;
        if (key == "customer") return ref_path::customer;
        SWITCHBOARD_ASSERT(key == "call");
        return ref_path::call;
    }

    void cut_blob(std::string_view prefix, std::string_view key, const char* b, const char* e) {
        part_ref ref{path_of(prefix, key), hash_of(b, static_cast<std::size_t>(e - b)), false,
                     false};
        bool known = false;
        for (const auto& blob : out_.blobs) known = known || blob.hash == ref.hash;
        if (!known) out_.blobs.push_back({ref.hash, span(b, e)});
        out_.refs.push_back(std::move(ref));
    }

    void cut_array(std::string_view prefix, std::string_view key, const array_layout& a) {
        digest parent{};
        for (std::size_t i = 0; i < a.items.size(); ++i) {
            const bool more = i + 1 < a.items.size();
            const char* b = a.items[i];
            const char* e = value_end(more ? a.items[i + 1] : a.close, more);
            std::array<std::uint8_t, 32> link{};
            std::memcpy(link.data(), parent.data(), 16);
            const digest item = hash_of(b, static_cast<std::size_t>(e - b));
            std::memcpy(link.data() + 16, item.data(), 16);
            const digest node = hash_of(link.data(), link.size());
            out_.nodes.push_back({node, parent, static_cast<std::int32_t>(i), span(b, e)});
            parent = node;
        }
        out_.refs.push_back({path_of(prefix, key), parent, true, a.items.empty()});
    }

    const std::string& body_;
    const collected& c_;
    event& out_;
    bool hash_content_ = false;
    std::uint64_t content_ = 1469598103934665603ull;
};

}  // namespace

std::string make_dedupe_key(std::string_view type_name, std::optional<std::int64_t> timestamp_ms,
                            vapi::message_type type, const dedupe_parts& p) {
    using vapi::message_type;
    std::string key(type_name);
    // Exactly one end-of-call report exists per call; a redelivery may carry a new timestamp.
    if (type == message_type::end_of_call_report) return key;
    key += '|';
    if (timestamp_ms) key += std::to_string(*timestamp_ms);
    const std::size_t head = key.size();  // type and timestamp: kept whole below
    auto add = [&key](std::string_view part) {
        key += '|';
        key += part;
    };
    if (!p.status.empty()) add(p.status);
    if (!p.role.empty()) add(p.role);
    if (!p.transcript_type.empty()) add(p.transcript_type);
    if (p.turn) {
        add(std::to_string(*p.turn));
    } else if (!p.turn_text.empty()) {
        add(p.turn_text);
    }
    if (!p.discriminator.empty()) add(p.discriminator);
    if (p.text_hash != 0) {
        char hex[17];
        std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(p.text_hash));
        add(hex);
    }
    if (p.array_sizes) {
        char sizes[32];
        std::snprintf(sizes, sizeof sizes, "n:%d/%d", p.array_sizes->first, p.array_sizes->second);
        add(sizes);
    }
    if (p.content_hash != 0) {
        char hex[19];
        std::snprintf(hex, sizeof hex, "c:%016llx",
                      static_cast<unsigned long long>(p.content_hash));
        add(hex);
    }
    // The key is in the events' primary key, whose index entries Postgres bounds (2,704 bytes).
    // A longer one (hundreds of tool call ids in one message, an outsized status) keeps its type
    // and timestamp and has the rest hashed.
    if (key.size() > k_max_dedupe_key_bytes) {
        const XXH128_hash_t h = XXH3_128bits(key.data() + head, key.size() - head);
        char hex[36];
        std::snprintf(hex, sizeof hex, "|h:%016llx%016llx",
                      static_cast<unsigned long long>(h.high64),
                      static_cast<unsigned long long>(h.low64));
        key.resize(head);
        key += hex;
    }
    return key;
}

namespace {

// U+0000 cannot be stored in jsonb (nor in Postgres text). A body that has one (the escape
// \u0000; a raw NUL byte is invalid JSON) is stored with every U+0000 written as U+FDD0 U+FDD1
// and every U+FDD0 (a noncharacter) as U+FDD0 U+FDD0; the export turns them back
// (store/export.cpp). Bodies without either, nearly all, are parsed as received.
constexpr std::string_view k_marker_utf8 = "\xEF\xB7\x90";  // U+FDD0

/// `p` points at the 4 hex digits of a \u escape: are they 0000 (1) or FDD0 (2)?
int special_escape(const char* p, const char* end) {
    if (end - p < 4) return 0;
    if (std::memcmp(p, "0000", 4) == 0) return 1;
    auto lower = [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); };
    if (lower(p[0]) == 'f' && lower(p[1]) == 'd' && lower(p[2]) == 'd' && p[3] == '0') return 2;
    return 0;
}

bool needs_nul_escape(std::string_view body) {
    const char* p = body.data();
    const char* end = p + body.size();
    while (p < end) {
        p = static_cast<const char*>(std::memchr(p, '\\', static_cast<std::size_t>(end - p)));
        if (p == nullptr) break;
        if (p + 1 < end && p[1] == 'u' && special_escape(p + 2, end) != 0) return true;
        p += 2;  // the escaped character, whatever it is (an escaped backslash included)
    }
    return body.find(k_marker_utf8) != std::string_view::npos;
}

std::string escape_nul(std::string_view body) {
    std::string out;
    out.reserve(body.size() + body.size() / 8 + simdjson::SIMDJSON_PADDING + 64);
    const char* p = body.data();
    const char* end = p + body.size();
    while (p < end) {
        if (*p == '\\' && p + 1 < end) {
            if (p[1] == 'u') {
                const int special = special_escape(p + 2, end);
                if (special != 0) {
                    out += special == 1 ? "\\uFDD0\\uFDD1" : "\\uFDD0\\uFDD0";
                    p += 6;
                    continue;
                }
            }
            out.append(p, 2);
            p += 2;
            continue;
        }
        if (end - p >= 3 && std::string_view(p, 3) == k_marker_utf8) {
            out += k_marker_utf8;
            out += k_marker_utf8;
            p += 3;
            continue;
        }
        out += *p++;
    }
    out.reserve(out.size() + simdjson::SIMDJSON_PADDING);
    return out;
}

boost::system::result<void, parse_error> parse_prepared(const std::string& body, event& out);

}  // namespace

bool object_members(std::string_view object_json, std::vector<object_member>& out) {
    out.clear();
    thread_local od::parser parser;
    thread_local std::string padded;
    padded.reserve(object_json.size() + simdjson::SIMDJSON_PADDING);
    padded.assign(object_json);
    od::document doc;
    od::object o;
    if (parser.iterate(padded.data(), padded.size(), padded.capacity()).get(doc) ||
        doc.get_object().get(o)) {
        return false;
    }
    const char* base = padded.data();
    for (auto fr : o) {
        if (fr.error()) return false;
        od::field f = fr.value_unsafe();
        object_member m;
        m.begin = static_cast<std::uint32_t>(f.key().raw() - 1 - base);  // raw() is past the quote
        std::string_view key;
        if (f.unescaped_key().get(key)) return false;
        m.key_hash = XXH3_64bits(key.data(), key.size());
        // Until the next member is known, `end` holds where this member's value starts.
        m.end = static_cast<std::uint32_t>(f.value().raw_json_token().data() - base);
        out.push_back(m);
    }
    const auto close = object_json.find_last_of('}');
    if (close == std::string_view::npos) return false;
    for (std::size_t i = 0; i < out.size(); ++i) {
        const bool more = i + 1 < out.size();
        const char* end = value_end(base + (more ? out[i + 1].begin : close), more);
        out[i].end = static_cast<std::uint32_t>(end - base);
        out[i].member_hash = XXH3_64bits(base + out[i].begin, out[i].end - out[i].begin);
    }
    return true;
}

void refile(event& ev, std::string dedupe_key) {
    ev.dedupe_key = std::move(dedupe_key);
    ev.call.rank = rank_of(ev, ev.call.rank_length);
}

boost::system::result<void, parse_error> parse_webhook(const std::string& body, event& out) {
    if (!needs_nul_escape(body)) return parse_prepared(body, out);
    std::string escaped = escape_nul(body);
    auto r = parse_prepared(escaped, out);
    if (r) out.body = std::move(escaped);  // the spans are offsets into this body
    return r;
}

namespace {

boost::system::result<void, parse_error> parse_prepared(const std::string& body, event& out) {
    thread_local od::parser parser;
    thread_local collected c;
    c.reset();
    // Most messages state a dozen facts or fewer, in a few hundred bytes.
    out.call.values.reserve(16);
    out.call.text.reserve(256);
    od::document doc;
    walker w(out, c, doc);

    if (auto e =
            parser.iterate(simdjson::padded_string_view(body.data(), body.size(), body.capacity()))
                .get(doc)) {
        return malformed(e, e == simdjson::EMPTY ? "empty body" : "");
    }
    od::object envelope;
    if (auto e = doc.get_object().get(envelope)) {
        if (e == simdjson::INCORRECT_TYPE) {
            return parse_error{errc::invalid_envelope,
                               "body must be a JSON object {\"message\": {...}}"};
        }
        return malformed(e, {});
    }

    bool has_message = false;
    for (auto fr : envelope) {
        od::field f;
        if (auto e = fr.error()) return malformed(e, w.detail);
        f = fr.value_unsafe();
        std::string_view key;
        if (auto e = f.unescaped_key().get(key)) return malformed(e, w.detail);
        od::value v = f.value();
        if (key != "message" || has_message) {
            if (auto e = w.any(v, 1)) return malformed(e, w.detail);
            continue;
        }
        has_message = true;
        od::json_type t;
        if (auto e = v.type().get(t)) return malformed(e, w.detail);
        if (t != od::json_type::object) {
            return parse_error{errc::invalid_envelope, "message must be a JSON object"};
        }
        const std::string_view start = v.raw_json_token();
        od::object message;
        if (auto e = v.get_object().get(message)) return malformed(e, w.detail);
        if (auto e = w.message(message)) {
            if (e == simdjson::INCORRECT_TYPE && !w.detail.empty()) {
                return parse_error{errc::invalid_field, w.detail};
            }
            return malformed(e, w.detail);
        }
        // The walk ended just past the message's closing brace: the parser now points at the
        // envelope's next token. Step back over whitespace to the brace.
        const char* next = nullptr;
        if (auto e = doc.current_location().get(next)) return malformed(e, w.detail);
        const char* end = next;
        while (end > start.data() && end[-1] != '}') --end;
        out.message_offset = static_cast<std::uint32_t>(start.data() - body.data());
        out.message_length = static_cast<std::uint32_t>(end - start.data());
    }
    // In bounds after the envelope means there is more than one JSON value in the body.
    if (!doc.current_location().error()) {
        return parse_error{errc::malformed_json, "malformed JSON: trailing content"};
    }
    if (!has_message) return parse_error{errc::invalid_envelope, "body has no \"message\" object"};

    // tool-calls is the one type whose `type` may be missing (spec.md §1.2).
    if (!c.type_present) {
        if (!c.has_tool_call_list)
            return parse_error{errc::missing_type, "message.type is missing"};
        out.type_name = "tool-calls";
    }
    if (out.type_name.empty()) return parse_error{errc::missing_type, "message.type is empty"};
    // The type and the call id are in the events' primary key (Postgres bounds its entries).
    if (out.type_name.size() > k_max_type_bytes) {
        return parse_error{errc::invalid_field, "message.type is longer than " +
                                                    std::to_string(k_max_type_bytes) + " bytes"};
    }
    out.type = vapi::parse_message_type(out.type_name);
    // Without a timestamp only the content tells two messages of a type apart (two stalls of
    // the call, two unknown events); the end-of-call report is one per call anyway.
    const bool by_content = !out.timestamp_ms && out.type != vapi::message_type::end_of_call_report;
    const std::uint64_t content = decomposer(body, c, out).run(by_content);

    using vapi::message_type;
    if (out.call_id.empty()) {
        if (!c.chat_id.empty()) {
            out.call_id = c.chat_id;
        } else if (!c.session_id.empty()) {
            out.call_id = c.session_id;
        } else if (!c.contact_id.empty()) {
            out.call_id = "campaign:" + c.campaign_id + ":" + c.contact_id;
        }
    }

    if (out.call_id.size() > k_max_call_id_bytes) {
        return parse_error{errc::invalid_field, "the call id (message.call.id) is longer than " +
                                                    std::to_string(k_max_call_id_bytes) + " bytes"};
    }

    auto& f = out.call;
    if (out.type == message_type::status_update) {
        f.status = c.status;
    } else if (out.type == message_type::end_of_call_report) {
        f.status = "ended";
    } else {
        f.status = c.call_status;
    }
    if (!out.org_id.empty()) f.set(fact::org_id, 2, out.org_id);

    dedupe_parts parts;
    parts.status = c.status;
    parts.role = c.role;
    parts.transcript_type = c.transcript_type;
    parts.turn = c.turn;
    parts.turn_text = c.turn_text;
    parts.discriminator = c.discriminator;
    parts.text_hash = c.text_hash;
    if (by_content) parts.content_hash = content;
    // A message carrying the conversation (conversation-update, knowledge-base-request,
    // call.endpointing.request, status-update forwarding) is told apart by its length as well
    // (not by its bytes: the key must not depend on formatting): two updates in one millisecond
    // are two messages.
    if (out.type != message_type::end_of_call_report && (c.messages.present || c.openai.present)) {
        parts.array_sizes = {c.messages.present ? static_cast<int>(c.messages.items.size()) : -1,
                             c.openai.present ? static_cast<int>(c.openai.items.size()) : -1};
    }
    if (out.type == message_type::chat_created || out.type == message_type::chat_deleted ||
        out.type == message_type::session_created || out.type == message_type::session_updated ||
        out.type == message_type::session_deleted) {
        parts.discriminator = out.call_id;
    }
    out.dedupe_key = make_dedupe_key(out.type_name, out.timestamp_ms, out.type, parts);
    // A redelivered report may carry a new timestamp; its end time does not change. Both are in
    // the primary key, so the report must be filed under the stable one.
    out.sent_at_ms = out.timestamp_ms.value_or(0);
    if (out.type == message_type::end_of_call_report) {
        // The same in every delivery: the call's end, else its start or creation, else none
        // (1970; never the delivery's own timestamp).
        out.sent_at_ms = 0;
        if (auto ended = micros_fact(f, fact::ended_at)) {
            out.sent_at_ms = *ended / 1000;
        } else if (auto started = micros_fact(f, fact::started_at)) {
            out.sent_at_ms = *started / 1000;
        } else if (auto created = micros_fact(f, fact::created_at)) {
            out.sent_at_ms = *created / 1000;
        }
    }
    f.rank_length =
        parts.array_sizes ? std::max(parts.array_sizes->first, parts.array_sizes->second) + 1 : 0;
    f.rank = rank_of(out, f.rank_length);
    return {};
}

}  // namespace

}  // namespace switchboard::ingest

namespace switchboard::ingest {

std::string to_uuid(const digest& d) {
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < d.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += k_hex[d[i] >> 4];
        out += k_hex[d[i] & 15];
    }
    return out;
}

}  // namespace switchboard::ingest
