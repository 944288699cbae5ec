#pragma once
/// One accepted webhook, owned: everything the store needs, with no views into parser memory.
/// Created on an I/O thread, moved through the queue to a batch writer, then dropped.

#include "switchboard/ingest/ack.hpp"
#include "switchboard/vapi/message_type.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::ingest {

/// The facts of the `calls` row that a message can state (schemas/README.md has one line per
/// column). Facts merge by rank: each column takes the value of the highest-ranked message that
/// states it, so the row is the same whatever the order or repetition of the messages.
enum class fact : std::uint8_t {
    type,                  ///< call.type: inboundPhoneCall, outboundPhoneCall, webCall, …
    org_id,                ///< call.orgId
    assistant_id,          ///< call.assistantId
    workflow_id,           ///< call.workflowId
    squad_id,              ///< call.squadId
    phone_number_id,       ///< call.phoneNumberId
    phone_number,          ///< phoneNumber.number (the Vapi number called or calling)
    customer_number,       ///< customer.number, else call.customer.number
    phone_call_provider,   ///< call.phoneCallProvider: twilio, vonage, vapi, telnyx
    phone_call_transport,  ///< call.phoneCallTransport: sip, pstn
    transport_provider,    ///< call.transport.provider: twilio, daily, vapi.websocket, …
    ended_reason,          ///< endedReason, else call.endedReason
    ended_message,         ///< call.endedMessage
    cost,                  ///< cost (USD), else call.cost
    cost_breakdown,        ///< call.costBreakdown (JSON)
    costs,                 ///< costs, else call.costs (JSON array of cost items)
    summary,               ///< analysis.summary
    structured_data,       ///< analysis.structuredData (JSON)
    success_evaluation,    ///< analysis.successEvaluation
    recording_url,         ///< artifact.recordingUrl (stable, not the presigned URL)
    stereo_recording_url,  ///< artifact.stereoRecordingUrl
    video_recording_url,   ///< artifact.videoRecordingUrl
    log_url,               ///< artifact.logUrl
    transcript,            ///< artifact.transcript (the final transcript)
    destination,           ///< destination, else call.destination (JSON; a transfer)
    created_at,            ///< call.createdAt (µs, as decimal text)
    started_at,            ///< startedAt, else call.startedAt (µs)
    ended_at,              ///< endedAt, else call.endedAt (µs)
};
inline constexpr std::size_t fact_count = static_cast<std::size_t>(fact::ended_at) + 1;

/// How a fact's text is read by Postgres.
enum class fact_kind : std::uint8_t { text, number, micros, json };

struct fact_def {
    std::string_view column;  ///< the calls column
    fact_kind kind;
};
const fact_def& definition(fact f) noexcept;

/// What one message says about its call (the `calls` row is the merge of these).
struct call_facts {
    /// The message's status (status-update), else call.status; "ended" for the end-of-call
    /// report. Merged separately: the status only moves forward in the call's lifecycle.
    std::string status;
    /// The message's rank: the end-of-call report outranks every other message, then the later
    /// Vapi timestamp wins; the low bits (a hash of the dedupe key) break ties.
    std::int64_t rank = 0;
    /// For a message carrying the conversation, its length, which the rank's low bits hold
    /// instead of the hash; 0 otherwise.
    std::int64_t rank_length = 0;

    /// A fact's value as Postgres input text (json: the JSON text; micros: decimal digits).
    std::optional<std::string_view> get(fact f) const noexcept;
    /// Sets a fact; `level` says where it was read (0 the message, 1 the artifact or analysis,
    /// 2 the call object): a lower level replaces a higher one, never the reverse.
    void set(fact f, std::uint8_t level, std::string_view text_value);
    void clear(fact f) noexcept;

    struct value {
        fact name;
        std::uint8_t level;
        std::uint32_t offset;  ///< in `text`
        std::uint32_t length;
    };
    std::vector<value> values;  ///< at most one per fact
    std::string text;           ///< the values' bytes
};

