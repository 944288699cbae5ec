// Helpers shared by the management functions: error mapping, Vapi timing, SQL, input checks.
#include "detail/context.hpp"

#include <prometheus/histogram.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

namespace switchboard::manage::detail {
namespace asio = boost::asio;
using boost::beast::http::verb;

api_error from_vapi(const vapi::rest_error& e) {
    switch (e.code) {
        case vapi::rest_errc::not_configured:
            return {http::status::service_unavailable, "Vapi is not configured (VAPI_API_KEY)"};
        case vapi::rest_errc::rejected:
            if (e.status == 404) return {http::status::not_found, e.message};
            if (e.status == 409) return {http::status::conflict, e.message};
            if (e.status == 400 || e.status == 422) {
                return {http::status::unprocessable_entity, e.message};
            }
            // 401/403: our API key was refused; anything else is Vapi's failure, not the caller's.
            return {http::status::bad_gateway, e.message};
        case vapi::rest_errc::unreachable:
        case vapi::rest_errc::timeout:
        case vapi::rest_errc::server_error:
        case vapi::rest_errc::malformed_reply:
            return {http::status::bad_gateway, e.message};
    }
    return {http::status::bad_gateway, e.message};
}

api_error from_pg(const store::pg_error& e) {
    if (e.what == store::pg_error::kind::data) {
        // Postgres' first line says what is wrong ("date/time field value out of range: …").
        std::string first = e.message.substr(0, e.message.find('\n'));
        if (first.starts_with("ERROR:")) first.erase(0, 6);
        while (!first.empty() && first.front() == ' ') first.erase(0, 1);
        return {http::status::bad_request, "invalid value: " + first};
    }
    return {http::status::service_unavailable, "the database is unavailable, try again later"};
}

api_error bad_request(std::string message) {
    return {http::status::bad_request, std::move(message)};
}

api_error not_found(std::string_view what, std::string_view id) {
    return {http::status::not_found, std::string(what) + " " + std::string(id) + " not found"};
}

std::string item_path(std::string_view collection, std::string_view id) {
    return std::string(collection) + "/" + vapi::encode_uri_component(id);
}

asio::awaitable<vapi::rest_client::reply> vapi_call(services& s, verb method, std::string path,
                                                    vapi::query_params query,
                                                    std::optional<json::value> body) {
    // The label is the collection (ids would explode the series): "/assistant", "/v2/...".
    std::string operation = std::string(boost::beast::http::to_string(method)) + " ";
    {
        std::string_view p = path;
        const bool v2 = p.starts_with("/v2/");
        const std::size_t skip = v2 ? 4 : 1;
        const std::size_t slash = p.find('/', skip);
        operation += std::string(p.substr(0, slash));
        if (slash != std::string_view::npos) operation += "/{id}";
        if (p.ends_with("/file") && slash != std::string_view::npos) operation += "/file";
    }
    const bool phone_number = path.starts_with(vapi::paths::phone_number) ||
                              path.starts_with(vapi::paths::phone_number_v2);
    const auto start = std::chrono::steady_clock::now();
    auto r = co_await s.vapi.call(method, std::move(path), std::move(query), std::move(body));
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    s.vapi_seconds
        .Add({{"operation", operation}},
             prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
                                                     60})
        .Observe(took.count());
    if (r) {
        redact_credentials(s.webhook_auth, *r);
        if (phone_number) redact_provider_secrets(*r);
    }
    co_return r;
}

void redact_provider_secrets(json::value& v) {
    if (json::array* arr = v.if_array()) {
        for (auto& item : *arr) redact_provider_secrets(item);
        return;
    }
    json::object* o = v.if_object();
    if (o == nullptr) return;
    if (json::value* page = o->if_contains("results"); page != nullptr && page->is_array()) {
        redact_provider_secrets(*page);  // a paginated list (/v2/phone-number)
        return;
    }
    o->erase("twilioAuthToken");
    o->erase("twilioApiSecret");
    if (json::value* a = o->if_contains("authentication")) {
        if (json::object* auth = a->if_object()) auth->erase("password");
    }
}

