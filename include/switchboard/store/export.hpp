#pragma once
/// Reading messages back: a stored message is its skeleton plus the repeated parts it references
/// (docs/storage-design.md); these functions put them back together, JSON-equal to what was
/// received. Used by `switchboard export-call` and the tests.

#include "switchboard/ingest/event.hpp"
#include "switchboard/store/pg.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace switchboard::store {

/// The repeated parts of one call, keyed by hash (uuid text).
struct call_parts {
    std::unordered_map<std::string, std::string> blobs;  ///< hash → JSON object text
    /// node → (parent node, or "" for the first item; item JSON text)
    std::unordered_map<std::string, std::pair<std::string, std::string>> nodes;
};

/// The refs of an event as JSON: {"path": "uuid"} (null: empty array); empty when the event has
/// none. The form call_events.refs held before schemas/sql/013, and the form
/// switchboard_refs(refs_packed) reads back.
std::string refs_json(const ingest::event& ev);

/// The refs of an event as stored in call_events.refs_packed (schemas/sql/013): 17 bytes per
/// ref, its path's code (ingest::ref_path; plus 128 for an empty array) and its 16-byte hash
/// (zeros for an empty array); appended to `out`, nothing when the event has none.
void append_refs_packed(const ingest::event& ev, std::string& out);

/// The parts an event carries, as call_parts (for tests and checks without a database).
call_parts parts_of(const ingest::event& ev);

/// Rebuilds one message from its skeleton and its refs ({"path": "uuid" | null}). Throws
/// std::runtime_error when a referenced part is missing (the store would be corrupt).
std::string rebuild_message(std::string_view skeleton, std::string_view refs,
                            const call_parts& parts);

/// What the store says of a message besides its content.
struct stored_message {
    std::string refs;        ///< {"path": "uuid" | null}; "" when none
    std::string dedupe_key;  ///< call_events.dedupe_key
};

/// Every stored message of `call_id`, rebuilt, in the order they were received; with `meta`,
/// also what the store says of each (same order).
std::optional<pg_error> export_call(pg_connection& conn, const std::string& call_id,
                                    std::vector<std::string>& out,
                                    std::vector<stored_message>* meta = nullptr);

}  // namespace switchboard::store
