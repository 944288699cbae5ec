#pragma once
/// Webhook body → event fields, with simdjson On-Demand (one parser per I/O thread, reused).
///
/// The body is walked once, completely: every string is unescaped and every number parsed, so a
/// body that passes is valid JSON that Postgres' jsonb will also accept (a `\u0000` escape, which
/// jsonb refuses, is refused here too). During the walk the fields the store needs are copied
/// into the event; nothing keeps a view into parser memory.

#include "switchboard/ingest/errc.hpp"
#include "switchboard/ingest/event.hpp"

#include <boost/system/result.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::ingest {

struct parse_error {
    errc code;
    std::string detail;  ///< for the 400 body, e.g. "message.type must be a string"
};

/// Parses `body` (which must have at least 64 bytes of capacity past its size, as
/// http::padded_body guarantees) into `out`: message bounds, type, ids, timestamp, dedupe key
/// and call facts. `received_us` and `ack` are left to the caller, and so is `out.body`, unless
/// the parse set it: a body with U+0000 (which Postgres cannot store) is parsed and kept with
/// each U+0000 written as U+FDD0 U+FDD1 and each U+FDD0 as U+FDD0 U+FDD0 (store/export.cpp
/// turns them back); the caller then keeps `out.body` and its own body is the original.
boost::system::result<void, parse_error> parse_webhook(const std::string& body, event& out);

/// The dedupe key of a message: type, Vapi timestamp and the fields that tell two messages of
/// the same type and time apart (never a hash of the whole body: presigned URLs change between
/// deliveries). Exposed for tests.
struct dedupe_parts {
    std::string_view status;
    std::string_view role;
    std::string_view transcript_type;
    std::optional<std::int64_t> turn;
    std::string_view turn_text;      ///< a turn that is not an int64, as written
    std::string_view discriminator;  ///< e.g. tool call ids, entity id
    std::uint64_t text_hash = 0;     ///< FNV-1a of the message's text, when it has one
    /// FNV-1a of the message's own content (not its call/assistant/customer/phoneNumber nor
    /// its artifact), for messages without a timestamp only; 0: not used.
    std::uint64_t content_hash = 0;
    /// Item counts of the message's top-level `messages` and `messagesOpenAIFormatted` (-1:
    /// absent): the length of the conversation it carries.
    std::optional<std::pair<int, int>> array_sizes;
};
/// Bounds of what goes into the events' primary key (Postgres refuses index entries over 2,704
/// bytes): a longer type or call id is refused (400), a longer key has its tail hashed.
inline constexpr std::size_t k_max_type_bytes = 128;
inline constexpr std::size_t k_max_call_id_bytes = 256;
inline constexpr std::size_t k_max_dedupe_key_bytes = 1024;
std::string make_dedupe_key(std::string_view type_name, std::optional<std::int64_t> timestamp_ms,
                            vapi::message_type type, const dedupe_parts& parts);

/// A member of an object's JSON text.
struct object_member {
    std::uint64_t key_hash = 0;     ///< XXH3-64 of the key, unescaped
    std::uint64_t member_hash = 0;  ///< XXH3-64 of the member's bytes, `"key": value`
    std::uint32_t begin = 0;        ///< where the member starts (the key's opening quote)
    std::uint32_t end = 0;          ///< one past the value's last byte
};

/// The top-level members of `object_json`, a JSON object already validated (a part cut out by
/// parse_webhook), in order. False when it is not an object. The batch writers use it to store
/// a new version of a part as the members that changed (store/batch_writer.cpp).
bool object_members(std::string_view object_json, std::vector<object_member>& out);

/// Gives `ev` the dedupe key its message was stored under, and the rank that key gives. A
/// message rebuilt from the store (recovery) is JSON-equal to the one received, not byte-equal,
/// and the hashes in its key may differ from those of the bytes first received.
void refile(event& ev, std::string dedupe_key);

}  // namespace switchboard::ingest

namespace switchboard::ingest {

/// A digest in Postgres' uuid text form (8-4-4-4-12 lower-case hex).
std::string to_uuid(const digest& d);

}  // namespace switchboard::ingest
