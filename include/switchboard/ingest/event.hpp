#pragma once
/// One accepted webhook, owned: everything the store needs, with no views into parser memory.
/// Created on an I/O thread, moved through the queue to a batch writer, then dropped.

#include "switchboard/ingest/ack.hpp"
#include "switchboard/vapi/message_type.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

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

    std::shared_ptr<ack_slot> ack;  ///< null when nobody waits (e.g. tests)

    std::string_view message() const { return {body.data() + message_offset, message_length}; }

    /// Bytes held, for the queue's memory bound.
    std::size_t footprint() const { return sizeof(event) + body.capacity(); }
};

}  // namespace switchboard::ingest
