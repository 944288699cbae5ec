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

/// What one message says about its call (the `calls` row is the merge of these).
struct call_facts {
    std::string status;  ///< from status-update, else call.status ("ended" for end-of-call-report)
    std::string ended_reason;
    std::string call_type;  ///< inboundPhoneCall, webCall, …
    std::string assistant_id;
    std::string phone_number_id;
    std::string customer_number;
    std::optional<double> cost;
    std::optional<std::int64_t> created_at_us;  ///< call.createdAt
    std::optional<std::int64_t> started_at_us;
    std::optional<std::int64_t> ended_at_us;
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

/// A repeated part cut out of the stored message (docs/storage-design.md): a JSON object stored
/// once per call as a blob, or an array stored as a hash chain of its items.
struct part_ref {
    std::string path;  ///< "call", "assistant", "messages", "artifact.messages", …
    digest hash{};     ///< blob hash, or the chain node of the array's last item
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
