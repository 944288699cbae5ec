#include "switchboard/store/export.hpp"

#include "switchboard/ingest/parse.hpp"

#include <boost/json.hpp>

#include <stdexcept>

namespace switchboard::store {
namespace json = boost::json;

namespace {

/// The array whose last item is `head`, as JSON text: the items' texts, as stored, in order.
/// Texts are spliced, never parsed into doubles: a number keeps every digit it was stored with.
void append_array(const std::string& head, const call_parts& parts, std::string& out) {
    std::vector<const std::string*> items;
    std::string_view node = head;
    while (!node.empty()) {
        auto it = parts.nodes.find(std::string(node));
        if (it == parts.nodes.end()) {
            throw std::runtime_error("missing array node " + std::string(node));
        }
        items.push_back(&it->second.second);
        node = it->second.first;
        if (items.size() > parts.nodes.size()) throw std::runtime_error("cycle in array nodes");
    }
    out += '[';
    for (auto it = items.rbegin(); it != items.rend(); ++it) {
        if (it != items.rbegin()) out += ',';
        out += **it;
    }
    out += ']';
}

const char* skip_ws(const char* p, const char* end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
    return p;
}

/// Past the end of the JSON string starting at `p` (the opening quote).
const char* skip_string(const char* p, const char* end) {
    for (++p; p < end; ++p) {
        if (*p == '\\') {
            ++p;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    throw std::runtime_error("unterminated string in skeleton");
}

/// Past the end of the JSON value starting at `p`.
const char* skip_value(const char* p, const char* end) {
    if (p < end && *p == '"') return skip_string(p, end);
    int depth = 0;
    for (; p < end; ++p) {
        const char c = *p;
        if (c == '"') {
            p = skip_string(p, end) - 1;
        } else if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            if (depth == 0) return p;
            if (--depth == 0) return p + 1;
        } else if (depth == 0 && c == ',') {
            return p;
        }
    }
    return p;
}

/// The closing brace of the object value of the last top-level key `key` of `object` (JSON
/// text of an object); nullptr when there is none.
const char* member_object_close(std::string_view object, std::string_view key) {
    const char* p = object.data();
    const char* end = p + object.size();
    const char* found = nullptr;
    p = skip_ws(p, end);
    if (p == end || *p != '{') return nullptr;
    ++p;
    for (;;) {
        p = skip_ws(p, end);
        if (p == end || *p != '"') return found;
        const char* key_start = p;
        p = skip_string(p, end);
        // Keys as written by jsonb or the skeleton builder; an escaped key never equals ours.
        const std::string_view k(key_start + 1, static_cast<std::size_t>(p - key_start - 2));
        p = skip_ws(p, end);
        if (p == end || *p != ':') return found;
        p = skip_ws(p + 1, end);
        const char* value = p;
        p = skip_value(p, end);
        if (k == key && value < end && *value == '{') found = p - 1;
        p = skip_ws(p, end);
        if (p == end || *p != ',') return found;
        ++p;
    }
}

/// Inserts `members` ("\"k\": v, …", no braces) before the closing brace `close` of an object
/// of `text` (which starts at `open`).
void insert_members(std::string& text, std::size_t close, const std::string& members) {
    if (members.empty()) return;
    std::size_t before = close;
    while (before > 0 && (text[before - 1] == ' ' || text[before - 1] == '\t' ||
                          text[before - 1] == '\n' || text[before - 1] == '\r')) {
        --before;
    }
    const bool empty = before > 0 && text[before - 1] == '{';
    text.insert(close, empty ? members : ", " + members);
}

/// Undoes the parse's escape of U+0000 (ingest/parse.cpp): in the JSON text, U+FDD0 U+FDD1 is
/// written back as \u0000 and U+FDD0 U+FDD0 as U+FDD0.
void unescape_nul(std::string& text) {
    constexpr std::string_view marker = "\xEF\xB7\x90";  // U+FDD0
    std::size_t at = text.find(marker);
    if (at == std::string::npos) return;
    std::string out;
    out.reserve(text.size());
    std::size_t from = 0;
    while (at != std::string::npos) {
        out.append(text, from, at - from);
        const std::string_view next = std::string_view(text).substr(at + 3, 3);
        if (next == "\xEF\xB7\x91") {
            out += "\\u0000";
            from = at + 6;
        } else if (next == marker) {
            out += marker;
            from = at + 6;
        } else {
            out += marker;
            from = at + 3;
        }
        at = text.find(marker, from);
    }
    out.append(text, from);
    text.swap(out);
}

}  // namespace

namespace {
/// `"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"` (quoted), as ingest::to_uuid without a string of its
/// own.
void append_uuid(std::string& out, const ingest::digest& d) {
    static constexpr char k_hex[] = "0123456789abcdef";
    char buf[38];
    std::size_t n = 0;
    buf[n++] = '"';
    for (std::size_t i = 0; i < d.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) buf[n++] = '-';
        buf[n++] = k_hex[d[i] >> 4];
        buf[n++] = k_hex[d[i] & 15];
    }
    buf[n++] = '"';
    out.append(buf, n);
}
}  // namespace

std::string refs_json(const ingest::event& ev) {
    if (ev.refs.empty()) return {};
    std::string out = "{";
    out.reserve(2 + ev.refs.size() * 72);
    for (const auto& ref : ev.refs) {
        if (out.size() > 1) out += ',';
        out += '"';
        out += ingest::path_name(ref.path);  // fixed names: no escaping needed
        out += "\":";
        if (ref.is_array && ref.empty) {
            out += "null";
        } else {
            append_uuid(out, ref.hash);
        }
    }
    out += '}';
    return out;
}

void append_refs_packed(const ingest::event& ev, std::string& out) {
    for (const auto& ref : ev.refs) {
        const bool empty = ref.is_array && ref.empty;
        out += static_cast<char>(static_cast<std::uint8_t>(ref.path) | (empty ? 128 : 0));
        if (empty) {
            out.append(16, '\0');
        } else {
            out.append(reinterpret_cast<const char*>(ref.hash.data()), ref.hash.size());
        }
    }
}

call_parts parts_of(const ingest::event& ev) {
    call_parts parts;
    for (const auto& b : ev.blobs)
        parts.blobs.emplace(ingest::to_uuid(b.hash), std::string(ev.text(b.text)));
    for (const auto& n : ev.nodes) {
        parts.nodes.emplace(ingest::to_uuid(n.node),
                            std::pair(n.position == 0 ? std::string() : ingest::to_uuid(n.parent),
                                      std::string(ev.text(n.item))));
    }
    return parts;
}

std::string rebuild_message(std::string_view skeleton, std::string_view refs,
                            const call_parts& parts) {
    // The parts are put back as text, without a parse into doubles (a big integer or a long
    // decimal keeps its digits): each ref becomes a member of the top-level object or of its
    // "artifact" object (paths are "key" or "artifact.key", see ingest/parse.cpp).
    std::string out(skeleton);
    if (refs.empty()) {
        unescape_nul(out);
        return out;
    }
    const json::value ref_map = json::parse(refs);
    std::string top, artifact;
    for (const auto& [path, ref] : ref_map.as_object()) {
        std::string_view key = path;
        std::string* target = &top;
        if (key.starts_with("artifact.")) {
            key.remove_prefix(9);
            target = &artifact;
        }
        if (!target->empty()) *target += ", ";
        *target += json::serialize(json::string(key));
        *target += ": ";
        if (ref.is_null()) {
            *target += "[]";
            continue;
        }
        const std::string hash(ref.as_string());
        if (auto blob = parts.blobs.find(hash); blob != parts.blobs.end()) {
            *target += blob->second;
        } else {
            append_array(hash, parts, *target);
        }
    }
    if (!artifact.empty()) {
        const char* close = member_object_close(out, "artifact");
        if (close == nullptr) throw std::runtime_error("artifact parts without an artifact");
        insert_members(out, static_cast<std::size_t>(close - out.data()), artifact);
    }
    const auto close = out.find_last_of('}');
    if (close == std::string::npos) throw std::runtime_error("skeleton is not an object");
    insert_members(out, close, top);
    unescape_nul(out);
    return out;
}

std::optional<pg_error> export_call(pg_connection& conn, const std::string& call_id,
                                    std::vector<std::string>& out,
                                    std::vector<stored_message>* meta) {
    char* escaped = PQescapeLiteral(conn.get(), call_id.data(), call_id.size());
    if (escaped == nullptr)
        return pg_error{pg_error::kind::connection, {}, PQerrorMessage(conn.get())};
    const std::string id = escaped;
    PQfreemem(escaped);

    // One snapshot for the three reads: a message committed between them could name parts
    // that the earlier reads did not see. Read-only, so its end (also on an exception from
    // rebuild_message) changes nothing.
    if (auto e = conn.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")) return e;
    struct end_snapshot {
        pg_connection& conn;
        ~end_snapshot() { (void)conn.exec("COMMIT"); }
    } snapshot{conn};

    call_parts parts;
    pg_result res(nullptr, &PQclear);
    if (auto e = conn.query(
            ("SELECT hash, body::text FROM switchboard_call_blobs(" + id + ")").c_str(), res)) {
        return e;
    }
    for (int i = 0; i < PQntuples(res.get()); ++i) {
        parts.blobs.emplace(PQgetvalue(res.get(), i, 0), PQgetvalue(res.get(), i, 1));
    }
    if (auto e =
            conn.query(("SELECT node, coalesce(parent::text, ''), item::text FROM call_array_nodes"
                        " WHERE call_id = " +
                        id)
                           .c_str(),
                       res)) {
        return e;
    }
    for (int i = 0; i < PQntuples(res.get()); ++i) {
        parts.nodes.emplace(PQgetvalue(res.get(), i, 0),
                            std::pair(std::string(PQgetvalue(res.get(), i, 1)),
                                      std::string(PQgetvalue(res.get(), i, 2))));
    }
    if (auto e = conn.query(("SELECT skeleton::text,"
                             " coalesce(refs::text, switchboard_refs(refs_packed)::text, ''),"
                             " dedupe_key"
                             " FROM call_events"
                             " WHERE call_id = " +
                             id + " ORDER BY received_at, sent_at, dedupe_key")
                                .c_str(),
                            res)) {
        return e;
    }
    for (int i = 0; i < PQntuples(res.get()); ++i) {
        out.push_back(
            rebuild_message(PQgetvalue(res.get(), i, 0), PQgetvalue(res.get(), i, 1), parts));
        if (meta != nullptr)
            meta->push_back({PQgetvalue(res.get(), i, 1), PQgetvalue(res.get(), i, 2)});
    }
    return std::nullopt;
}

}  // namespace switchboard::store
