#include "switchboard/vapi/rest_client.hpp"

#include "switchboard/base/log.hpp"
#include "switchboard/http/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <random>

namespace switchboard::vapi {
namespace asio = boost::asio;
namespace json = boost::json;
using boost::beast::http::verb;

namespace {

constexpr std::size_t k_max_quoted_body = 300;

rest_error make_error(rest_errc code, unsigned status, std::string message) {
    return rest_error{code, status, std::move(message)};
}

/// Vapi's own words from an error body: {"message": "…" | ["…", …], "error": "…"}; else a short
/// plain-text body as it is; else "".
std::string vapi_message(std::string_view body) {
    boost::system::error_code ec;
    const json::value v = json::parse(body, ec);
    if (!ec) {
        const json::object* obj = v.if_object();
        if (obj == nullptr) return {};
        if (const json::value* m = obj->if_contains("message")) {
            if (m->is_string()) return std::string(m->get_string());
            if (m->is_array()) {
                std::string joined;
                for (const json::value& item : m->get_array()) {
                    if (!item.is_string()) continue;
                    if (!joined.empty()) joined += "; ";
                    joined += item.get_string();
                }
                if (!joined.empty()) return joined;
            }
        }
        if (const json::value* e = obj->if_contains("error"); e != nullptr && e->is_string()) {
            return std::string(e->get_string());
        }
        return {};
    }
    // A proxy's plain-text page ("upstream connect error…"): worth quoting when short and text.
    std::string_view text = body;
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
        text.remove_prefix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.remove_suffix(1);
    }
    if (text.empty() || text.size() > k_max_quoted_body || text.front() == '<') return {};
    const bool printable = std::all_of(text.begin(), text.end(), [](char c) {
        return static_cast<unsigned char>(c) >= 0x20 || c == '\n' || c == '\t';
    });
    return printable ? std::string(text) : std::string{};
}

std::string with_detail(std::string head, const std::string& detail) {
    if (!detail.empty()) {
        head += ": ";
        head += detail;
    }
    return head;
}

std::string attempts_text(unsigned attempts) {
    return attempts == 1 ? "1 attempt" : std::to_string(attempts) + " attempts";
}

/// RFC 7578 §4.2 as browsers do it: a quoted value with ", CR and LF percent-encoded; also
/// the backslash, which parsers that read quoted-string escapes (RFC 9110 5.6.4) would take
/// for one (`"a\"` never ends), and the other control bytes.
std::string quoted(std::string_view value) {
    std::string out = "\"";
    for (const char c : value) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\' || byte < 0x20 || byte == 0x7F) {
            constexpr char hex[] = "0123456789ABCDEF";
            out += '%';
            out += hex[byte >> 4];
            out += hex[byte & 0xF];
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

std::string random_boundary() {
    thread_local std::mt19937_64 engine{std::random_device{}()};
    static constexpr char hex[] = "0123456789abcdef";
    std::string b = "----switchboard-";
    for (int i = 0; i < 2; ++i) {
        std::uint64_t r = engine();
        for (int j = 0; j < 16; ++j, r >>= 4) b += hex[r & 0xf];
    }
    return b;
}

std::string multipart_body(const std::vector<form_part>& parts, const std::string& boundary) {
    // Sized once: a string grown part by part would double its capacity while the file is in
    // it (a fourth copy of an upload, briefly).
    std::size_t size = boundary.size() + 6;
    for (const form_part& p : parts) {
        size += boundary.size() + 128 + 3 * (p.name.size() + p.filename.size()) +
                p.content_type.size() + p.data.size();
    }
    std::string body;
    body.reserve(size);
    for (const form_part& p : parts) {
        body += "--";
        body += boundary;
        body += "\r\nContent-Disposition: form-data; name=";
        body += quoted(p.name);
        if (!p.filename.empty()) {
            body += "; filename=";
            body += quoted(p.filename);
        }
        body += "\r\n";
        if (!p.content_type.empty() || !p.filename.empty()) {
            body += "Content-Type: ";
            body += p.content_type.empty() ? "application/octet-stream" : p.content_type;
            body += "\r\n";
        }
        body += "\r\n";
        body += p.data;
        body += "\r\n";
    }
    body += "--";
    body += boundary;
    body += "--\r\n";
    return body;
}

}  // namespace

std::string_view to_string(rest_errc e) noexcept {
    switch (e) {
        case rest_errc::not_configured:
            return "not_configured";
        case rest_errc::unreachable:
            return "unreachable";
        case rest_errc::timeout:
            return "timeout";
        case rest_errc::rejected:
            return "rejected";
        case rest_errc::server_error:
            return "server_error";
        case rest_errc::malformed_reply:
            return "malformed_reply";
    }
    return "unknown";
}

std::string encode_uri_component(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '!' ||
                          c == '~' || c == '*' || c == '\'' || c == '(' || c == ')';
        if (keep) {
            out += ch;
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
    }
    return out;
}

rest_client::rest_client(http::client& http, rest_config cfg)
    : http_(http),
      cfg_(std::move(cfg)),
      policy_(http::retry_policy::options{cfg_.retry_base_delay, cfg_.max_backoff, 0.2}) {
    while (!cfg_.base_url.empty() && cfg_.base_url.back() == '/') cfg_.base_url.pop_back();
}

http::client_request rest_client::make_request(verb method, const std::string& path,
                                               const query_params& query) const {
    http::client_request req;
    req.method = method;
    req.url = cfg_.base_url;
    if (!path.starts_with('/')) req.url += '/';
    req.url += path;
    char sep = '?';
    for (const auto& [key, value] : query) {
        req.url += sep;
        req.url += encode_uri_component(key);
        req.url += '=';
        req.url += encode_uri_component(value);
        sep = '&';
    }
    req.headers.set(boost::beast::http::field::authorization, "Bearer " + cfg_.api_key);
    req.headers.set(boost::beast::http::field::accept, "application/json");
    return req;
}

asio::awaitable<rest_client::reply> rest_client::call(verb method, std::string path,
                                                      query_params query,
                                                      std::optional<json::value> body) {
    if (!configured()) {
        co_return make_error(rest_errc::not_configured, 0,
                             "the Vapi API key is not configured (VAPI_API_KEY)");
    }
    http::client_request req = make_request(method, path, query);
    if (body) {
        req.headers.set(boost::beast::http::field::content_type, "application/json");
        req.body = json::serialize(*body);
    }
    co_return co_await send(std::move(req));
}

asio::awaitable<rest_client::reply> rest_client::upload(std::string path,
                                                        std::vector<form_part> parts) {
    if (!configured()) {
        co_return make_error(rest_errc::not_configured, 0,
                             "the Vapi API key is not configured (VAPI_API_KEY)");
    }
    http::client_request req = make_request(verb::post, path, {});
    // A boundary must not occur in any part; with 128 random bits it never does in practice.
    std::string boundary = random_boundary();
    while (std::any_of(parts.begin(), parts.end(), [&](const form_part& p) {
        return p.data.find(boundary) != std::string::npos;
    })) {
        boundary = random_boundary();
    }
    req.headers.set(boost::beast::http::field::content_type,
                    "multipart/form-data; boundary=" + boundary);
    req.body = multipart_body(parts, boundary);
    std::vector<form_part>().swap(parts);  // the file is in the body now: not held twice
    co_return co_await send(std::move(req));
}

asio::awaitable<rest_client::reply> rest_client::send(http::client_request req) {
    for (unsigned attempt = 0;; ++attempt) {
        // One deadline per attempt, as the SDK's per-request timeout.
        const auto deadline = std::chrono::steady_clock::now() + cfg_.timeout;
        auto res = co_await http_.send(req, deadline);
        if (!res) {
            const boost::system::error_code ec = res.error();
            if (ec == http::client_errc::timeout) {
                co_return make_error(
                    rest_errc::timeout, 0,
                    "Vapi did not answer within " + std::to_string(cfg_.timeout.count()) + " ms");
            }
            if (ec == http::client_errc::bad_url) {
                co_return make_error(
                    rest_errc::unreachable, 0,
                    "the Vapi base URL is not a valid http(s) URL: " + cfg_.base_url);
            }
            if (ec == http::client_errc::body_too_large) {
                co_return make_error(rest_errc::malformed_reply, 0,
                                     "Vapi's reply is larger than " +
                                         std::to_string(http_.options().max_response_body) +
                                         " bytes");
            }
            co_return make_error(rest_errc::unreachable, 0, "Vapi is unreachable: " + ec.message());
        }
        // A POST creates: after a 5xx, Vapi (or a gateway before it) may have created the
        // object already, and sending it again would make a second one (a second number bought).
        // Only the answers that say nothing was done (408, 429) are retried for it; the SDK
        // retries every method.
        const bool may_repeat =
            req.method != verb::post || res->status == 408 || res->status == 429;
        if (attempt < cfg_.max_retries && may_repeat) {
            const auto wait =
                policy_.delay(res->status, res->headers, attempt, std::chrono::system_clock::now());
            if (wait) {
                log::debug("msg=\"vapi retry\" method={} status={} retry={} wait_ms={}",
                           std::string_view(boost::beast::http::to_string(req.method)), res->status,
                           attempt + 1, wait->count());
                asio::steady_timer timer(co_await asio::this_coro::executor, *wait);
                co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
                continue;
            }
        }
        co_return interpret(*res, attempt + 1);
    }
}

rest_client::reply rest_client::interpret(const http::client_response& res,
                                          unsigned attempts) const {
    const unsigned status = res.status;
    if (status >= 200 && status < 300) {
        const bool blank = std::all_of(res.body.begin(), res.body.end(), [](char c) {
            return c == ' ' || c == '\t' || c == '\r' || c == '\n';
        });
        if (blank) return json::value(nullptr);
        boost::system::error_code ec;
        json::value v = json::parse(res.body, ec);
        if (ec) {
            return make_error(
                rest_errc::malformed_reply, status,
                "Vapi answered " + std::to_string(status) + " with a body that is not JSON");
        }
        return v;
    }
    const std::string detail = vapi_message(res.body);
    const std::string code = std::to_string(status);
    if (status == 408) {
        return make_error(
            rest_errc::timeout, status,
            with_detail("Vapi timed out the request (408) after " + attempts_text(attempts),
                        detail));
    }
    if (status == 429 || status >= 500) {
        return make_error(
            rest_errc::server_error, status,
            with_detail("Vapi failed (" + code + ") after " + attempts_text(attempts), detail));
    }
    if (status >= 400) {
        return make_error(rest_errc::rejected, status,
                          with_detail("Vapi refused the request (" + code + ")", detail));
    }
    return make_error(rest_errc::malformed_reply, status,
                      "Vapi answered with unexpected status " + code);
}

// --- typed helpers ----------------------------------------------------------------------------

asio::awaitable<rest_client::reply> rest_client::create(std::string collection, json::value body) {
    co_return co_await call(verb::post, std::move(collection), {}, std::move(body));
}

asio::awaitable<rest_client::reply> rest_client::list(std::string collection, query_params query) {
    co_return co_await call(verb::get, std::move(collection), std::move(query));
}

asio::awaitable<rest_client::reply> rest_client::get(std::string collection, std::string id) {
    co_return co_await call(verb::get, collection + '/' + encode_uri_component(id));
}

asio::awaitable<rest_client::reply> rest_client::update(std::string collection, std::string id,
                                                        json::value body) {
    co_return co_await call(verb::patch, collection + '/' + encode_uri_component(id), {},
                            std::move(body));
}

asio::awaitable<rest_client::reply> rest_client::remove(std::string collection, std::string id) {
    co_return co_await call(verb::delete_, collection + '/' + encode_uri_component(id));
}

asio::awaitable<rest_client::reply> rest_client::upload_file(file_upload file) {
    std::vector<form_part> parts;
    parts.push_back(form_part{
        "file", std::move(file.filename),
        file.content_type.empty() ? "application/octet-stream" : std::move(file.content_type),
        std::move(file.data)});
    if (file.purpose) parts.push_back(form_part{"purpose", {}, {}, std::move(*file.purpose)});
    if (file.metadata)
        parts.push_back(form_part{"metadata", {}, {}, json::serialize(*file.metadata)});
    co_return co_await upload(std::string(paths::file), std::move(parts));
}

asio::awaitable<rest_client::reply> rest_client::attach_file(std::string knowledge_base_id,
                                                             std::string file_id) {
    json::object body;
    body["fileId"] = file_id;
    co_return co_await call(verb::post,
                            std::string(paths::knowledge_base) + '/' +
                                encode_uri_component(knowledge_base_id) + "/file",
                            {}, json::value(std::move(body)));
}

asio::awaitable<rest_client::reply> rest_client::detach_file(std::string knowledge_base_id,
                                                             std::string file_id) {
    co_return co_await call(verb::delete_, std::string(paths::knowledge_base) + '/' +
                                               encode_uri_component(knowledge_base_id) + "/file/" +
                                               encode_uri_component(file_id));
}

}  // namespace switchboard::vapi
