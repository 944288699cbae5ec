#pragma once
/// A client of Vapi's REST API (shared/vapi/spec.md §5) on top of http::client: bearer API key,
/// JSON bodies, multipart file upload, one deadline per attempt, and retries on 408/429/5xx
/// with backoff honouring Retry-After and X-RateLimit-Reset, as the official SDK does.
///
/// Replies are returned as parsed JSON (the Vapi object as returned); errors say what failed in
/// words fit for an API caller. Threads: every member may be called concurrently.

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::http {
class client;
}  // namespace switchboard::http

namespace switchboard::vapi {

struct rest_config {
    std::string base_url = "https://api.vapi.ai";  ///< VAPI_BASE_URL (http:// allowed for fakes)
    std::string api_key;                           ///< VAPI_API_KEY; empty: not configured
    std::chrono::milliseconds timeout{60'000};     ///< per attempt, as the SDK
    unsigned max_retries = 2;                      ///< as the SDK
    std::chrono::milliseconds max_backoff{60'000};
};

enum class rest_errc {
    not_configured,  ///< no API key: the management API answers 503
    unreachable,     ///< DNS, connect, TLS or connection failure after the retries
    timeout,         ///< the deadline passed after the retries
    rejected,        ///< Vapi answered 4xx (status and Vapi's message kept)
    server_error,    ///< Vapi answered 5xx / 429 after the retries
    malformed_reply  ///< 2xx whose body is not the JSON expected
};

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
    std::string content_type;  ///< set for file parts
    std::string data;
};

class rest_client {
  public:
    rest_client(http::client& http, rest_config cfg);

    bool configured() const noexcept { return !cfg_.api_key.empty(); }
    const rest_config& config() const noexcept { return cfg_; }

    using reply = boost::system::result<boost::json::value, rest_error>;

    /// One API operation: `path` is relative to the base URL ("/assistant/abc"); `body` is sent
    /// as JSON when present.
    boost::asio::awaitable<reply> call(boost::beast::http::verb method, std::string path,
                                       query_params query = {},
                                       std::optional<boost::json::value> body = std::nullopt);

    /// POST of a multipart/form-data body (file upload).
    boost::asio::awaitable<reply> upload(std::string path, std::vector<form_part> parts);

  private:
    http::client& http_;
    rest_config cfg_;
};

}  // namespace switchboard::vapi
