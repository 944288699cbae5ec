#include "switchboard/manage/api.hpp"

#include "detail/context.hpp"
#include "switchboard/base/log.hpp"
#include "switchboard/http/client.hpp"
#include "switchboard/http/response.hpp"
#include "switchboard/manage/jwt.hpp"
#include "switchboard/manage/pg_pool.hpp"
#include "switchboard/manage/reconciler.hpp"
#include "switchboard/vapi/rest_client.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>

namespace switchboard::manage {
namespace asio = boost::asio;
namespace json = boost::json;
using detail::api_error;
using detail::call_context;
using detail::outcome;
using detail::reply;
using http::status;
using http::verb;

namespace {

constexpr std::string_view k_prefix = "/functions/v1";
constexpr std::string_view k_not_configured =
    "management API not configured (no JWT key: set SUPABASE_JWT_SECRET, SUPABASE_JWKS_URL or "
    "SUPABASE_JWKS_FILE)";
constexpr std::string_view k_missing_bearer =
    "missing bearer token (Authorization: Bearer <token>)";
constexpr std::array<std::string_view, 6> k_functions = {
    "assistants", "workflows", "phone-numbers", "files", "knowledge-bases", "calls"};
// Metric labels stay bounded: actions outside this list are counted as "other".
constexpr std::array<std::string_view, 17> k_actions = {
    "create", "list",   "get",    "update", "delete", "search", "provision", "assign",   "release",
    "upload", "attach", "detach", "files",  "claim",  "buy",    "import",    "listFiles"};

vapi::rest_config rest_config_of(const config::manage_config& m) {
    vapi::rest_config r;
    r.base_url = m.vapi_base_url;
    r.api_key = m.vapi_api_key;
    r.timeout = m.vapi_timeout;
    return r;
}

jwt_config jwt_config_of(const config::manage_config& m) {
    jwt_config j;
    j.hs256_secret = m.jwt_secret;
    j.jwks_url = m.jwks_url;
    j.jwks_file = m.jwks_file;
    j.audience = m.jwt_audience;
    j.issuer = m.jwt_issuer;
    return j;
}

}  // namespace

struct api::impl {
    impl(const config::service_config& c, metrics::registry& reg)
        : cfg(c),
          pool(c.manage.threads),
          client(pool.get_executor()),
          vapi(client, rest_config_of(c.manage)),
          pg(pg_pool_config{c.store.database_url, c.manage.pg_connections,
                            c.store.connect_timeout}),
          reconcile(vapi, reg),
          requests(prometheus::BuildCounter()
                       .Name("switchboard_manage_requests_total")
                       .Help("Management API requests, by function, action and status")
                       .Register(reg.prom())),
          vapi_seconds(prometheus::BuildHistogram()
                           .Name("switchboard_manage_vapi_seconds")
                           .Help("Latency of Vapi REST calls made by the management API "
                                 "(retries included), by operation")
                           .Register(reg.prom())),
          inflight_gauge(prometheus::BuildGauge()
                             .Name("switchboard_manage_inflight")
                             .Help("Management API requests in progress")
                             .Register(reg.prom())
                             .Add({})),
          services{vapi, pg, reconcile, c.manage, c.auth, c.manage.max_upload_bytes, vapi_seconds} {
        const jwt_config j = jwt_config_of(c.manage);
        if (j.any_key()) verifier = std::make_unique<token_verifier>(j, &client);
        reconcile.start(pool.get_executor());
    }

