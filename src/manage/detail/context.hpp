#pragma once
// Private to src/manage: what a function handler receives and returns, and the shared services
// (Vapi, Postgres, reconciler, metrics) it uses. Everything here runs on the management pool.

#include "switchboard/config/config.hpp"
#include "switchboard/http/message.hpp"
#include "switchboard/manage/pg_pool.hpp"
#include "switchboard/manage/reconciler.hpp"
#include "switchboard/vapi/rest_client.hpp"

#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::manage::detail {

namespace json = boost::json;

/// An error for the caller: the status and the message of {"error": message}.
struct api_error {
    http::status status = http::status::internal_server_error;
    std::string message;
};

/// A successful answer: status and serialized JSON.
struct reply {
    http::status status = http::status::ok;
    std::string body;
};

using outcome = boost::system::result<reply, api_error>;

/// One management request, decoded from path, query and body (docs/management-api.md).
struct call_context {
    std::string owner;     ///< the caller's `sub`
    std::string function;  ///< "assistants", …
    std::string action;    ///< "create", "list", …
    std::string id;        ///< from the path, else the body's `id`; may be empty
    std::string sub;       ///< path segment after the id ("files", "assign", …)
    std::string sub_id;    ///< path segment after `sub`
    json::object payload;  ///< `data` when it is an object, else the body minus action and id
    std::vector<std::pair<std::string, std::string>> query;  ///< decoded query parameters
    const http::request* request = nullptr;                  ///< for multipart uploads
    std::string_view content_type;
    std::string media_type;  ///< content_type's type/subtype, lower case ("multipart/form-data")
};

/// What handlers share. Lifetime: owned by manage::api, outlives every request.
struct services {
    vapi::rest_client& vapi;
    pg_pool& pg;
    reconciler& reconcile;
    const config::manage_config& cfg;
    const config::auth_config& webhook_auth;
    std::size_t max_upload_bytes;
    prometheus::Family<prometheus::Histogram>& vapi_seconds;
};

// --- helpers (src/manage/common.cpp) ---------------------------------------------------------

/// Maps a Vapi client error to the caller's status (the contract's table, in this one place).
api_error from_vapi(const vapi::rest_error& e);
/// Maps a Postgres error: data errors are 400, everything else 503.
api_error from_pg(const store::pg_error& e);

api_error bad_request(std::string message);
api_error not_found(std::string_view what, std::string_view id);

/// One Vapi call, timed into switchboard_manage_vapi_seconds{operation}.
boost::asio::awaitable<vapi::rest_client::reply> vapi_call(
    services& s, boost::beast::http::verb method, std::string path, vapi::query_params query = {},
    std::optional<json::value> body = std::nullopt);

/// `collection/<encoded id>`.
std::string item_path(std::string_view collection, std::string_view id);

/// A query result as rows of text (nullopt = NULL).
using row = std::vector<std::optional<std::string>>;
using rows = std::vector<row>;

/// Runs a parameterized query on the management pool.
boost::system::result<rows, api_error> sql(
    services& s, const char* query, std::initializer_list<std::optional<std::string>> params);
/// As sql, also giving the affected row count.
boost::system::result<long, api_error> sql_exec(
    services& s, const char* query, std::initializer_list<std::optional<std::string>> params);

/// A filter from the query string, else from the payload (strings; numbers as text). 400 when
/// present with another type.
boost::system::result<std::optional<std::string>, api_error> param(const call_context& c,
                                                                   std::string_view name);
/// An optional string field of the payload; 400 when present and not a string (null: absent).
boost::system::result<std::optional<std::string>, api_error> string_field(const json::object& o,
                                                                          std::string_view name);
/// `limit` (default, 1..max), 400 otherwise.
boost::system::result<int, api_error> limit_param(const call_context& c, int fallback, int max,
                                                  std::string_view name = "limit");
/// Validates an id (non-empty, printable, at most 128 bytes): 400 naming `field` otherwise.
std::optional<api_error> check_id(std::string_view id, std::string_view field);

/// 400 unless `value` (when present) looks like an ISO 8601 time (Postgres checks the rest).
std::optional<api_error> check_time(const std::optional<std::string>& value,
                                    std::string_view field);

/// The paging filters every list takes: `limit` (default 100, at most 1000, as text for SQL),
/// `createdAtLt`, `createdAtGt` (checked as ISO 8601 times).
struct page_filters {
    std::string limit;
    std::optional<std::string> created_lt, created_gt;
};
boost::system::result<page_filters, api_error> page_params(const call_context& c);

/// The answer of a list query whose rows are one JSON text each: a JSON array of them. A time
/// filter Postgres refuses is a 400 naming the filters.
outcome json_array_reply(const services& s, boost::system::result<rows, api_error> r);

/// Sets `server` to switchboard's webhook URL and authentication header when a public URL is
/// configured and the payload names no other server (no server.url, or switchboard's own; no
/// legacy serverUrl).
void inject_server(const services& s, json::object& payload);
/// 400 when `payload` (after inject_server) names switchboard's webhook credential
/// (--webhook-credential-id, in any spelling of the uuid, or inside a longer string) anywhere
/// but in a server whose url is switchboard's, or at all beside a legacy serverUrl of another
/// server: Vapi would authenticate to that other URL with it, e.g. hand it an OAuth2 token valid
/// here.
std::optional<api_error> check_webhook_credential(const services& s, const json::value& payload);

/// Removes from `v` every member whose value is switchboard's webhook secret, bearer token or
/// credential id (what inject_server puts in server): Vapi returns them, callers must not see
/// them (the id: so that no caller learns what to name elsewhere).
void redact_credentials(const config::auth_config& a, json::value& v);
/// Removes the secrets of a phone number's provider from a Vapi number (or an array of them):
/// `twilioAuthToken`, `twilioApiSecret` and the SIP `authentication.password`. They are
/// write-only for callers: given in a create or update, never shown, never mirrored. A number
/// read, changed and sent back without them keeps them in Vapi (an update changes only what it
/// names). vapi_call applies it to every answer on Vapi's phone-number paths.
void redact_provider_secrets(json::value& v);
/// `text` (a JSON document) redacted the same way; parsed only when it mentions a credential.
std::string redacted_text(const config::auth_config& a, std::string text);

/// Removes from Vapi what could not be mirrored (`method` on `path`); hands it to the
/// reconciler when that fails.
boost::asio::awaitable<void> compensate(services& s, boost::beast::http::verb method,
                                        std::string path);

/// Vapi's answer to the caller, created when `created`.
reply ok_json(const json::value& v, bool created = false);

// --- function handlers (one file each) --------------------------------------------------------

boost::asio::awaitable<outcome> handle_mirrored(services& s, call_context& c);  // assistants…
boost::asio::awaitable<outcome> handle_phone_numbers(services& s, call_context& c);
boost::asio::awaitable<outcome> handle_calls(services& s, call_context& c);

}  // namespace switchboard::manage::detail