/// What the reply to a message needs (ingest/replies.hpp), filled by the parse walk. Kept apart
/// from call_facts: only the types that get a reply fill it, so other messages allocate nothing.
/// The call's phone number id is call_facts::phone_number_id.
struct reply_facts {
    std::string phone_number_id;  ///< message.phoneNumber.id (assistant-request)
    std::string phone_number;     ///< message.phoneNumber.number, E.164 (assistant-request)
    struct tool_call {
        std::string id;    ///< toolCallList[].id
        std::string name;  ///< toolCallList[].function.name
    };
    std::vector<tool_call> tool_calls;  ///< tool-calls: every call to answer
};

/// A 128-bit content hash (XXH3-128, canonical big-endian bytes); stored as a Postgres uuid.
using digest = std::array<std::uint8_t, 16>;

/// A byte range of the event's body.
struct body_span {
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
};

/// Where a cut-out part sat in the message. The parser cuts out only these (the objects Vapi
/// repeats in every message of a call and the conversation arrays); the number is the part's
/// code in call_events.refs_packed (schemas/sql/013), so existing values never change.
enum class ref_path : std::uint8_t {
    call = 1,
    assistant = 2,
    phone_number = 3,
    customer = 4,
    messages = 5,
    messages_openai = 6,
    artifact_messages = 7,
    artifact_messages_openai = 8,
};

/// The path as a member name: "call", "phoneNumber", "artifact.messages", …
std::string_view path_name(ref_path p) noexcept;

/// A repeated part cut out of the stored message (docs/storage-design.md): a JSON object stored
/// once per call as a blob, or an array stored as a hash chain of its items.
struct part_ref {
    ref_path path = ref_path::call;
    digest hash{};  ///< blob hash, or the chain node of the array's last item
    bool is_array = false;
    bool empty = false;  ///< an empty array (no node)
};

struct blob_part {
    digest hash{};
    body_span text;
};

/// One item of a cut-out array: node = H(parent node ‖ H(item)); the root's parent is absent.
struct array_node {
    digest node{};
    digest parent{};
    std::int32_t position = 0;
    body_span item;
};

struct event {
    /// The request body, moved in from the HTTP request. `message()` views into it; moving the
    /// event keeps the view valid (the buffer is on the heap).
    std::string body;
    std::uint32_t message_offset = 0;
    std::uint32_t message_length = 0;

    vapi::message_type type = vapi::message_type::unknown;
    std::string type_name;  ///< as received (the only name an unknown type has)
    std::string call_id;    ///< call.id, else chat.id / session.id / campaign contact; may be empty
    std::string org_id;
    std::optional<std::int64_t> timestamp_ms;  ///< Vapi's message.timestamp
    /// The time the event is filed under (call_events.sent_at, part of its key): the sender's
    /// timestamp, except for messages whose dedupe key leaves the timestamp out (the end-of-call
    /// report), filed under a time that is the same in every delivery (the call's end).
    std::int64_t sent_at_ms = 0;
    std::int64_t received_us = 0;
    std::string dedupe_key;
    call_facts call;
    reply_facts reply;

    /// What is stored: the message minus the repeated parts, which are referenced by `refs` and
    /// carried by `blobs` and `nodes` (views into `body`).
    std::string skeleton;
    std::vector<part_ref> refs;
    std::vector<blob_part> blobs;
    std::vector<array_node> nodes;

    std::shared_ptr<ack_slot> ack;  ///< null when nobody waits (e.g. tests)
    /// The batch writer's digest of this delivery (store/batch_writer: delivery_digest), kept
    /// once computed so that a batch hashes each skeleton once; all zero: not computed yet.
    digest delivery{};

    std::string_view message() const { return {body.data() + message_offset, message_length}; }
    std::string_view text(body_span s) const { return {body.data() + s.offset, s.length}; }

    /// Bytes held, for the queue's memory bound.
    std::size_t footprint() const {
        return sizeof(event) + body.capacity() + skeleton.capacity() +
               refs.capacity() * sizeof(part_ref) + blobs.capacity() * sizeof(blob_part) +
               nodes.capacity() * sizeof(array_node);
    }
};

}  // namespace switchboard::ingest