    const config::service_config& cfg;
    asio::thread_pool pool;
    http::client client;
    vapi::rest_client vapi;
    pg_pool pg;
    reconciler reconcile;
    std::unique_ptr<token_verifier> verifier;
    prometheus::Family<prometheus::Counter>& requests;
    prometheus::Family<prometheus::Histogram>& vapi_seconds;
    prometheus::Gauge& inflight_gauge;
    detail::services services;
    std::atomic<unsigned> inflight{0};
    bool stopped = false;
};

namespace {

/// CORS headers of every /functions/v1 response (docs/management-api.md, Transport).
void add_cors(const config::manage_config& m, const http::request::header_type& req,
              http::response& res) {
    namespace f = boost::beast::http;
    if (m.cors_origins.empty()) {
        res.set(f::field::access_control_allow_origin, "*");
    } else {
        const std::string_view origin = req[f::field::origin];
        if (std::find(m.cors_origins.begin(), m.cors_origins.end(), origin) !=
            m.cors_origins.end()) {
            res.set(f::field::access_control_allow_origin, origin);
        }
        res.set(f::field::vary, "Origin");
    }
    res.set(f::field::access_control_allow_headers,
            "authorization, x-client-info, apikey, content-type, x-region, "
            "x-supabase-api-version");
    res.set(f::field::access_control_allow_methods, "GET, POST, PUT, PATCH, DELETE, OPTIONS");
    res.set(f::field::access_control_max_age, "86400");
}

http::response error_response(const api_error& e, unsigned version) {
    http::response res = http::json_error(e.status, e.message, version);
    if (e.status == status::unauthorized) {
        res.set(boost::beast::http::field::www_authenticate, "Bearer error=\"invalid_token\"");
    }
    return res;
}

std::string_view action_label(std::string_view action) {
    return std::find(k_actions.begin(), k_actions.end(), action) != k_actions.end() ? action
                                                                                    : "other";
}

/// Percent-decodes `in` ('+' is a space in a query, as in forms); false on a malformed escape.
bool pct_decode(std::string_view in, std::string& out, bool plus_is_space = true) {
    auto hex = [](char ch) -> int {
        if (ch >= '0' && ch <= '9') return ch - '0';
        if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
        return -1;
    };
    out.clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '+' && plus_is_space) {
            out += ' ';
        } else if (in[i] == '%') {
            if (i + 2 >= in.size()) return false;
            const int hi = hex(in[i + 1]);
            const int lo = hex(in[i + 2]);
            if (hi < 0 || lo < 0) return false;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else {
            out += in[i];
        }
    }
    return true;
}

/// Splits "/functions/v1/a/b/c/d" into at most 4 decoded segments; false when there are more
/// or one is empty.
bool split_path(std::string_view path, std::vector<std::string>& out) {
    path.remove_prefix(k_prefix.size());
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    while (!path.empty()) {
        if (path.front() != '/') return false;
        path.remove_prefix(1);
        const auto slash = path.find('/');
        const std::string_view seg = path.substr(0, slash);
        if (seg.empty()) return false;
        std::string decoded;
        if (!pct_decode(seg, decoded, /*plus_is_space=*/false)) return false;
        out.push_back(std::move(decoded));
        if (out.size() > 4) return false;
        path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
    }
    return true;
}

/// Splits and decodes "a=1&b=x%20y" into `out`; false when malformed.
bool parse_query(std::string_view query, std::vector<std::pair<std::string, std::string>>& out) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (item.empty()) continue;
        const auto eq = item.find('=');
        std::string key, value;
        if (!pct_decode(item.substr(0, eq), key)) return false;
        if (eq != std::string_view::npos && !pct_decode(item.substr(eq + 1), value)) return false;
        out.emplace_back(std::move(key), std::move(value));
    }
    return true;
}