namespace {

/// Runs a parameterized query on the management pool into `res` (NULL for an empty optional).
std::optional<api_error> run(services& s, const char* query,
                             std::initializer_list<std::optional<std::string>> params,
                             store::pg_result& res) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    if (auto e = s.pg.query(query, values, res)) return from_pg(*e);
    return std::nullopt;
}

}  // namespace

boost::system::result<rows, api_error> sql(
    services& s, const char* query, std::initializer_list<std::optional<std::string>> params) {
    store::pg_result res(nullptr, &PQclear);
    if (auto e = run(s, query, params, res)) return *e;
    rows out;
    const int n = PQntuples(res.get());
    const int f = PQnfields(res.get());
    out.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        row r;
        r.reserve(static_cast<std::size_t>(f));
        for (int j = 0; j < f; ++j) {
            if (PQgetisnull(res.get(), i, j) != 0) {
                r.emplace_back(std::nullopt);
            } else {
                r.emplace_back(std::string(PQgetvalue(res.get(), i, j),
                                           static_cast<std::size_t>(PQgetlength(res.get(), i, j))));
            }
        }
        out.push_back(std::move(r));
    }
    return out;
}

boost::system::result<page_filters, api_error> page_params(const call_context& c) {
    auto limit = limit_param(c, 100, 1000);
    if (!limit) return limit.error();
    auto lt = param(c, "createdAtLt");
    if (!lt) return lt.error();
    auto gt = param(c, "createdAtGt");
    if (!gt) return gt.error();
    if (auto e = check_time(*lt, "createdAtLt")) return *e;
    if (auto e = check_time(*gt, "createdAtGt")) return *e;
    return page_filters{std::to_string(*limit), std::move(*lt), std::move(*gt)};
}

outcome json_array_reply(const services& s, boost::system::result<rows, api_error> r) {
    if (!r) {
        api_error e = r.error();
        if (e.status == http::status::bad_request)
            e.message = "a time filter (createdAtLt, createdAtGt) is not valid: " + e.message;
        return e;
    }
    std::string body = "[";
    for (const auto& item : *r) {
        if (body.size() > 1) body += ',';
        body += item[0] ? redacted_text(s.webhook_auth, *item[0]) : "null";
    }
    body += ']';
    return reply{http::status::ok, std::move(body)};
}

boost::system::result<long, api_error> sql_exec(
    services& s, const char* query, std::initializer_list<std::optional<std::string>> params) {
    store::pg_result res(nullptr, &PQclear);
    if (auto e = run(s, query, params, res)) return *e;
    const char* n = PQcmdTuples(res.get());
    return n != nullptr && *n != '\0' ? std::strtol(n, nullptr, 10) : 0L;
}

boost::system::result<std::optional<std::string>, api_error> param(const call_context& c,
                                                                   std::string_view name) {
    for (const auto& [k, v] : c.query) {
        if (k == name) return std::optional<std::string>(v);
    }
    const json::value* v = c.payload.if_contains(name);
    if (v == nullptr || v->is_null()) return std::optional<std::string>();
    if (v->is_string()) return std::optional<std::string>(std::string(v->get_string()));
    if (v->is_int64() || v->is_uint64()) {
        return std::optional<std::string>(json::serialize(*v));
    }
    return bad_request(std::string(name) + " must be a string");
}

boost::system::result<std::optional<std::string>, api_error> string_field(const json::object& o,
                                                                          std::string_view name) {
    const json::value* v = o.if_contains(name);
    if (v == nullptr || v->is_null()) return std::optional<std::string>();
    if (!v->is_string()) return bad_request(std::string(name) + " must be a string");
    return std::optional<std::string>(std::string(v->get_string()));
}

boost::system::result<int, api_error> limit_param(const call_context& c, int fallback, int max,
                                                  std::string_view name) {
    auto text = param(c, name);
    if (!text) return text.error();
    if (!*text) return fallback;
    int v = 0;
    const std::string& t = **text;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc{} || ptr != t.data() + t.size() || v < 1 || v > max) {
        return bad_request(std::string(name) + " must be an integer from 1 to " +
                           std::to_string(max) + " (got '" + t + "')");
    }
    return v;
}

