#include "switchboard/store/export.hpp"

#include "switchboard/ingest/parse.hpp"

#include <boost/json.hpp>

#include <stdexcept>

namespace switchboard::store {
namespace json = boost::json;

namespace {

json::value array_from(const std::string& head, const call_parts& parts) {
    std::vector<const std::string*> items;
    std::string node = head;
    while (!node.empty()) {
        auto it = parts.nodes.find(node);
        if (it == parts.nodes.end()) throw std::runtime_error("missing array node " + node);
        items.push_back(&it->second.second);
        node = it->second.first;
        if (items.size() > parts.nodes.size()) throw std::runtime_error("cycle in array nodes");
    }
    json::array out;
    out.reserve(items.size());
    for (auto it = items.rbegin(); it != items.rend(); ++it) out.push_back(json::parse(**it));
    return out;
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
        out += ref.path;  // fixed names: no escaping needed
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
    json::value message = json::parse(skeleton);
    if (refs.empty()) return json::serialize(message);
    const json::value ref_map = json::parse(refs);
    for (const auto& [path, ref] : ref_map.as_object()) {
        // Paths are "key" or "artifact.key" (one level, see ingest/parse.cpp).
        json::object* target = &message.as_object();
        std::string_view key = path;
        if (auto dot = key.find('.'); dot != std::string_view::npos) {
            target = &(*target)[key.substr(0, dot)].as_object();
            key = key.substr(dot + 1);
        }
        if (ref.is_null()) {
            (*target)[key] = json::array();
            continue;
        }
        const std::string hash(ref.as_string());
        if (auto blob = parts.blobs.find(hash); blob != parts.blobs.end()) {
            (*target)[key] = json::parse(blob->second);
        } else {
            (*target)[key] = array_from(hash, parts);
        }
    }
    return json::serialize(message);
}

std::optional<pg_error> export_call(pg_connection& conn, const std::string& call_id,
                                    std::vector<std::string>& out) {
    char* escaped = PQescapeLiteral(conn.get(), call_id.data(), call_id.size());
    if (escaped == nullptr)
        return pg_error{pg_error::kind::connection, {}, PQerrorMessage(conn.get())};
    const std::string id = escaped;
    PQfreemem(escaped);

    call_parts parts;
    pg_result res(nullptr, &PQclear);
    if (auto e = conn.query(
            ("SELECT hash, body::text FROM call_blobs WHERE call_id = " + id).c_str(), res)) {
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
    if (auto e = conn.query(("SELECT skeleton::text, coalesce(refs::text, '') FROM call_events"
                             " WHERE call_id = " +
                             id + " ORDER BY received_at, sent_at, dedupe_key")
                                .c_str(),
                            res)) {
        return e;
    }
    for (int i = 0; i < PQntuples(res.get()); ++i) {
        out.push_back(
            rebuild_message(PQgetvalue(res.get(), i, 0), PQgetvalue(res.get(), i, 1), parts));
    }
    return std::nullopt;
}

}  // namespace switchboard::store