/// Decides the action from method, path and body (docs/management-api.md, Transport).
std::optional<api_error> decide_action(verb method, call_context& c, bool has_body_action,
                                       const std::vector<std::string>& seg) {
    const std::string& fn = c.function;
    const bool numbers = fn == "phone-numbers";
    const bool kbs = fn == "knowledge-bases";
    // REST extras that sit where an id would: phone-numbers/search.
    if (numbers && seg.size() == 2 && seg[1] == "search") {
        if (method != verb::post && method != verb::get) {
            return api_error{status::method_not_allowed, "use GET or POST on phone-numbers/search"};
        }
        c.id.clear();
        c.action = "search";
        return std::nullopt;
    }
    if (!c.sub.empty()) {
        if (numbers && (c.sub == "assign" || c.sub == "release") && c.sub_id.empty()) {
            if (method != verb::post) {
                return api_error{status::method_not_allowed,
                                 "use POST on phone-numbers/<id>/" + c.sub};
            }
            c.action = c.sub;
            return std::nullopt;
        }
        if (kbs && c.sub == "files") {
            if (c.sub_id.empty() && method == verb::get) {
                c.action = "files";
            } else if (c.sub_id.empty() && method == verb::post) {
                c.action = "attach";
            } else if (!c.sub_id.empty() && (method == verb::delete_ || method == verb::post)) {
                c.action = "detach";
            } else {
                return api_error{status::method_not_allowed,
                                 "knowledge-bases/<id>/files allows GET and POST, "
                                 "knowledge-bases/<id>/files/<fileId> allows DELETE"};
            }
            return std::nullopt;
        }
        return api_error{status::not_found, "no route " + fn + "/<id>/" + c.sub};
    }
    const bool has_path_id = seg.size() >= 2;
    switch (method) {
        case verb::post:
            if (has_body_action) return std::nullopt;
            if (has_path_id) {
                // Calls are read-only: a POST to one reads it, whatever its body.
                c.action = c.payload.empty() || fn == "calls" ? "get" : "update";
            } else if (fn == "calls") {
                c.action = c.id.empty() ? "list" : "get";
            } else if (numbers) {
                c.action = "provision";
            } else if (fn == "files") {
                c.action = "upload";
            } else {
                c.action = "create";
            }
            return std::nullopt;
        case verb::get:
            c.action = has_path_id || !c.id.empty() ? "get" : "list";
            return std::nullopt;
        case verb::patch:
        case verb::put:
            if (fn == "calls") break;
            c.action = "update";
            return std::nullopt;
        case verb::delete_:
            if (fn == "calls") break;
            c.action = "delete";
            return std::nullopt;
        default:
            break;
    }
    api_error e{status::method_not_allowed,
                std::string(boost::beast::http::to_string(method)) + " is not allowed on " + fn};
    return e;
}

/// A Content-Type's media type, without parameters, in lower case (media types are
/// case-insensitive, RFC 9110 8.3.1).
std::string media_type_of(std::string_view content_type) {
    std::string_view type = content_type.substr(0, content_type.find(';'));
    while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
    while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
    std::string out(type);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    return out;
}

/// Reads the JSON body and the envelope into `c`.
std::optional<api_error> read_body(const http::request& req, call_context& c,
                                   bool& has_body_action) {
    const std::string& body = req.body();
    if (c.media_type == "multipart/form-data") return std::nullopt;
    const bool blank = std::all_of(body.begin(), body.end(), [](unsigned char ch) {
        return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
    });
    if (blank) return std::nullopt;
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec) {
        const bool json_type = c.media_type.empty() ||
                               c.media_type.find("json") != std::string::npos ||
                               c.media_type == "text/plain";
        if (!json_type) {
            return api_error{status::unsupported_media_type,
                             "the body must be JSON (or multipart/form-data for uploads)"};
        }
        return detail::bad_request("the body is not valid JSON: " + ec.message());
    }
    if (!v.is_object()) return detail::bad_request("the body must be a JSON object");
    json::object& o = v.get_object();
    if (const json::value* a = o.if_contains("action"); a != nullptr && !a->is_null()) {
        if (!a->is_string() || a->get_string().empty()) {
            return detail::bad_request("action must be a non-empty string");
        }
        c.action = std::string(a->get_string());
        has_body_action = true;
    }
    std::string body_id;
    if (const json::value* id = o.if_contains("id"); id != nullptr && !id->is_null()) {
        if (!id->is_string()) return detail::bad_request("id must be a string");
        body_id = std::string(id->get_string());
    }
    if (json::value* d = o.if_contains("data"); d != nullptr && d->is_object()) {
        c.payload = std::move(d->get_object());
        if (body_id.empty()) {
            if (const json::value* id = c.payload.if_contains("id");
                id != nullptr && id->is_string()) {
                body_id = std::string(id->get_string());
            }
        }
    } else {
        o.erase("action");
        o.erase("id");
        c.payload = std::move(o);
    }
    if (c.id.empty()) c.id = std::move(body_id);
    return std::nullopt;
}

