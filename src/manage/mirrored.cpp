// assistants, workflows, files and knowledge-bases: Vapi objects mirrored per owner.
// Create in Vapi, then mirror; a failed mirror write is compensated (docs/management-api.md).
#include "detail/context.hpp"
#include "switchboard/base/log.hpp"
#include "switchboard/http/multipart.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace switchboard::manage::detail {
namespace asio = boost::asio;
using boost::beast::http::verb;

namespace {

struct kind {
    std::string_view function;
    std::string_view noun;  ///< for messages: "assistant"
    std::string_view collection;
    const char* owned_sql;   ///< $1 id, $2 owner → one row when the caller owns it
    const char* upsert_sql;  ///< $1 id, $2 owner, $3 the Vapi object
    const char* list_sql;    ///< $1 owner, $2 createdAtLt, $3 createdAtGt, $4 limit[, $5 purpose]
    const char* delete_sql;  ///< $1 id, $2 owner
    /// $1 id, $2 owner, $3 the Vapi object as a get or an update read it: the row as it is
    /// now, never inserted again (a delete may have come between) and never older than what
    /// it holds (of two concurrent updates, Vapi's later version stays).
    const char* refresh_sql;
};

// Lifted columns come from the Vapi object itself, in SQL, so there is one write per kind. The
// conflict branch never changes the owner and never touches another owner's row.
const kind k_assistants{
    "assistants",
    "assistant",
    vapi::paths::assistant,
    "SELECT 1 FROM assistants WHERE id = $1 AND owner = $2",
    "INSERT INTO assistants (id, owner, name, vapi, created_at) "
    "SELECT $1, $2, v->>'name', v, coalesce((v->>'createdAt')::timestamptz, now()) "
    "FROM (SELECT $3::jsonb AS v) s "
    "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, vapi = EXCLUDED.vapi, "
    "updated_at = now() WHERE assistants.owner = EXCLUDED.owner",
    "SELECT vapi::text FROM assistants WHERE owner = $1 "
    "AND ($2::timestamptz IS NULL OR created_at < $2) "
    "AND ($3::timestamptz IS NULL OR created_at > $3) "
    "ORDER BY created_at DESC, id DESC LIMIT $4",
    "DELETE FROM assistants WHERE id = $1 AND owner = $2",
    "UPDATE assistants SET name = v->>'name', vapi = v, updated_at = now() FROM (SELECT $3::jsonb "
    "AS v) s "
    "WHERE id = $1 AND owner = $2 AND coalesce((v->>'updatedAt')::timestamptz, 'infinity') "
    ">= coalesce((assistants.vapi->>'updatedAt')::timestamptz, '-infinity')"};

const kind k_workflows{
    "workflows",
    "workflow",
    vapi::paths::workflow,
    "SELECT 1 FROM workflows WHERE id = $1 AND owner = $2",
    "INSERT INTO workflows (id, owner, name, vapi, created_at) "
    "SELECT $1, $2, v->>'name', v, coalesce((v->>'createdAt')::timestamptz, now()) "
    "FROM (SELECT $3::jsonb AS v) s "
    "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, vapi = EXCLUDED.vapi, "
    "updated_at = now() WHERE workflows.owner = EXCLUDED.owner",
    "SELECT vapi::text FROM workflows WHERE owner = $1 "
    "AND ($2::timestamptz IS NULL OR created_at < $2) "
    "AND ($3::timestamptz IS NULL OR created_at > $3) "
    "ORDER BY created_at DESC, id DESC LIMIT $4",
    "DELETE FROM workflows WHERE id = $1 AND owner = $2",
    "UPDATE workflows SET name = v->>'name', vapi = v, updated_at = now() FROM (SELECT $3::jsonb "
    "AS v) s "
    "WHERE id = $1 AND owner = $2 AND coalesce((v->>'updatedAt')::timestamptz, 'infinity') "
    ">= coalesce((workflows.vapi->>'updatedAt')::timestamptz, '-infinity')"};

const kind k_files{
    "files",
    "file",
    vapi::paths::file,
    "SELECT 1 FROM files WHERE id = $1 AND owner = $2",
    "INSERT INTO files (id, owner, name, bytes, mimetype, purpose, vapi, created_at) "
    "SELECT $1, $2, v->>'name', (v->>'bytes')::bigint, v->>'mimetype', v->>'purpose', v, "
    "coalesce((v->>'createdAt')::timestamptz, now()) FROM (SELECT $3::jsonb AS v) s "
    "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, bytes = EXCLUDED.bytes, "
    "mimetype = EXCLUDED.mimetype, purpose = EXCLUDED.purpose, vapi = EXCLUDED.vapi, "
    "updated_at = now() WHERE files.owner = EXCLUDED.owner",
    "SELECT vapi::text FROM files WHERE owner = $1 "
    "AND ($2::timestamptz IS NULL OR created_at < $2) "
    "AND ($3::timestamptz IS NULL OR created_at > $3) "
    "AND ($5::text IS NULL OR purpose = $5) "
    "ORDER BY created_at DESC, id DESC LIMIT $4",
    "DELETE FROM files WHERE id = $1 AND owner = $2",
    "UPDATE files SET name = v->>'name', bytes = (v->>'bytes')::bigint, mimetype = v->>'mimetype', "
    "purpose = v->>'purpose', vapi = v, updated_at = now() FROM (SELECT $3::jsonb AS v) s "
    "WHERE id = $1 AND owner = $2 AND coalesce((v->>'updatedAt')::timestamptz, 'infinity') "
    ">= coalesce((files.vapi->>'updatedAt')::timestamptz, '-infinity')"};

const kind k_knowledge_bases{
    "knowledge-bases",
    "knowledge base",
    vapi::paths::knowledge_base,
    "SELECT 1 FROM knowledge_bases WHERE id = $1 AND owner = $2",
    "INSERT INTO knowledge_bases (id, owner, name, description, vapi, created_at) "
    "SELECT $1, $2, v->>'name', v->>'description', v - 'files', "
    "coalesce((v->>'createdAt')::timestamptz, now()) FROM (SELECT $3::jsonb AS v) s "
    "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description, "
    "vapi = EXCLUDED.vapi, updated_at = now() WHERE knowledge_bases.owner = EXCLUDED.owner",
    "SELECT vapi::text FROM knowledge_bases WHERE owner = $1 "
    "AND ($2::timestamptz IS NULL OR created_at < $2) "
    "AND ($3::timestamptz IS NULL OR created_at > $3) "
    "ORDER BY created_at DESC, id DESC LIMIT $4",
    "DELETE FROM knowledge_bases WHERE id = $1 AND owner = $2",
    "UPDATE knowledge_bases SET name = v->>'name', description = v->>'description', vapi = v - "
    "'files', updated_at = now() FROM (SELECT $3::jsonb AS v) s "
    "WHERE id = $1 AND owner = $2 AND coalesce((v->>'updatedAt')::timestamptz, 'infinity') "
    ">= coalesce((knowledge_bases.vapi->>'updatedAt')::timestamptz, '-infinity')"};

const kind* kind_of(std::string_view function) {
    for (const kind* k : {&k_assistants, &k_workflows, &k_files, &k_knowledge_bases}) {
        if (k->function == function) return k;
    }
    return nullptr;
}

/// Fields Vapi sets itself: refused by Vapi when sent, so dropped from what callers send back.
void strip_read_only(json::object& o) {
    for (const char* f : {"id", "orgId", "createdAt", "updatedAt"}) o.erase(f);
}

boost::system::result<bool, api_error> owned(services& s, const kind& k, const std::string& id,
                                             const std::string& owner) {
    auto r = sql(s, k.owned_sql, {id, owner});
    if (!r) return r.error();
    return !r->empty();
}

}  // namespace