std::optional<api_error> check_id(std::string_view id, std::string_view field) {
    if (id.empty()) return bad_request(std::string(field) + " is required");
    if (id.size() > 128) return bad_request(std::string(field) + " is too long");
    for (unsigned char ch : id) {
        if (ch <= 0x20 || ch == 0x7f || ch == '/' || ch == '?' || ch == '#' || ch == '%') {
            return bad_request(std::string(field) + " is not a valid id");
        }
    }
    return std::nullopt;
}

std::optional<api_error> check_time(const std::optional<std::string>& value,
                                    std::string_view field) {
    if (!value) return std::nullopt;
    const std::string& v = *value;
    auto digits = [&v](std::size_t from, std::size_t n) {
        if (v.size() < from + n) return false;
        for (std::size_t i = from; i < from + n; ++i) {
            if (v[i] < '0' || v[i] > '9') return false;
        }
        return true;
    };
    bool ok = v.size() <= 40 && digits(0, 4) && v.size() >= 10 && v[4] == '-' && digits(5, 2) &&
              v[7] == '-' && digits(8, 2);
    for (std::size_t i = 10; ok && i < v.size(); ++i) {
        const char ch = v[i];
        ok = (ch >= '0' && ch <= '9') || ch == 'T' || ch == ':' || ch == '.' || ch == '+' ||
             ch == '-' || ch == 'Z' || ch == ' ';
    }
    if (ok) {
        const int month = (v[5] - '0') * 10 + (v[6] - '0');
        const int day = (v[8] - '0') * 10 + (v[9] - '0');
        ok = month >= 1 && month <= 12 && day >= 1 && day <= 31;
    }
    if (!ok) {
        return bad_request(std::string(field) +
                           " must be an ISO 8601 time, e.g. 2026-01-31T12:00:00Z (got '" + v +
                           "')");
    }
    return std::nullopt;
}

namespace {

/// The value of the webhook authentication header switchboard puts in the Vapi objects it
/// routes to itself; empty when the webhooks are not authenticated by a header.
std::pair<std::string, std::string> auth_header(const config::auth_config& a) {
    if (!a.secret.empty()) return {a.secret_header, a.secret};
    if (!a.bearer_token.empty()) {
        return {a.bearer_header, a.bearer_prefix ? "Bearer " + a.bearer_token : a.bearer_token};
    }
    return {};
}

/// A credential id as Vapi may read it: lower case, without the hyphens and braces a UUID may be
/// written with (Postgres reads `{A0EEBC99-…}`, `a0eebc99…` and `a0eebc99-…` as one uuid).
std::string canonical_id(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (c != '-' && c != '{' && c != '}') {
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
    }
    return out;
}

bool is_credential(const config::auth_config& a, std::string_view text) {
    return (!a.secret.empty() && text == a.secret) ||
           (!a.bearer_token.empty() &&
            (text == a.bearer_token || text == "Bearer " + a.bearer_token)) ||
           (!a.webhook_credential_id.empty() &&
            canonical_id(text) == canonical_id(a.webhook_credential_id));
}

/// Whether `v` names the webhook credential (`id`, canonical), in any spelling or inside a
/// longer string, anywhere but as the exact credentialId of a server whose url is `ours`. With
/// `foreign_legacy` (a legacy serverUrl elsewhere beside it) no place is switchboard's.
bool names_credential_elsewhere(const json::value& v, std::string_view id, std::string_view ours,
                                bool foreign_legacy) {
    const auto names = [id](const json::value& s) {
        return s.is_string() && canonical_id(s.get_string()).find(id) != std::string::npos;
    };
    if (const json::object* o = v.if_object()) {
        for (const auto& [key, value] : *o) {
            if (names(value)) {
                const json::value* url = o->if_contains("url");
                const bool in_our_server = !foreign_legacy && key == "credentialId" &&
                                           canonical_id(value.get_string()) == id &&
                                           url != nullptr && url->is_string() &&
                                           url->get_string() == ours;
                if (!in_our_server) return true;
            } else if (names_credential_elsewhere(value, id, ours, foreign_legacy)) {
                return true;
            }
        }
        return false;
    }
    if (const json::array* arr = v.if_array()) {
        return std::any_of(arr->begin(), arr->end(), [&](const json::value& item) {
            return names(item) || names_credential_elsewhere(item, id, ours, foreign_legacy);
        });
    }
    return false;
}

}  // namespace