asio::awaitable<outcome> dispatch(api::impl& m, call_context& c) {
    if (c.function == "phone-numbers")
        co_return co_await detail::handle_phone_numbers(m.services, c);
    if (c.function == "calls") co_return co_await detail::handle_calls(m.services, c);
    co_return co_await detail::handle_mirrored(m.services, c);
}

/// On the management pool: everything after the hand-over.
asio::awaitable<http::response> handle(api::impl* m, http::request req) {
    const unsigned version = req.version();
    call_context c;
    std::optional<api_error> failure;
    reply ok;
    try {
        const std::string_view target = req.target();
        const std::string_view path = http::router::path_of(target);
        std::vector<std::string> seg;
        if (!split_path(path, seg) || seg.empty()) {
            failure = api_error{status::not_found, "no function at " + std::string(path)};
        } else if (std::find(k_functions.begin(), k_functions.end(), seg[0]) == k_functions.end()) {
            failure = api_error{status::not_found, "unknown function " + seg[0]};
        }
        if (!failure) {
            c.function = seg[0];
            if (seg.size() >= 2) c.id = seg[1];
            if (seg.size() >= 3) c.sub = seg[2];
            if (seg.size() >= 4) c.sub_id = seg[3];
            if (!m->verifier) {
                failure = api_error{status::service_unavailable, std::string(k_not_configured)};
            }
        }
        if (!failure) {
            auto who = co_await m->verifier->verify(req[boost::beast::http::field::authorization]);
            if (!who) {
                const status code = who.error() == token_error::keys_unavailable
                                        ? status::service_unavailable
                                        : status::unauthorized;
                failure = api_error{code, "invalid token: " + std::string(to_string(who.error()))};
                if (who.error() == token_error::missing) failure->message = k_missing_bearer;
            } else {
                c.owner = who->sub;
            }
        }
        bool has_body_action = false;
        if (!failure) {
            c.request = &req;
            c.content_type = req[boost::beast::http::field::content_type];
            // The parameters (a multipart boundary) are case-sensitive, so the header itself is
            // kept as it came.
            c.media_type = media_type_of(c.content_type);
            if (const auto q = target.find('?'); q != std::string_view::npos) {
                if (!parse_query(target.substr(q + 1), c.query)) {
                    failure = detail::bad_request("the query string is malformed");
                }
            }
        }
        if (!failure) failure = read_body(req, c, has_body_action);
        if (!failure) failure = decide_action(req.method(), c, has_body_action, seg);
        // A form is read as a file upload, nowhere else: elsewhere it would pass for an empty
        // JSON body (an assistant created with nothing in it).
        if (!failure && c.media_type == "multipart/form-data" &&
            !(c.function == "files" && (c.action == "upload" || c.action == "create"))) {
            failure = api_error{status::unsupported_media_type,
                                "multipart/form-data is only for uploads (POST files); this "
                                "request takes a JSON body"};
        }
        if (!failure) {
            auto r = co_await dispatch(*m, c);
            if (r) {
                ok = std::move(*r);
            } else {
                failure = r.error();
            }
        }
    } catch (const std::exception& e) {
        log::error("msg=\"management request failed\" target=\"{}\" error=\"{}\"",
                   std::string(req.target()), e.what());
        failure = api_error{status::internal_server_error, "internal error"};
    }
    http::response res = failure ? error_response(*failure, version)
                                 : http::json_response(ok.status, std::move(ok.body), version);
    if (failure && failure->status == status::method_not_allowed) {
        res.set(boost::beast::http::field::allow, "GET, POST, PUT, PATCH, DELETE, OPTIONS");
    }
    add_cors(m->cfg.manage, req, res);
    const std::string_view fn =
        std::find(k_functions.begin(), k_functions.end(), c.function) != k_functions.end()
            ? std::string_view(c.function)
            : std::string_view("unknown");
    m->requests
        .Add({{"function", std::string(fn)},
              {"action", std::string(action_label(c.action))},
              {"status", std::to_string(res.result_int())}})
        .Increment();
    if (!failure || static_cast<unsigned>(failure->status) >= 500) {
        log::debug("msg=\"management request\" function={} action={} status={}", fn, c.action,
                   res.result_int());
    }
    co_return res;
}

