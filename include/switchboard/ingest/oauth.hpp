#pragma once
/// Vapi's `oauth2` authentication plan (shared/vapi/spec.md §3.2): Vapi asks a token endpoint for
/// an access token with the OAuth 2.0 client-credentials grant (RFC 6749 §4.4), then presents it
/// as `Authorization: Bearer <token>` on its webhooks until it expires. switchboard is that token
/// endpoint (`POST /oauth/token`) for one configured client, and checks the tokens it issued.
///
/// The tokens are JWS (HS256) signed with a key derived from the client secret and id, so
/// replicas that share them accept each other's tokens and a token needs no storage; they carry
/// iss "switchboard", aud "switchboard-webhooks", sub (the client id), iat, exp, jti and the
/// scope asked for (not checked: Vapi's plan has one client). A token is accepted until 30 s
/// after its exp (the verifier's leeway, for replicas' clocks). Signing
/// is cjose's; checking is the management API's token_verifier (signature, claims, and its memory
/// of verified tokens, so a webhook with a known token costs a digest and a lookup).
///
/// Threads: immutable after construction except the verifier's memory (its own lock); every
/// member may be called from any thread.

#include "switchboard/config/config.hpp"
#include "switchboard/http/message.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::metrics {
class registry;
}

namespace switchboard::ingest {

/// Why a presented access token was refused.
enum class access_token_error {
    invalid,  ///< not a token this client's secret signed, or malformed
    expired,
};

class oauth_tokens {
  public:
    static constexpr std::string_view issuer = "switchboard";
    static constexpr std::string_view audience = "switchboard-webhooks";
    static constexpr std::string_view path = "/oauth/token";
    /// A token request is a few form fields: the listener refuses a larger body (413).
    static constexpr std::size_t max_request_bytes = 16 * 1024;

    /// Throws config::config_error when the configuration cannot be used. `registry` (may be
    /// null) gets switchboard_oauth_token_requests_total{outcome}.
    oauth_tokens(const config::oauth_config& cfg, metrics::registry* registry);
    ~oauth_tokens();
    oauth_tokens(const oauth_tokens&) = delete;
    oauth_tokens& operator=(const oauth_tokens&) = delete;

    /// The token endpoint (RFC 6749 §4.4.2, §5): client credentials from HTTP Basic or from the
    /// body (application/x-www-form-urlencoded, or a JSON object), `grant_type` client_credentials.
    /// 200 with {access_token, token_type "Bearer", expires_in[, scope]}, else 400/401 (or 500)
    /// with {error, error_description}; never cached (Cache-Control: no-store). A parameter
    /// without a value counts as omitted.
    http::response token_request(const http::request& req, std::int64_t now_unix_s) const;

    /// A token for the configured client, issued at `now_unix_s` (the endpoint's, and tests').
    std::string issue(std::int64_t now_unix_s, std::string_view scope = {}) const;

    /// The value of an Authorization header: nullopt when it is "Bearer <token>" with a token
    /// issued by this client's secret (or the previous one) that has not expired.
    std::optional<access_token_error> check(std::string_view authorization) const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace switchboard::ingest