void inject_server(const services& s, json::object& payload) {
    if (s.cfg.public_url.empty()) return;
    if (const json::value* legacy = payload.if_contains("serverUrl");
        legacy != nullptr && legacy->is_string() && !legacy->get_string().empty()) {
        return;
    }
    const std::string ours = s.cfg.public_url + "/receive";
    json::value* existing = payload.if_contains("server");
    json::object server =
        existing != nullptr && existing->is_object() ? existing->get_object() : json::object{};
    if (const json::value* url = server.if_contains("url"); url != nullptr && url->is_string() &&
                                                            !url->get_string().empty() &&
                                                            url->get_string() != ours) {
        return;  // the caller's own server
    }
    server["url"] = ours;
    // Callers never see the header (redact_credentials), so an object sent back as it was read
    // gets it here again.
    if (auto [name, value] = auth_header(s.webhook_auth); !value.empty()) {
        json::value* h = server.if_contains("headers");
        if (h == nullptr || !h->is_object()) h = &(server["headers"] = json::object{});
        h->get_object()[name] = value;
    }
    // A credential of the caller's own stays; switchboard's is set where there is none.
    if (const std::string& id = s.webhook_auth.webhook_credential_id; !id.empty()) {
        const json::value* credential = server.if_contains("credentialId");
        if (credential == nullptr || !credential->is_string() || credential->get_string().empty()) {
            server["credentialId"] = id;
        }
    }
    payload["server"] = std::move(server);
}

std::optional<api_error> check_webhook_credential(const services& s, const json::value& payload) {
    const std::string& id = s.webhook_auth.webhook_credential_id;
    if (id.empty()) return std::nullopt;
    const std::string ours = s.cfg.public_url + "/receive";
    bool foreign_legacy = false;  // Vapi's legacy serverUrl, another server's
    if (const json::object* o = payload.if_object()) {
        const json::value* legacy = o->if_contains("serverUrl");
        foreign_legacy = legacy != nullptr && legacy->is_string() &&
                         !legacy->get_string().empty() && legacy->get_string() != ours;
    }
    if (!names_credential_elsewhere(payload, canonical_id(id), ours, foreign_legacy)) {
        return std::nullopt;
    }
    return bad_request(
        "switchboard's webhook credential may only authenticate its own server.url (" +
        s.cfg.public_url + "/receive)");
}

void redact_credentials(const config::auth_config& a, json::value& v) {
    if (json::object* o = v.if_object()) {
        for (auto it = o->begin(); it != o->end();) {
            if (it->value().is_string() && is_credential(a, it->value().get_string())) {
                it = o->erase(it);
            } else {
                redact_credentials(a, it->value());
                ++it;
            }
        }
    } else if (json::array* arr = v.if_array()) {
        for (auto& item : *arr) redact_credentials(a, item);
    }
}

std::string redacted_text(const config::auth_config& a, std::string text) {
    const auto mentions = [&text](const std::string& c) {
        return !c.empty() && text.find(c) != std::string::npos;
    };
    const bool mentions_id =
        !a.webhook_credential_id.empty() &&
        canonical_id(text).find(canonical_id(a.webhook_credential_id)) != std::string::npos;
    if (!mentions(a.secret) && !mentions(a.bearer_token) && !mentions_id) return text;
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec) return text;
    redact_credentials(a, v);
    return json::serialize(v);
}

reply ok_json(const json::value& v, bool created) {
    return reply{created ? http::status::created : http::status::ok, json::serialize(v)};
}

}  // namespace switchboard::manage::detail