/// Decrements the in-flight count however the hand-over ends.
struct inflight_slot {
    api::impl* m;
    ~inflight_slot() {
        m->inflight.fetch_sub(1);
        m->inflight_gauge.Decrement();
    }
};

/// On the I/O thread: preflight, admission, hand-over.
asio::awaitable<http::response> route(api::impl* m, http::request& req) {
    if (req.method() == verb::options) {
        http::response res{status::no_content, req.version()};
        add_cors(m->cfg.manage, req, res);
        co_return res;
    }
    if (m->inflight.fetch_add(1) >= m->cfg.manage.max_inflight) {
        m->inflight.fetch_sub(1);
        http::response res = http::json_error(
            status::service_unavailable, "too many management requests in progress", req.version());
        res.set(boost::beast::http::field::retry_after, "1");
        add_cors(m->cfg.manage, req, res);
        co_return res;
    }
    m->inflight_gauge.Increment();
    inflight_slot slot{m};
    co_return co_await asio::co_spawn(m->pool.get_executor(), handle(m, std::move(req)),
                                      asio::use_awaitable);
}

}  // namespace

api::api(const config::service_config& cfg, metrics::registry& reg)
    : impl_(std::make_unique<impl>(cfg, reg)) {
    log::info(
        "msg=\"management API\" jwt={} vapi={} public_url=\"{}\" threads={} pg_connections={}",
        impl_->verifier ? "on" : "off (503)", impl_->vapi.configured() ? "on" : "off (503)",
        cfg.manage.public_url, cfg.manage.threads, cfg.manage.pg_connections);
}

api::~api() {
    stop();
}

void api::register_routes(http::router& routes) {
    impl* m = impl_.get();
    http::prefix_options options;
    options.body_limit = m->cfg.manage.max_upload_bytes;
    // An upload (multipart) may be as large as --max-upload-bytes and is held about three times
    // while it is forwarded; any other body is JSON, parsed into a tree of up to 12 times its
    // size (switchboard-micro --benchmark_filter=json_tree): at most 1 MiB, counted 16 times.
    options.body = [m](const http::request::header_type& h) {
        const auto& mg = m->cfg.manage;
        if (media_type_of(h[boost::beast::http::field::content_type]) == "multipart/form-data") {
            return http::body_terms{mg.max_upload_bytes, config::manage_config::upload_copies};
        }
        return http::body_terms{
            std::min(mg.max_upload_bytes, config::manage_config::max_json_bytes),
            config::manage_config::json_copies};
    };
    options.decorate = [m](const http::request::header_type& h, http::response& res) {
        add_cors(m->cfg.manage, h, res);
    };
    // A request without a valid bearer token is refused before its body is read (up to
    // --max-upload-bytes): no caller without one makes the listener hold a body. The token is
    // verified with the keys at hand (its signature and its claims); only one that needs a
    // fetch of the JWKS URL first is left to the handler.
    options.check = [m](const http::request::header_type& h) -> std::optional<http::response> {
        if (h.method() == verb::options) return std::nullopt;
        std::optional<api_error> refusal;
        if (!m->verifier) {
            refusal = api_error{status::service_unavailable, std::string(k_not_configured)};
        } else if (const std::optional<token_error> e =
                       m->verifier->check_now(h[boost::beast::http::field::authorization])) {
            refusal = api_error{status::unauthorized,
                                *e == token_error::missing
                                    ? std::string(k_missing_bearer)
                                    : "invalid token: " + std::string(to_string(*e))};
        }
        if (!refusal) return std::nullopt;
        http::response res = error_response(*refusal, h.version());
        add_cors(m->cfg.manage, h, res);
        return res;
    };
    routes.add_prefix(
        std::string(k_prefix), [m](http::request& req) { return route(m, req); },
        std::move(options));
}

void api::stop() {
    if (impl_->stopped) return;
    impl_->stopped = true;
    impl_->reconcile.stop();
    impl_->client.close_idle();
    impl_->pool.join();
}

}  // namespace switchboard::manage