asio::awaitable<void> compensate(services& s, verb method, std::string path) {
    auto r = co_await vapi_call(s, method, path);
    if (r || (r.error().code == vapi::rest_errc::rejected && r.error().status == 404)) {
        log::warn("msg=\"compensated: removed from Vapi after a failed mirror write\" path={}",
                  path);
        co_return;
    }
    s.reconcile.add(method, std::move(path));
}

namespace {

std::optional<api_error> check_payload(const kind& k, const json::object& p, bool creating) {
    auto name = string_field(p, "name");
    if (!name) return name.error();
    if (&k == &k_workflows) {
        for (const char* f : {"nodes", "edges"}) {
            const json::value* v = p.if_contains(f);
            if (v != nullptr && !v->is_array())
                return bad_request(std::string(f) + " must be an array");
        }
    }
    if (&k == &k_knowledge_bases) {
        if (creating && (!*name || (*name)->empty())) return bad_request("name is required");
        auto d = string_field(p, "description");
        if (!d) return d.error();
    }
    if (&k == &k_files && !creating) {
        for (const auto& [key, v] : p) {
            if (key != "name") {
                return bad_request("only name can be updated on a file (got " + std::string(key) +
                                   ")");
            }
        }
        if (!*name) return bad_request("name is required");
    }
    return std::nullopt;
}

asio::awaitable<outcome> mirror_created(services& s, const kind& k, const call_context& c,
                                        vapi::rest_client::reply r) {
    if (!r) co_return from_vapi(r.error());
    const json::value& obj = *r;
    const json::value* id = obj.is_object() ? obj.get_object().if_contains("id") : nullptr;
    if (id == nullptr || !id->is_string()) {
        co_return api_error{http::status::bad_gateway,
                            "Vapi's answer has no id; nothing was recorded"};
    }
    const std::string vapi_id(id->get_string());
    auto m = sql_exec(s, k.upsert_sql, {vapi_id, c.owner, json::serialize(obj)});
    if (m && *m == 0) {
        // Vapi answered with the id of an object recorded for someone else: that object is
        // theirs, and is not deleted here.
        log::error(
            "msg=\"Vapi create answered with an id recorded for another owner\" "
            "function={} id={}",
            k.function, vapi_id);
        co_return api_error{http::status::bad_gateway, "Vapi answered with the id of an existing " +
                                                           std::string(k.noun) +
                                                           "; nothing was recorded for you"};
    }
    if (!m) {
        log::error("msg=\"mirror write failed after Vapi create\" function={} id={} error=\"{}\"",
                   k.function, vapi_id, m.error().message);
        co_await compensate(s, verb::delete_, item_path(k.collection, vapi_id));
        co_return api_error{http::status::service_unavailable,
                            "the " + std::string(k.noun) +
                                " could not be recorded (database unavailable); it was not "
                                "created, try again later"};
    }
    co_return ok_json(obj, true);
}

/// The ids of the caller's own objects that an assistant or workflow may name: the files and
/// knowledge bases it uses (`fileIds`/`fileId` at any depth, in a query tool's knowledge base
/// or a model's, and `knowledgeBaseId`/`knowledgeBaseIds`). Each must be the caller's: another
/// caller's file would otherwise be read out to the caller's calls, and Vapi's answer (400 or
/// 201) would tell whether an id exists. Answered as for an id that does not exist.
void collect_references(const json::value& v, json::array& files, json::array& kbs) {
    const auto take = [](const json::value& x, json::array& into) {
        if (x.is_string()) into.push_back(x);
        if (const json::array* a = x.if_array()) {
            for (const auto& item : *a) {
                if (item.is_string()) into.push_back(item);
            }
        }
    };
    if (const json::object* o = v.if_object()) {
        for (const auto& [key, value] : *o) {
            if (key == "fileIds" || key == "fileId") {
                take(value, files);
            } else if (key == "knowledgeBaseId" || key == "knowledgeBaseIds") {
                take(value, kbs);
            } else {
                collect_references(value, files, kbs);
            }
        }
    } else if (const json::array* a = v.if_array()) {
        for (const auto& item : *a) collect_references(item, files, kbs);
    }
}

std::optional<api_error> check_references(services& s, const call_context& c,
                                          const json::object& payload) {
    json::array files, kbs;
    collect_references(payload, files, kbs);
    const std::pair<const json::array*, const char*> lists[] = {{&files, "file"},
                                                                {&kbs, "knowledge base"}};
    for (const auto& [ids, noun] : lists) {
        if (ids->empty()) continue;
        const char* query = ids == &files ? "SELECT x FROM jsonb_array_elements_text($2::jsonb) x "
                                            "WHERE NOT EXISTS (SELECT 1 FROM files f "
                                            "WHERE f.id = x AND f.owner = $1) LIMIT 1"
                                          : "SELECT x FROM jsonb_array_elements_text($2::jsonb) x "
                                            "WHERE NOT EXISTS (SELECT 1 FROM knowledge_bases b "
                                            "WHERE b.id = x AND b.owner = $1) LIMIT 1";
        auto missing = sql(s, query, {c.owner, json::serialize(*ids)});
        if (!missing) return missing.error();
        if (!missing->empty()) return not_found(noun, (*missing)[0][0].value_or(""));
    }
    return std::nullopt;
}

asio::awaitable<outcome> create(services& s, const kind& k, call_context& c) {
    strip_read_only(c.payload);
    if (auto e = check_payload(k, c.payload, true)) co_return *e;
    if (&k == &k_assistants || &k == &k_workflows) {
        if (auto e = check_references(s, c, c.payload)) co_return *e;
        inject_server(s, c.payload);
    }
    if (auto e = check_webhook_credential(s, c.payload)) co_return *e;
    json::value body = c.payload;
    if (&k == &k_knowledge_bases) {
        // Vapi whitelists these two fields.
        json::object kb;
        for (const char* f : {"name", "description"}) {
            if (const json::value* v = c.payload.if_contains(f)) kb[f] = *v;
        }
        body = std::move(kb);
    }
    auto r = co_await vapi_call(s, verb::post, std::string(k.collection), {}, std::move(body));
    co_return co_await mirror_created(s, k, c, std::move(r));
}

constexpr std::size_t k_max_metadata_bytes = 65536;

asio::awaitable<outcome> upload(services& s, const kind& k, call_context& c) {
    if (c.request == nullptr || c.media_type != "multipart/form-data") {
        co_return api_error{http::status::unsupported_media_type,
                            "upload a file as multipart/form-data with a part named file"};
    }
    std::string error;
    auto parts = http::parse_multipart(c.content_type, c.request->body(), error);
    if (!parts) co_return bad_request("invalid multipart body: " + error);
    vapi::file_upload f;
    bool have_file = false;
    for (const auto& p : *parts) {
        if (p.name == "file") {
            if (have_file) co_return bad_request("only one part named file is accepted");
            if (p.data.size() > s.max_upload_bytes) {
                co_return api_error{
                    http::status::payload_too_large,
                    "file exceeds " + std::to_string(s.max_upload_bytes) + " bytes"};
            }
            have_file = true;
            f.filename = p.has_filename && !p.filename.empty() ? p.filename : "file";
            f.content_type = p.content_type;
            f.data.assign(p.data);
        } else if (p.name == "purpose") {
            f.purpose = std::string(p.data);
        } else if (p.name == "metadata") {
            // Parsed into a tree of up to 12 times its size, beyond what the upload is
            // counted for: a few kB in practice.
            if (p.data.size() > k_max_metadata_bytes) {
                co_return api_error{
                    http::status::payload_too_large,
                    "metadata exceeds " + std::to_string(k_max_metadata_bytes) + " bytes"};
            }
            boost::system::error_code ec;
            json::value m = json::parse(p.data, ec);
            if (ec || !m.is_object()) co_return bad_request("metadata must be a JSON object");
            f.metadata = std::move(m.get_object());
        }
    }
    if (!have_file) co_return bad_request("the part named file is required");
    auto r = co_await s.vapi.upload_file(std::move(f));
    co_return co_await mirror_created(s, k, c, std::move(r));
}

asio::awaitable<outcome> list(services& s, const kind& k, call_context& c) {
    auto page = page_params(c);
    if (!page) co_return page.error();
    if (&k == &k_files) {
        auto purpose = param(c, "purpose");
        if (!purpose) co_return purpose.error();
        co_return json_array_reply(
            s, sql(s, k.list_sql,
                   {c.owner, page->created_lt, page->created_gt, page->limit, *purpose}));
    }
    co_return json_array_reply(
        s, sql(s, k.list_sql, {c.owner, page->created_lt, page->created_gt, page->limit}));
}

/// The caller's object: 404 for ids that are not the caller's.
std::optional<api_error> require_owned(services& s, const kind& k, const call_context& c) {
    if (auto e = check_id(c.id, "id")) return e;
    auto o = owned(s, k, c.id, c.owner);
    if (!o) return o.error();
    if (!*o) return not_found(k.noun, c.id);
    return std::nullopt;
}

asio::awaitable<outcome> get(services& s, const kind& k, call_context& c) {
    if (auto e = require_owned(s, k, c)) co_return *e;
    auto r = co_await vapi_call(s, verb::get, item_path(k.collection, c.id));
    if (!r) {
        if (r.error().status == 404) (void)sql_exec(s, k.delete_sql, {c.id, c.owner});
        co_return from_vapi(r.error());
    }
    if (auto m = sql_exec(s, k.refresh_sql, {c.id, c.owner, json::serialize(*r)}); !m) {
        log::warn("msg=\"mirror refresh failed\" function={} id={}", k.function, c.id);
    }
    co_return ok_json(*r);
}

asio::awaitable<outcome> update(services& s, const kind& k, call_context& c) {
    if (auto e = require_owned(s, k, c)) co_return *e;
    strip_read_only(c.payload);
    if (auto e = check_payload(k, c.payload, false)) co_return *e;
    if (&k == &k_assistants || &k == &k_workflows) {
        if (auto e = check_references(s, c, c.payload)) co_return *e;
    }
    // An object sent back as it was read has switchboard's server without its header.
    if ((&k == &k_assistants || &k == &k_workflows) && c.payload.contains("server")) {
        inject_server(s, c.payload);
    }
    if (auto e = check_webhook_credential(s, c.payload)) co_return *e;
    auto r = co_await vapi_call(s, verb::patch, item_path(k.collection, c.id), {},
                                json::value(c.payload));
    if (!r) {
        if (r.error().status == 404) (void)sql_exec(s, k.delete_sql, {c.id, c.owner});
        co_return from_vapi(r.error());
    }
    auto m = sql_exec(s, k.refresh_sql, {c.id, c.owner, json::serialize(*r)});
    if (!m) {
        co_return api_error{http::status::service_unavailable,
                            "updated in Vapi but not recorded (database unavailable); the "
                            "next get refreshes it"};
    }
    co_return ok_json(*r);
}

asio::awaitable<outcome> remove(services& s, const kind& k, call_context& c) {
    if (auto e = require_owned(s, k, c)) co_return *e;
    if (&k == &k_assistants || &k == &k_workflows) {
        // Any number routed to it counts, an operator's too (a row without owner); only the
        // caller's own number is named.
        auto used =
            sql(s,
                &k == &k_assistants ? "SELECT id, owner IS NOT DISTINCT FROM $2 FROM phone_numbers "
                                      "WHERE assistant_id = $1 ORDER BY 2 DESC LIMIT 1"
                                    : "SELECT id, owner IS NOT DISTINCT FROM $2 FROM phone_numbers "
                                      "WHERE workflow_id = $1 ORDER BY 2 DESC LIMIT 1",
                {c.id, c.owner});
        if (!used) co_return used.error();
        if (!used->empty()) {
            const bool mine = (*used)[0][1].value_or("") == "t";
            co_return api_error{http::status::conflict,
                                "the " + std::string(k.noun) + " is assigned to " +
                                    (mine ? "phone number " + (*used)[0][0].value_or("")
                                          : std::string("a phone number of the operator's")) +
                                    "; unassign it first"};
        }
    }
    auto r = co_await vapi_call(s, verb::delete_, item_path(k.collection, c.id));
    const bool gone = !r && r.error().code == vapi::rest_errc::rejected && r.error().status == 404;
    if (!r && !gone) co_return from_vapi(r.error());
    auto m = sql_exec(s, k.delete_sql, {c.id, c.owner});
    if (!m) co_return m.error();
    if (&k == &k_assistants || &k == &k_workflows) {
        // An assign that found the object before its row went may have routed a number to it
        // since the check above; with the row gone no new one can (phone_numbers.cpp, k_route).
        auto cleared = sql(s,
                           &k == &k_assistants
                               ? "UPDATE phone_numbers SET assistant_id = NULL, updated_at = now() "
                                 "WHERE assistant_id = $1 RETURNING id"
                               : "UPDATE phone_numbers SET workflow_id = NULL, updated_at = now() "
                                 "WHERE workflow_id = $1 RETURNING id",
                           {c.id});
        if (cleared && !cleared->empty()) {
            log::warn("msg=\"deleted {} was routed to meanwhile: routes cleared\" id={} numbers={}",
                      k.noun, c.id, cleared->size());
        }
    }
    if (&k == &k_files) {
        (void)sql_exec(s, "DELETE FROM knowledge_base_files WHERE file_id = $1 AND owner = $2",
                       {c.id, c.owner});
    }
    if (gone) co_return not_found(k.noun, c.id);
    co_return ok_json(*r);
}

boost::system::result<std::string, api_error> file_id_of(const call_context& c) {
    if (!c.sub_id.empty()) return c.sub_id;
    auto f = string_field(c.payload, "fileId");
    if (!f) return f.error();
    if (!*f) return bad_request("fileId is required");
    return **f;
}

asio::awaitable<outcome> attach(services& s, call_context& c) {
    if (auto e = require_owned(s, k_knowledge_bases, c)) co_return *e;
    auto file = file_id_of(c);
    if (!file) co_return file.error();
    if (auto e = check_id(*file, "fileId")) co_return *e;
    auto o = owned(s, k_files, *file, c.owner);
    if (!o) co_return o.error();
    if (!*o) co_return not_found("file", *file);
    json::object body;
    body["fileId"] = *file;
    auto r =
        co_await vapi_call(s, verb::post, item_path(vapi::paths::knowledge_base, c.id) + "/file",
                           {}, json::value(std::move(body)));
    if (!r) co_return from_vapi(r.error());
    auto m = sql_exec(s,
                      "INSERT INTO knowledge_base_files (knowledge_base_id, file_id, owner) "
                      "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                      {c.id, *file, c.owner});
    if (!m) {
        co_await compensate(s, verb::delete_,
                            item_path(vapi::paths::knowledge_base, c.id) + "/file/" +
                                vapi::encode_uri_component(*file));
        co_return api_error{http::status::service_unavailable,
                            "the attachment could not be recorded (database unavailable); it "
                            "was undone, try again later"};
    }
    co_return ok_json(*r, true);
}

asio::awaitable<outcome> detach(services& s, call_context& c) {
    if (auto e = require_owned(s, k_knowledge_bases, c)) co_return *e;
    auto file = file_id_of(c);
    if (!file) co_return file.error();
    if (auto e = check_id(*file, "fileId")) co_return *e;
    auto r = co_await vapi_call(s, verb::delete_,
                                item_path(vapi::paths::knowledge_base, c.id) + "/file/" +
                                    vapi::encode_uri_component(*file));
    const bool gone = !r && r.error().code == vapi::rest_errc::rejected && r.error().status == 404;
    if (!r && !gone) co_return from_vapi(r.error());
    auto m = sql_exec(s,
                      "DELETE FROM knowledge_base_files WHERE knowledge_base_id = $1 "
                      "AND file_id = $2 AND owner = $3",
                      {c.id, *file, c.owner});
    if (!m) co_return m.error();
    if (gone) co_return not_found("file", *file);
    co_return ok_json(*r);
}

asio::awaitable<outcome> kb_files(services& s, call_context& c) {
    if (auto e = require_owned(s, k_knowledge_bases, c)) co_return *e;
    auto r =
        co_await vapi_call(s, verb::get, item_path(vapi::paths::knowledge_base, c.id) + "/file");
    if (!r) co_return from_vapi(r.error());
    co_return ok_json(*r);
}

}  // namespace

asio::awaitable<outcome> handle_mirrored(services& s, call_context& c) {
    const kind* k = kind_of(c.function);
    if (k == nullptr) co_return not_found("function", c.function);
    const std::string& a = c.action;
    if (a == "create" || a == "upload") {
        if (k == &k_files) co_return co_await upload(s, *k, c);
        co_return co_await create(s, *k, c);
    }
    if (a == "list") co_return co_await list(s, *k, c);
    if (a == "get") co_return co_await get(s, *k, c);
    if (a == "update") co_return co_await update(s, *k, c);
    if (a == "delete") co_return co_await remove(s, *k, c);
    if (k == &k_knowledge_bases) {
        if (a == "attach") co_return co_await attach(s, c);
        if (a == "detach") co_return co_await detach(s, c);
        if (a == "files" || a == "listFiles") co_return co_await kb_files(s, c);
    }
    co_return bad_request("unknown action '" + a + "' for " + std::string(k->function));
}

}  // namespace switchboard::manage::detail
