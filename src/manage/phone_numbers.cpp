// phone-numbers: Vapi numbers that route through switchboard. The Vapi number keeps no
// assistantId/workflowId/squadId (so Vapi sends assistant-request); the route lives in
// phone_numbers, whose trigger NOTIFYs every process's routing cache.
#include "detail/context.hpp"
#include "switchboard/base/log.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>

namespace switchboard::manage::detail {
namespace asio = boost::asio;
using boost::beast::http::verb;

namespace {

constexpr std::string_view k_noun = "phone number";

// The number as the caller sees it: Vapi's object with switchboard's route overlaid.
#define SB_OVERLAY                                                                         \
    "(vapi || jsonb_build_object('assistantId', assistant_id, 'workflowId', workflow_id, " \
    "'squadId', squad_id))::text"

const char* const k_owned = "SELECT 1 FROM phone_numbers WHERE id = $1 AND owner = $2";
const char* const k_select =
    "SELECT " SB_OVERLAY " FROM phone_numbers WHERE id = $1 AND owner = $2";
// Created or claimed: a new row, or the caller's own again. A row of another caller or of an
// operator (owner NULL) is left as it is (no row returned). $7: the number is taken from the
// org's inventory (a claim), so its calls are the caller's from now on (schemas/sql/016); a
// number the caller created has no calls before it. $8: the request gave a route; a claim of
// the caller's own number that gives none keeps the route it has.
const char* const k_upsert =
    "INSERT INTO phone_numbers (id, owner, number, provider, name, assistant_id, workflow_id, "
    "squad_id, vapi, created_at, owned_since) "
    "SELECT $1, $2, v->>'number', v->>'provider', v->>'name', $4, $5, $6, v, "
    "coalesce((v->>'createdAt')::timestamptz, now()), CASE WHEN $7::bool THEN now() END "
    "FROM (SELECT $3::jsonb AS v) s "
    "ON CONFLICT (id) DO UPDATE SET number = EXCLUDED.number, "
    "provider = EXCLUDED.provider, name = EXCLUDED.name, vapi = EXCLUDED.vapi, "
    "assistant_id = CASE WHEN $8::bool THEN EXCLUDED.assistant_id "
    "ELSE phone_numbers.assistant_id END, "
    "workflow_id = CASE WHEN $8::bool THEN EXCLUDED.workflow_id "
    "ELSE phone_numbers.workflow_id END, "
    "squad_id = CASE WHEN $8::bool THEN EXCLUDED.squad_id ELSE phone_numbers.squad_id END, "
    "updated_at = now() "
    "WHERE phone_numbers.owner = EXCLUDED.owner "
    "RETURNING " SB_OVERLAY ", xmin::text";
const char* const k_refresh =
    "UPDATE phone_numbers SET number = v->>'number', provider = v->>'provider', "
    "name = v->>'name', vapi = v, updated_at = now() FROM (SELECT $3::jsonb AS v) s "
    "WHERE id = $1 AND owner = $2 RETURNING " SB_OVERLAY;
// The target must still be the caller's when the route is written, in the same statement: an
// assistant or workflow deleted meanwhile is not routed to (its delete clears the routes it
// finds afterwards, mirrored.cpp).
const char* const k_route =
    "UPDATE phone_numbers SET assistant_id = $3, workflow_id = $4, squad_id = $5, "
    "updated_at = now() WHERE id = $1 AND owner = $2 "
    "AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM assistants WHERE id = $3 AND owner = $2)) "
    "AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM workflows WHERE id = $4 AND owner = $2)) "
    "RETURNING " SB_OVERLAY;
const char* const k_delete = "DELETE FROM phone_numbers WHERE id = $1 AND owner = $2";
// The row as one claim wrote it ($3: its xmin), not as a later request left it.
const char* const k_delete_written =
    "DELETE FROM phone_numbers WHERE id = $1 AND owner = $2 AND xmin::text = $3";
const char* const k_list = "SELECT " SB_OVERLAY
                           " FROM phone_numbers WHERE owner = $1 "
                           "AND ($2::timestamptz IS NULL OR created_at < $2) "
                           "AND ($3::timestamptz IS NULL OR created_at > $3) "
                           "ORDER BY created_at DESC, id DESC LIMIT $4";
#undef SB_OVERLAY

/// A route: at most one of the three targets; `given` when the payload named any of them.
struct route {
    bool given = false;
    std::optional<std::string> assistant_id, workflow_id, squad_id;
};

const char* const k_route_fields[] = {"assistantId", "workflowId", "squadId"};

/// Reads (and removes) the route fields of `p`; the targets must be the caller's.
boost::system::result<route, api_error> take_route(services& s, const call_context& c,
                                                   json::object& p) {
    route r;
    std::optional<std::string>* slots[] = {&r.assistant_id, &r.workflow_id, &r.squad_id};
    int set = 0;
    for (int i = 0; i < 3; ++i) {
        const char* f = k_route_fields[i];
        if (!p.contains(f)) continue;
        r.given = true;
        auto v = string_field(p, f);
        if (!v) return v.error();
        p.erase(f);
        if (!*v) continue;
        if (auto e = check_id(**v, f)) return *e;
        *slots[i] = std::move(*v);
        ++set;
    }
    if (set > 1) return bad_request("set at most one of assistantId, workflowId and squadId");
    if (r.assistant_id) {
        auto o = sql(s, "SELECT 1 FROM assistants WHERE id = $1 AND owner = $2",
                     {*r.assistant_id, c.owner});
        if (!o) return o.error();
        if (o->empty()) return not_found("assistant", *r.assistant_id);
    }
    if (r.workflow_id) {
        auto o = sql(s, "SELECT 1 FROM workflows WHERE id = $1 AND owner = $2",
                     {*r.workflow_id, c.owner});
        if (!o) return o.error();
        if (o->empty()) return not_found("workflow", *r.workflow_id);
    }
    return r;
}

std::optional<api_error> require_owned(services& s, const call_context& c) {
    if (auto e = check_id(c.id, "id")) return e;
    auto o = sql(s, k_owned, {c.id, c.owner});
    if (!o) return o.error();
    if (o->empty()) return not_found(k_noun, c.id);
    return std::nullopt;
}

/// A number as stored (the mirror may hold what was written before redact_credentials).
reply raw_json(const services& s, std::string text, bool created = false) {
    return reply{created ? http::status::created : http::status::ok,
                 redacted_text(s.webhook_auth, std::move(text))};
}

/// Whether an org number without a row is in use all the same: Vapi routes it by itself (an
/// assistant, workflow or squad set on it) or sends its calls to another server than
/// switchboard. Such a number is live somewhere: search does not offer it and a claim answers
/// as for a number that does not exist, so no caller can take over its calls.
bool in_use_in_vapi(const services& s, const json::value& vapi_number) {
    const json::object* o = vapi_number.if_object();
    if (o == nullptr) return true;
    for (const char* f : k_route_fields) {
        const json::value* v = o->if_contains(f);
        if (v != nullptr && !v->is_null()) return true;
    }
    const std::string ours = s.cfg.public_url + "/receive";
    const auto elsewhere = [&ours](const json::value* url) {
        return url != nullptr && url->is_string() && !url->get_string().empty() &&
               url->get_string() != ours;
    };
    if (elsewhere(o->if_contains("serverUrl"))) return true;
    const json::value* server = o->if_contains("server");
    return server != nullptr && server->is_object() &&
           elsewhere(server->get_object().if_contains("url"));
}

/// What search shows of a number nobody has claimed: what a caller needs to choose it, nothing
/// of its configuration (its provider's account, its server's headers).
json::object search_view(const json::object& n) {
    json::object out;
    for (const char* f :
         {"id", "number", "name", "provider", "status", "sipUri", "createdAt", "updatedAt"}) {
        if (const json::value* v = n.if_contains(f)) out[f] = *v;
    }
    return out;
}

asio::awaitable<outcome> mirror_new(services& s, const call_context& c, const route& r,
                                    vapi::rest_client::reply created) {
    if (!created) co_return from_vapi(created.error());
    const json::value* id =
        created->is_object() ? created->get_object().if_contains("id") : nullptr;
    if (id == nullptr || !id->is_string()) {
        co_return api_error{http::status::bad_gateway,
                            "Vapi's answer has no id; nothing was recorded"};
    }
    const std::string vapi_id(id->get_string());
    auto m = sql(s, k_upsert,
                 {vapi_id, c.owner, json::serialize(*created), r.assistant_id, r.workflow_id,
                  r.squad_id, "false", "true"});
    if (m && m->empty()) {
        // The id has a row of another caller or an operator's already (Vapi answered with an
        // existing number's id, or someone claimed the new number before this row was
        // written): whatever Vapi holds under it is theirs, and is not released here.
        log::error(
            "msg=\"Vapi create answered with a number recorded for another owner\" "
            "function=phone-numbers id={}",
            vapi_id);
        co_return api_error{http::status::bad_gateway,
                            "Vapi answered with the id of a number recorded for another "
                            "account; nothing was recorded for you"};
    }
    if (!m) {
        log::error("msg=\"mirror write failed after Vapi create\" function=phone-numbers id={}",
                   vapi_id);
        co_await compensate(s, verb::delete_, item_path(vapi::paths::phone_number, vapi_id));
        co_return api_error{http::status::service_unavailable,
                            "the phone number could not be recorded (database unavailable); it "
                            "was released again, try again later"};
    }
    co_return raw_json(s, (*m)[0][0].value_or("null"), true);
}

asio::awaitable<outcome> claim(services& s, call_context& c, route r, std::string id) {
    if (auto e = check_id(id, "phoneNumberId")) co_return *e;
    auto held = sql(s, "SELECT owner FROM phone_numbers WHERE id = $1", {id});
    if (!held) co_return held.error();
    // A number another caller holds, or one an operator routes (a row without owner), answers
    // exactly as a number that does not exist: a caller never learns that someone else has it.
    const bool mine = !held->empty() && (*held)[0][0] && *(*held)[0][0] == c.owner;
    if (!held->empty() && !mine) co_return not_found("phone number", id);
    auto got = co_await vapi_call(s, verb::get, item_path(vapi::paths::phone_number, id));
    if (!got && got.error().status == 404) co_return not_found("phone number", id);
    if (!got) co_return from_vapi(got.error());
    if (!mine && in_use_in_vapi(s, *got)) co_return not_found("phone number", id);
    // The row first, then Vapi: of two callers claiming one number, the one whose row lands
    // takes it and the other changes nothing in Vapi; and a claim Vapi refuses is undone here.
    auto m = sql(s, k_upsert,
                 {id, c.owner, json::serialize(*got), r.assistant_id, r.workflow_id, r.squad_id,
                  "true", r.given ? "true" : "false"});
    if (!m) co_return m.error();
    if (m->empty()) co_return not_found("phone number", id);  // taken meanwhile
    const std::string written = (*m)[0][1].value_or("");      // this claim's version of the row
    json::object patch;
    auto name = string_field(c.payload, "name");
    if (!name) co_return name.error();
    if (*name) patch["name"] = **name;
    json::object server_probe;
    if (const json::object* o = got->if_object()) {
        if (const json::value* sv = o->if_contains("server")) server_probe["server"] = *sv;
    }
    inject_server(s, server_probe);
    if (const json::value* sv = server_probe.if_contains("server")) {
        const json::value* before =
            got->is_object() ? got->get_object().if_contains("server") : nullptr;
        if (before == nullptr || *before != *sv) patch["server"] = *sv;
    }
    if (!patch.empty()) {
        const json::object sent = patch;  // what may have to be put back
        auto patched = co_await vapi_call(s, verb::patch, item_path(vapi::paths::phone_number, id),
                                          {}, json::value(std::move(patch)));
        if (!patched) {
            // A refusal (4xx) changed nothing in Vapi. Without an answer (5xx, timeout) the
            // change may have been made: Vapi's fields are put back as they were.
            const unsigned status = patched.error().status;
            if (status == 0 || status >= 500) {
                json::object restore;
                const json::object* before = got->if_object();
                for (const auto& field : sent) {
                    const json::value* v =
                        before != nullptr ? before->if_contains(field.key()) : nullptr;
                    restore[field.key()] = v != nullptr ? *v : json::value(nullptr);
                }
                auto undone =
                    co_await vapi_call(s, verb::patch, item_path(vapi::paths::phone_number, id), {},
                                       json::value(std::move(restore)));
                if (!undone) {
                    log::error(
                        "msg=\"claim: Vapi did not answer the change and its number could not be "
                        "put back: restore it by hand\" id={} was=\"{}\"",
                        id, redacted_text(s.webhook_auth, json::serialize(*got)));
                }
            }
            // The claim did not happen: the row goes, unless it was the caller's before or a
            // later request (the caller's own concurrent claim) has written it since.
            if (!mine) {
                if (auto d = sql_exec(s, k_delete_written, {id, c.owner, written}); !d) {
                    log::error("msg=\"claim: Vapi refused the change and the row stays\" id={}",
                               id);
                }
            }
            co_return from_vapi(patched.error());
        }
        auto refreshed = sql(s, k_refresh, {id, c.owner, json::serialize(*patched)});
        if (refreshed && !refreshed->empty()) m = std::move(refreshed);
    }
    co_return raw_json(s, (*m)[0][0].value_or("null"), true);
}

asio::awaitable<outcome> provision(services& s, call_context& c) {
    json::object p = c.payload;
    auto r = take_route(s, c, p);
    if (!r) co_return r.error();
    auto claimed = string_field(p, "phoneNumberId");
    if (!claimed) co_return claimed.error();
    if (*claimed) co_return co_await claim(s, c, *r, **claimed);

    auto provider = string_field(p, "provider");
    if (!provider) co_return provider.error();
    if (!*provider) {
        co_return bad_request(
            "provider is required (vapi, twilio, vonage, telnyx or byo-phone-number), or "
            "phoneNumberId to claim a number found by search");
    }
    const std::string& prov = **provider;
    if (prov == "vapi") {
        if (const json::value* ac = p.if_contains("areaCode")) {
            std::string code;
            if (ac->is_string()) {
                code = std::string(ac->get_string());
            } else if (ac->is_int64() || ac->is_uint64()) {
                code = json::serialize(*ac);
            } else if (!ac->is_null()) {
                co_return bad_request("areaCode must be a string of 3 digits");
            }
            if (!ac->is_null()) {
                if (code.size() != 3 ||
                    !std::all_of(code.begin(), code.end(),
                                 [](unsigned char ch) { return std::isdigit(ch) != 0; })) {
                    co_return bad_request("areaCode must be 3 digits (got '" + code + "')");
                }
                p["numberDesiredAreaCode"] = code;
            }
            p.erase("areaCode");
        }
    } else if (prov != "twilio" && prov != "vonage" && prov != "telnyx" &&
               prov != "byo-phone-number") {
        co_return bad_request(
            "provider must be one of vapi, twilio, vonage, telnyx, "
            "byo-phone-number (got '" +
            prov + "')");
    }
    for (const char* f : {"id", "orgId", "createdAt", "updatedAt"}) p.erase(f);
    inject_server(s, p);
    if (auto e = check_webhook_credential(s, p)) co_return *e;
    auto created = co_await vapi_call(s, verb::post, std::string(vapi::paths::phone_number), {},
                                      json::value(std::move(p)));
    co_return co_await mirror_new(s, c, *r, std::move(created));
}

/// The route was not written: its target was deleted after take_route found it (the number is
/// the caller's, checked before).
api_error route_target_gone(const route& r) {
    if (r.assistant_id) return not_found("assistant", *r.assistant_id);
    if (r.workflow_id) return not_found("workflow", *r.workflow_id);
    return not_found(k_noun, "");
}

asio::awaitable<outcome> assign(services& s, call_context& c) {
    if (auto e = require_owned(s, c)) co_return *e;
    json::object p = c.payload;
    auto r = take_route(s, c, p);
    if (!r) co_return r.error();
    if (!r->given) {
        co_return bad_request(
            "assistantId, workflowId or squadId is required (all null to "
            "unroute)");
    }
    auto m = sql(s, k_route, {c.id, c.owner, r->assistant_id, r->workflow_id, r->squad_id});
    if (!m) co_return m.error();
    if (m->empty()) co_return route_target_gone(*r);
    co_return raw_json(s, (*m)[0][0].value_or("null"));
}

asio::awaitable<outcome> get(services& s, call_context& c) {
    if (auto e = require_owned(s, c)) co_return *e;
    auto got = co_await vapi_call(s, verb::get, item_path(vapi::paths::phone_number, c.id));
    if (!got) {
        if (got.error().status == 404) (void)sql_exec(s, k_delete, {c.id, c.owner});
        co_return from_vapi(got.error());
    }
    auto m = sql(s, k_refresh, {c.id, c.owner, json::serialize(*got)});
    if (!m) co_return m.error();
    if (m->empty()) co_return not_found(k_noun, c.id);
    co_return raw_json(s, (*m)[0][0].value_or("null"));
}

/// A number's SIP `authentication` is shown without its password (redact_provider_secrets). An
/// update that sends it back as it was read, without a password, would replace Vapi's with one
/// that has none: such an unchanged `authentication` is left out of the update, and a changed
/// one must give its password.
std::optional<api_error> keep_sip_password(services& s, const call_context& c, json::object& p) {
    const json::value* given = p.if_contains("authentication");
    if (given == nullptr || !given->is_object() || given->get_object().contains("password")) {
        return std::nullopt;
    }
    auto m = sql(s,
                 "SELECT (vapi->'authentication') - 'password' FROM phone_numbers "
                 "WHERE id = $1 AND owner = $2",
                 {c.id, c.owner});
    if (!m) return m.error();
    boost::system::error_code ec;
    const json::value stored =
        !m->empty() && (*m)[0][0] ? json::parse(*(*m)[0][0], ec) : json::value();
    if (!ec && stored == *given) {
        p.erase("authentication");
        return std::nullopt;
    }
    return bad_request(
        "authentication.password is required to change authentication (it is "
        "never shown)");
}

asio::awaitable<outcome> update(services& s, call_context& c) {
    if (auto e = require_owned(s, c)) co_return *e;
    json::object p = c.payload;
    for (const char* f : {"id", "orgId", "createdAt", "updatedAt"}) p.erase(f);
    auto r = take_route(s, c, p);
    if (!r) co_return r.error();
    if (const json::value* provider = p.if_contains("provider")) {
        // The number sent back as it was read names its provider: that one is no change.
        auto held = sql(s, "SELECT provider FROM phone_numbers WHERE id = $1 AND owner = $2",
                        {c.id, c.owner});
        if (!held) co_return held.error();
        const bool same = !held->empty() && (*held)[0][0] && provider->is_string() &&
                          provider->get_string() == *(*held)[0][0];
        if (!same) co_return bad_request("provider cannot be changed");
        p.erase("provider");
    }
    if (auto name = string_field(p, "name"); !name) co_return name.error();
    if (p.contains("server")) inject_server(s, p);
    if (auto e = check_webhook_credential(s, p)) co_return *e;
    if (auto e = keep_sip_password(s, c, p)) co_return *e;
    if (!p.empty()) {
        auto patched =
            co_await vapi_call(s, verb::patch, item_path(vapi::paths::phone_number, c.id), {},
                               json::value(std::move(p)));
        if (!patched) {
            if (patched.error().status == 404) (void)sql_exec(s, k_delete, {c.id, c.owner});
            co_return from_vapi(patched.error());
        }
        auto m = sql(s, k_refresh, {c.id, c.owner, json::serialize(*patched)});
        if (!m) co_return m.error();
    }
    if (r->given) {
        auto m = sql(s, k_route, {c.id, c.owner, r->assistant_id, r->workflow_id, r->squad_id});
        if (!m) co_return m.error();
        if (m->empty()) co_return route_target_gone(*r);
    }
    auto m = sql(s, k_select, {c.id, c.owner});
    if (!m) co_return m.error();
    if (m->empty()) co_return not_found(k_noun, c.id);
    co_return raw_json(s, (*m)[0][0].value_or("null"));
}

asio::awaitable<outcome> release(services& s, call_context& c) {
    if (auto e = require_owned(s, c)) co_return *e;
    auto r = co_await vapi_call(s, verb::delete_, item_path(vapi::paths::phone_number, c.id));
    const bool gone = !r && r.error().code == vapi::rest_errc::rejected && r.error().status == 404;
    if (!r && !gone) co_return from_vapi(r.error());
    auto m = sql_exec(s, k_delete, {c.id, c.owner});
    if (!m) co_return m.error();
    if (gone) co_return not_found(k_noun, c.id);
    co_return ok_json(*r);
}

asio::awaitable<outcome> list(services& s, call_context& c) {
    auto page = page_params(c);
    if (!page) co_return page.error();
    co_return json_array_reply(
        s, sql(s, k_list, {c.owner, page->created_lt, page->created_gt, page->limit}));
}

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    return out;
}

asio::awaitable<outcome> search(services& s, call_context& c) {
    auto limit = limit_param(c, 100, 1000);
    if (!limit) co_return limit.error();
    auto text = param(c, "search");
    if (!text) co_return text.error();
    auto area = param(c, "areaCode");
    if (!area) co_return area.error();
    if (*area && ((*area)->size() != 3 ||
                  !std::all_of((*area)->begin(), (*area)->end(),
                               [](unsigned char ch) { return std::isdigit(ch) != 0; }))) {
        co_return bad_request("areaCode must be 3 digits (got '" + **area + "')");
    }
    auto provider = param(c, "provider");
    if (!provider) co_return provider.error();

    vapi::query_params everything;
    everything.emplace_back(std::string("limit"), std::string("1000"));
    auto all = co_await vapi_call(s, verb::get, std::string(vapi::paths::phone_number),
                                  std::move(everything));
    if (!all) co_return from_vapi(all.error());
    if (!all->is_array()) {
        co_return api_error{http::status::bad_gateway, "Vapi's number list is not an array"};
    }
    json::array ids;
    for (const auto& n : all->get_array()) {
        if (const json::object* o = n.if_object()) {
            if (const json::value* id = o->if_contains("id"); id != nullptr && id->is_string()) {
                ids.push_back(*id);
            }
        }
    }
    // Taken: a number with a row, whether a caller's or an operator's (owner NULL).
    auto claimed = sql(s,
                       "SELECT id FROM phone_numbers WHERE id IN "
                       "(SELECT jsonb_array_elements_text($1::jsonb))",
                       {json::serialize(ids)});
    if (!claimed) co_return claimed.error();
    std::vector<std::string> taken;
    for (const auto& row : *claimed) taken.push_back(row[0].value_or(""));

    const std::string needle = *text ? lower(**text) : std::string();
    json::array out;
    for (const auto& n : all->get_array()) {
        const json::object* o = n.if_object();
        if (o == nullptr) continue;
        auto field = [o](const char* f) {
            const json::value* v = o->if_contains(f);
            return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
        };
        const std::string id = field("id");
        if (std::find(taken.begin(), taken.end(), id) != taken.end()) continue;
        const std::string number = field("number");
        if (!needle.empty() && lower(number).find(needle) == std::string::npos &&
            lower(field("name")).find(needle) == std::string::npos) {
            continue;
        }
        if (*area && !number.starts_with("+1" + **area)) continue;
        if (*provider && field("provider") != **provider) continue;
        if (in_use_in_vapi(s, n)) continue;
        out.push_back(search_view(*o));
        if (out.size() >= static_cast<std::size_t>(*limit)) break;
    }
    co_return ok_json(out);
}

}  // namespace

asio::awaitable<outcome> handle_phone_numbers(services& s, call_context& c) {
    const std::string& a = c.action;
    if (a == "create" || a == "provision" || a == "buy" || a == "import" || a == "claim") {
        co_return co_await provision(s, c);
    }
    if (a == "search") co_return co_await search(s, c);
    if (a == "assign") co_return co_await assign(s, c);
    if (a == "release" || a == "delete") co_return co_await release(s, c);
    if (a == "list") co_return co_await list(s, c);
    if (a == "get") co_return co_await get(s, c);
    if (a == "update") co_return co_await update(s, c);
    co_return bad_request("unknown action '" + a + "' for phone-numbers");
}

}  // namespace switchboard::manage::detail
