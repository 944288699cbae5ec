#pragma once
/// A client of Vapi's REST API (shared/vapi/spec.md §5) on top of http::client: bearer API key,
/// JSON bodies, multipart file upload, one deadline per attempt, and retries on 408/429/5xx
/// with backoff honouring Retry-After and X-RateLimit-Reset, as the official SDK does.
///
/// Replies are returned as parsed JSON (the Vapi object as returned); errors say what failed in
/// words fit for an API caller. Threads: every member may be called concurrently.

#include "switchboard/http/retry_policy.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::vapi {

struct rest_config {
    std::string base_url = "https://api.vapi.ai";  ///< VAPI_BASE_URL (http:// allowed for fakes;
                                                   ///< a path prefix is kept)
    std::string api_key;                           ///< VAPI_API_KEY; empty: not configured
    std::chrono::milliseconds timeout{60'000};     ///< per attempt, as the SDK
    unsigned max_retries = 2;                      ///< as the SDK
    std::chrono::milliseconds max_backoff{60'000};
    std::chrono::milliseconds retry_base_delay{1'000};  ///< first backoff, doubled per retry
};

enum class rest_errc {
    not_configured,  ///< no API key: the management API answers 503
    unreachable,     ///< DNS, connect, TLS or connection failure (or an invalid base URL)
    timeout,         ///< the attempt's deadline passed, or Vapi answered 408 after the retries
    rejected,        ///< Vapi answered 4xx (status and Vapi's message kept)
    server_error,    ///< Vapi answered 5xx / 429 after the retries
    malformed_reply  ///< 2xx whose body is not JSON (or a 1xx/3xx, or a reply too large)
};

/// "not_configured", "unreachable", … (for logs and metrics labels).
std::string_view to_string(rest_errc e) noexcept;

struct rest_error {
    rest_errc code = rest_errc::unreachable;
    unsigned status = 0;  ///< Vapi's HTTP status when it answered
    std::string message;  ///< for the API caller, e.g. "Vapi refused the request (400): name must
                          ///< be a string"
};

using query_params = std::vector<std::pair<std::string, std::string>>;

/// One part of a multipart/form-data upload.
struct form_part {
    std::string name;          ///< "file", "purpose", "metadata"
    std::string filename;      ///< set for file parts
    std::string content_type;  ///< set for file parts (application/octet-stream when empty)
    std::string data;
};

/// A file for POST /file (spec.md §5.5).
struct file_upload {
    std::string filename;
    std::string content_type;  ///< e.g. "text/plain"; empty: application/octet-stream
    std::string data;          ///< the file's bytes
    std::optional<std::string>
        purpose;  ///< "assistant" | "composer-attachment" | "knowledge-base-v2"
    std::optional<boost::json::object> metadata;  ///< sent as a JSON string, as the SDK does
};

/// Percent-encodes as JavaScript's encodeURIComponent, which the SDK applies to path parameters
/// and query keys and values: every byte but A–Z a–z 0–9 - _ . ! ~ * ' ( ) becomes %XX.
std::string encode_uri_component(std::string_view text);

/// Vapi's collections (spec.md §5.1), for the typed helpers below.
namespace paths {
inline constexpr std::string_view assistant = "/assistant";
inline constexpr std::string_view workflow = "/workflow";
inline constexpr std::string_view phone_number = "/phone-number";
inline constexpr std::string_view phone_number_v2 = "/v2/phone-number";  ///< paginated list only
inline constexpr std::string_view file = "/file";
inline constexpr std::string_view knowledge_base = "/v2/knowledge-base";
}  // namespace paths

/// Lifetime: `http` must outlive the client and every call in flight. The client holds no
/// connection state of its own (the pool is http::client's), so it is cheap to build.
class rest_client {
  public:
    rest_client(http::client& http, rest_config cfg);

    bool configured() const noexcept { return !cfg_.api_key.empty(); }
    const rest_config& config() const noexcept { return cfg_; }

    using reply = boost::system::result<boost::json::value, rest_error>;

    /// One API operation: `path` is relative to the base URL ("/assistant/abc", already
    /// encoded: see encode_uri_component) and carries no query; `query` is encoded here, in
    /// order. `body` is sent as JSON when present. A 2xx with an empty body yields null.
    /// Transport failures and timeouts are not retried (a POST that may have reached Vapi must
    /// not be sent twice), as in the SDK.
    boost::asio::awaitable<reply> call(boost::beast::http::verb method, std::string path,
                                       query_params query = {},
                                       std::optional<boost::json::value> body = std::nullopt);

    /// POST of a multipart/form-data body (file upload).
    boost::asio::awaitable<reply> upload(std::string path, std::vector<form_part> parts);

    // --- typed helpers over `call`: `collection` is one of `paths`, `id` is encoded here ---

    /// POST collection
    boost::asio::awaitable<reply> create(std::string collection, boost::json::value body);
    /// GET collection?query (plain lists answer a bare array; /v2/phone-number {results,
    /// metadata})
    boost::asio::awaitable<reply> list(std::string collection, query_params query = {});
    /// GET collection/{id}
    boost::asio::awaitable<reply> get(std::string collection, std::string id);
    /// PATCH collection/{id}
    boost::asio::awaitable<reply> update(std::string collection, std::string id,
                                         boost::json::value body);
    /// DELETE collection/{id}; Vapi answers with the deleted object.
    boost::asio::awaitable<reply> remove(std::string collection, std::string id);

    /// POST /file with the parts file, purpose and metadata (in that order, as the SDK).
    boost::asio::awaitable<reply> upload_file(file_upload file);
    /// POST /v2/knowledge-base/{id}/file {fileId}
    boost::asio::awaitable<reply> attach_file(std::string knowledge_base_id, std::string file_id);
    /// DELETE /v2/knowledge-base/{id}/file/{fileId}
    boost::asio::awaitable<reply> detach_file(std::string knowledge_base_id, std::string file_id);

  private:
    http::client_request make_request(boost::beast::http::verb method, const std::string& path,
                                      const query_params& query) const;
    boost::asio::awaitable<reply> send(http::client_request req);
    reply interpret(const http::client_response& res, unsigned attempts) const;

    http::client& http_;
    rest_config cfg_;
    http::retry_policy policy_;
};

}  // namespace switchboard::vapi
