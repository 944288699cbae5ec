// calls: the caller's calls from switchboard's own tables (calls, call_messages, call_events).
// A call is the caller's when its assistant, workflow or phone number is one of the caller's.
#include "detail/context.hpp"
#include "switchboard/ingest/parse.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>

namespace switchboard::manage::detail {
namespace asio = boost::asio;

namespace {

// Members without a value are left out (switchboard_strip_top_nulls: at the top level only,
// not inside stored values such as structuredData), except `status`, which the contract
// requires (null when unknown).
#define SB_CALL_JSON                                                                             \
    "(jsonb_build_object('status', c.status) || switchboard_strip_top_nulls(jsonb_build_object(" \
    "'id', c.id, 'orgId', c.org_id, 'type', c.type, 'status', c.status, "                        \
    "'endedReason', c.ended_reason, 'assistantId', c.assistant_id, "                             \
    "'workflowId', c.workflow_id, 'squadId', c.squad_id, 'phoneNumberId', c.phone_number_id, "   \
    "'customer', CASE WHEN c.customer_number IS NULL THEN NULL "                                 \
    "  ELSE jsonb_build_object('number', c.customer_number) END, "                               \
    "'phoneNumber', CASE WHEN c.phone_number IS NULL THEN NULL "                                 \
    "  ELSE jsonb_build_object('number', c.phone_number) END, "                                  \
    "'phoneCallProvider', c.phone_call_provider, 'phoneCallTransport', c.phone_call_transport, " \
    "'cost', c.cost, 'costBreakdown', c.cost_breakdown, 'costs', c.costs, "                      \
    "'createdAt', switchboard_iso(c.created_at), 'startedAt', switchboard_iso(c.started_at), "   \
    "'endedAt', switchboard_iso(c.ended_at), 'updatedAt', switchboard_iso(c.updated_at), "       \
    "'durationSeconds', c.duration_seconds, 'endedMessage', c.ended_message, "                   \
    "'destination', c.destination, "                                                             \
    "'analysis', nullif(switchboard_strip_top_nulls(jsonb_build_object('summary', c.summary, "   \
    "  'structuredData', c.structured_data, 'successEvaluation', c.success_evaluation)), "       \
    "  '{}'::jsonb), "                                                                           \
    "'artifact', nullif(switchboard_strip_top_nulls(jsonb_build_object('transcript', "           \
    "  c.transcript, 'recordingUrl', c.recording_url, "                                          \
    "  'stereoRecordingUrl', c.stereo_recording_url, "                                           \
    "  'videoRecordingUrl', c.video_recording_url, 'logUrl', c.log_url)), '{}'::jsonb))))"

#define SB_CALL_OWNED                                                          \
    "(c.assistant_id IN (SELECT id FROM assistants WHERE owner = $1) "         \
    "OR c.workflow_id IN (SELECT id FROM workflows WHERE owner = $1) "         \
    "OR EXISTS (SELECT 1 FROM phone_numbers p WHERE p.id = c.phone_number_id " \
    "AND p.owner = $1 AND coalesce(c.created_at, c.inserted_at) >= "           \
    "coalesce(p.owned_since, '-infinity')))"

// Microseconds since the epoch to a timestamptz and back, exactly over timestamptz's whole
// range: `'epoch' + n * interval '1 microsecond'` multiplies in double precision, which rounds
// beyond 2^53 µs (the year 2255), and a cursor that rounds skips or repeats rows.
#define SB_FROM_MICROS(p)                                                                \
    "(('1970-01-01'::timestamp + (" p "::bigint / 86400000000) * interval '1 day' + (" p \
    "::bigint % 86400000000) * interval '1 microsecond') AT TIME ZONE 'UTC')"
#define SB_TO_MICROS(column) "(extract(epoch FROM " column ") * 1000000)::bigint"

// $1 owner, $2 assistantId, $3 phoneNumberId, $4 workflowId, $5 status, $6 createdAtGe,
// $7 createdAtLt, $8/$9 the cursor (sort time in microseconds since the epoch, id), $10 limit.
// The caller's calls are found from the caller's assistants, workflows and numbers: for each,
// its newest calls past the cursor that pass the filters, at most a page of them, read in order
// from the index on (assistant_id | workflow_id | phone_number_id, sort time, id)
// (schemas/sql/022); of all those, the newest page. A page costs the caller's number of
// assistants, workflows and numbers times the page size, however many calls they have and
// however deep the page.
// clang-format off
#define SB_SORT_TIME "coalesce(c.created_at, c.inserted_at)"
#define SB_PAGE_OF(source_column, source_table, extra)                                          \
    "SELECT x.id, x.k FROM " source_table " s CROSS JOIN LATERAL ("                             \
    "SELECT c.id, " SB_SORT_TIME " AS k FROM calls c WHERE c." source_column " = s.id " extra   \
    "AND ($2::text IS NULL OR c.assistant_id = $2) "                                            \
    "AND ($3::text IS NULL OR c.phone_number_id = $3) "                                         \
    "AND ($4::text IS NULL OR c.workflow_id = $4) "                                             \
    "AND ($5::text IS NULL OR c.status = $5) "                                                  \
    "AND ($6::timestamptz IS NULL OR " SB_SORT_TIME " >= $6) "                                  \
    "AND ($7::timestamptz IS NULL OR " SB_SORT_TIME " < $7) "                                   \
    "AND ($8::bigint IS NULL OR (" SB_SORT_TIME ", c.id) < "                                    \
    "  (" SB_FROM_MICROS("$8") ", $9::text)) "                                                  \
    "ORDER BY " SB_SORT_TIME " DESC, c.id DESC LIMIT $10) x WHERE s.owner = $1 "
const char* const k_list =
    "WITH page AS ("
    SB_PAGE_OF("assistant_id", "assistants", "")
    " UNION "
    SB_PAGE_OF("workflow_id", "workflows", "")
    " UNION "
    SB_PAGE_OF("phone_number_id", "phone_numbers",
               "AND " SB_SORT_TIME " >= coalesce(s.owned_since, '-infinity') ")
    "ORDER BY k DESC, id DESC LIMIT $10) "
    "SELECT " SB_CALL_JSON "::text, " SB_TO_MICROS("page.k") ", c.id "
    "FROM page JOIN calls c ON c.id = page.id ORDER BY page.k DESC, page.id DESC";
// clang-format on
#undef SB_PAGE_OF
#undef SB_SORT_TIME

const char* const k_get =
    "SELECT " SB_CALL_JSON "::text FROM calls c WHERE c.id = $2 AND " SB_CALL_OWNED;

const char* const k_messages =
    "SELECT coalesce(jsonb_agg(switchboard_strip_top_nulls(jsonb_build_object("
    "'role', role, 'message', message, 'time', (extract(epoch FROM time) * 1000)::bigint, "
    "'endTime', (extract(epoch FROM end_time) * 1000)::bigint, "
    "'secondsFromStart', seconds_from_start, 'duration', duration, 'toolCalls', tool_calls, "
    "'toolCallId', tool_call_id, 'name', name, 'result', result)) ORDER BY position), "
    "'[]'::jsonb)::text FROM call_messages WHERE call_id = $1";

// A page of a call's stored messages, in the order of their Vapi timestamps, then of their
// arrival, then of their dedupe keys: read from the events' primary key (call_id, sent_at,
// dedupe_key), and sorted by arrival only within a millisecond (an incremental sort). $1 the
// call, $2/$3/$4 the cursor (the last event of the page before: its timestamp and its receive
// time in microseconds since the epoch, its dedupe key), $5 the page size. One more row than
// the page is read, to tell whether another page follows; the last three columns are the
// cursor of the next page (null when none follows).
// clang-format off
const char* const k_events =
    "WITH e AS (SELECT type, vapi_timestamp, received_at, sent_at, dedupe_key, "
    "row_number() OVER (ORDER BY sent_at, received_at, dedupe_key) AS n FROM ("
    "SELECT type, vapi_timestamp, received_at, sent_at, dedupe_key FROM call_events "
    "WHERE call_id = $1 AND ($2::bigint IS NULL OR (sent_at >= " SB_FROM_MICROS("$2") " AND "
    "(sent_at, received_at, dedupe_key) > "
    "(" SB_FROM_MICROS("$2") ", " SB_FROM_MICROS("$3") ", $4::text))) "
    "ORDER BY sent_at, received_at, dedupe_key LIMIT $5::int + 1) page) "
    "SELECT coalesce(jsonb_agg(jsonb_build_object('type', type, 'timestamp', vapi_timestamp, "
    "'receivedAt', switchboard_iso(received_at)) ORDER BY n) FILTER (WHERE n <= $5::int), "
    "'[]'::jsonb)::text, "
    "CASE WHEN count(*) > $5::int THEN max(" SB_TO_MICROS("sent_at") ") "
    "  FILTER (WHERE n = $5::int) END, "
    "CASE WHEN count(*) > $5::int THEN max(" SB_TO_MICROS("received_at") ") "
    "  FILTER (WHERE n = $5::int) END, "
    "CASE WHEN count(*) > $5::int THEN max(dedupe_key) FILTER (WHERE n = $5::int) END "
    "FROM e";
// clang-format on

#undef SB_CALL_JSON
#undef SB_CALL_OWNED
#undef SB_FROM_MICROS
#undef SB_TO_MICROS

/// A call's id as ingest takes it (any text up to ingest::k_max_call_id_bytes: Vapi's ids, a
/// chat's or a session's, "campaign:…"), not only the ids switchboard's own objects have.
std::optional<api_error> check_call_id(std::string_view id, std::string_view field) {
    if (id.empty()) return bad_request(std::string(field) + " is required");
    if (id.size() > ingest::k_max_call_id_bytes) {
        return bad_request(std::string(field) + " is too long");
    }
    if (id.find('\0') != std::string_view::npos) {
        return bad_request(std::string(field) + " is not a valid id");
    }
    return std::nullopt;
}

const char k_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string b64url(std::string_view in) {
    std::string out;
    unsigned val = 0;
    int bits = -6;
    for (unsigned char ch : in) {
        val = (val << 8) + ch;
        bits += 8;
        while (bits >= 0) {
            out.push_back(k_b64[(val >> bits) & 0x3F]);
            bits -= 6;
        }
    }
    if (bits > -6) out.push_back(k_b64[((val << 8) >> (bits + 8)) & 0x3F]);
    return out;
}

std::optional<std::string> unb64url(std::string_view in) {
    std::string out;
    unsigned val = 0;
    int bits = -8;
    for (char ch : in) {
        const char* p = std::char_traits<char>::find(k_b64, 64, ch);
        if (p == nullptr) return std::nullopt;
        val = (val << 6) + static_cast<unsigned>(p - k_b64);
        bits += 6;
        if (bits >= 0) {
            out.push_back(static_cast<char>((val >> bits) & 0xFF));
            bits -= 8;
        }
    }
    return out;
}

/// The cursor is "<sort time µs>.<id>" in base64url: opaque to callers, checked on the way in.
std::string make_cursor(const std::string& micros, const std::string& id) {
    return b64url(micros + "." + id);
}

bool parse_micros(std::string_view text) {
    long long v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    return !text.empty() && ec == std::errc{} && ptr == text.data() + text.size();
}

/// The most bytes of the dedupe key in an events' cursor: ingest keeps its keys to
/// ingest::k_max_dedupe_key_bytes now (a longer key is hashed past its type and timestamp),
/// but rows stored before it did may hold longer ones, up to what the primary key's index
/// takes (its entries are compressed).
constexpr std::size_t k_max_cursor_key_bytes = 16384;

/// The events' cursor: "<sent_at µs>.<received_at µs>.<dedupe key>" in base64url.
std::string make_event_cursor(const std::string& sent, const std::string& received,
                              const std::string& key) {
    return b64url(sent + "." + received + "." + key);
}

bool parse_event_cursor(std::string_view cursor, std::string& sent, std::string& received,
                        std::string& key) {
    if (cursor.empty() || cursor.size() > 64 + 4 * k_max_cursor_key_bytes / 3) return false;
    auto text = unb64url(cursor);
    if (!text) return false;
    const auto dot1 = text->find('.');
    if (dot1 == std::string::npos) return false;
    const auto dot2 = text->find('.', dot1 + 1);
    if (dot2 == std::string::npos || dot2 + 1 >= text->size()) return false;
    sent = text->substr(0, dot1);
    received = text->substr(dot1 + 1, dot2 - dot1 - 1);
    key = text->substr(dot2 + 1);
    return parse_micros(sent) && parse_micros(received) && key.find('\0') == std::string::npos;
}

bool parse_cursor(std::string_view cursor, std::string& micros, std::string& id) {
    if (cursor.empty() || cursor.size() > 512) return false;
    auto text = unb64url(cursor);
    if (!text) return false;
    const auto dot = text->find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 >= text->size()) return false;
    micros = text->substr(0, dot);
    id = text->substr(dot + 1);
    return parse_micros(micros) && !check_call_id(id, "cursor");
}

asio::awaitable<outcome> list(services& s, call_context& c) {
    auto limit = limit_param(c, 50, 200);
    if (!limit) co_return limit.error();
    std::optional<std::string> f[6];
    const char* names[] = {"assistantId", "phoneNumberId", "workflowId",
                           "status",      "createdAtGe",   "createdAtLt"};
    for (int i = 0; i < 6; ++i) {
        auto v = param(c, names[i]);
        if (!v) co_return v.error();
        f[i] = std::move(*v);
    }
    if (auto e = check_time(f[4], "createdAtGe")) co_return *e;
    if (auto e = check_time(f[5], "createdAtLt")) co_return *e;
    std::optional<std::string> micros, after_id;
    auto cursor = param(c, "cursor");
    if (!cursor) co_return cursor.error();
    if (*cursor && !(*cursor)->empty()) {
        std::string m, id;
        if (!parse_cursor(**cursor, m, id)) {
            co_return bad_request("cursor is invalid (pass nextCursor of the previous page)");
        }
        micros = m;
        after_id = id;
    }
    auto r = sql(s, k_list,
                 {c.owner, f[0], f[1], f[2], f[3], f[4], f[5], micros, after_id,
                  std::to_string(*limit + 1)});
    if (!r) {
        api_error e = r.error();
        if (e.status == http::status::bad_request) {
            e.message =
                "a filter (createdAtGe, createdAtLt) or the cursor is not valid: " + e.message;
        }
        co_return e;
    }
    std::string body = "{\"data\":[";
    const std::size_t n = std::min(r->size(), static_cast<std::size_t>(*limit));
    for (std::size_t i = 0; i < n; ++i) {
        if (i > 0) body += ',';
        body += (*r)[i][0].value_or("null");
    }
    body += "],\"nextCursor\":";
    if (r->size() > n) {
        const auto& last = (*r)[n - 1];
        body +=
            json::serialize(json::value(make_cursor(last[1].value_or("0"), last[2].value_or(""))));
    } else {
        body += "null";
    }
    body += '}';
    co_return reply{http::status::ok, std::move(body)};
}

asio::awaitable<outcome> get(services& s, call_context& c) {
    if (auto e = check_call_id(c.id, "id")) co_return *e;
    auto events_limit = limit_param(c, 1000, 10000, "eventsLimit");
    if (!events_limit) co_return events_limit.error();
    auto events_cursor = param(c, "eventsCursor");
    if (!events_cursor) co_return events_cursor.error();
    std::optional<std::string> after_sent, after_received, after_key;
    if (*events_cursor && !(*events_cursor)->empty()) {
        std::string sent, received, key;
        if (!parse_event_cursor(**events_cursor, sent, received, key)) {
            co_return bad_request(
                "eventsCursor is invalid (pass eventsNextCursor of the previous answer)");
        }
        after_sent = std::move(sent);
        after_received = std::move(received);
        after_key = std::move(key);
    }
    auto call = sql(s, k_get, {c.owner, c.id});
    if (!call) co_return call.error();
    if (call->empty()) co_return not_found("call", c.id);
    auto messages = sql(s, k_messages, {c.id});
    if (!messages) co_return messages.error();
    auto events = sql(s, k_events,
                      {c.id, after_sent, after_received, after_key, std::to_string(*events_limit)});
    if (!events) co_return events.error();
    const auto& ev = (*events)[0];
    std::string body = (*call)[0][0].value_or("{}");
    // Append "messages", "events" and "eventsNextCursor" to the object (it ends with '}').
    body.pop_back();
    if (body.size() > 1) body += ',';
    body += "\"messages\":" + (*messages)[0][0].value_or("[]") +
            ",\"events\":" + ev[0].value_or("[]") + ",\"eventsNextCursor\":";
    if (ev[1] && ev[2] && ev[3]) {
        body += json::serialize(json::value(make_event_cursor(*ev[1], *ev[2], *ev[3])));
    } else {
        body += "null";
    }
    body += '}';
    co_return reply{http::status::ok, std::move(body)};
}

}  // namespace

asio::awaitable<outcome> handle_calls(services& s, call_context& c) {
    if (c.action == "list") co_return co_await list(s, c);
    if (c.action == "get") co_return co_await get(s, c);
    co_return bad_request("unknown action '" + c.action + "' for calls (list or get)");
}

}  // namespace switchboard::manage::detail
