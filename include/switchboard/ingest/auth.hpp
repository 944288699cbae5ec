#pragma once
/// Webhook authentication (shared/vapi/spec.md §3): a static shared-secret header, a bearer
/// token, Vapi's HMAC plan with a replay window, and the access tokens of its OAuth2 plan
/// (ingest/oauth.hpp). A request is authenticated when it
/// satisfies any configured scheme; all comparisons are constant-time. Immutable after
/// construction, so one instance is shared by every I/O thread.

#include "switchboard/config/config.hpp"
#include "switchboard/http/message.hpp"
#include "switchboard/ingest/hmac.hpp"
#include "switchboard/ingest/oauth.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::ingest {

enum class auth_failure {
    missing_credentials,  ///< none of the configured headers was sent
    wrong_secret,
    wrong_token,
    bad_signature,
    malformed_timestamp,
    stale_timestamp,       ///< outside the replay window
    invalid_access_token,  ///< OAuth2: a bearer token this service did not issue, or malformed
    expired_access_token,  ///< OAuth2: one it issued, past its `exp`
};

inline constexpr std::size_t auth_failure_count = 8;

std::string_view to_string(auth_failure f) noexcept;

class authenticator {
  public:
    /// Throws config::config_error when the HMAC secret is declared base64 but is not (or the
    /// OAuth2 plan cannot be set up). `registry` (may be null) gets the token endpoint's counts.
    explicit authenticator(const config::auth_config& cfg, metrics::registry* registry = nullptr);
    ~authenticator();

    /// nullopt when authenticated. `now_unix_ms` is the receive time (for the replay window).
    std::optional<auth_failure> check(const http::request& req, std::int64_t now_unix_ms) const;

    /// What the header alone decides, before the body is read: a failure when no configured
    /// scheme can pass (no matching secret or token, and no HMAC signature, or an HMAC timestamp
    /// that is malformed or outside the window); nullopt when it passes or needs the body.
    std::optional<auth_failure> check_header(const http::request::header_type& header,
                                             std::int64_t now_unix_ms) const;

    /// False when no scheme is configured (and the operator allowed that explicitly).
    bool enabled() const noexcept { return enabled_; }

    /// The OAuth2 plan's token endpoint and tokens; null when the plan is not configured.
    const oauth_tokens* oauth() const noexcept { return oauth_.get(); }

    /// Signs like Vapi does (for tests, the load generator and documentation):
    /// returns the header value of the signature for `body` at `timestamp`.
    std::string sign(std::string_view timestamp, std::string_view body,
                     std::string_view method = "POST", std::string_view url = {},
                     std::string_view message_id = {}) const;

  private:
    struct segment {
        enum kind_t { literal, timestamp, body, method, url, message_id } kind;
        std::string text;  // for literals
    };

    std::optional<auth_failure> check_hmac(const http::request& req,
                                           std::int64_t now_unix_ms) const;
    /// The HMAC scheme's checks that need no body: the signature is there, the timestamp is
    /// well-formed and inside the replay window.
    std::optional<auth_failure> check_hmac_header(const http::request::header_type& header,
                                                  std::int64_t now_unix_ms) const;
    /// The schemes in turn: the shared secret or bearer token, then `hmac()` (the HMAC check of
    /// the whole request, or of what its header alone tells).
    template <class Hmac>
    std::optional<auth_failure> decide(const http::request::header_type& header, Hmac&& hmac) const;
    /// True when the shared secret, the bearer token or an OAuth2 access token matches; else
    /// `failure` says why not
    /// (left as it was when neither header is present).
    bool credential_matches(const http::request::header_type& header,
                            std::optional<auth_failure>& failure) const;
    std::size_t compute(const hmac& mac, std::string_view timestamp, std::string_view body,
                        std::string_view method, std::string_view url, std::string_view message_id,
                        hmac::digest& out) const;

    config::auth_config cfg_;
    bool enabled_;
    std::unique_ptr<hmac> hmac_;
    std::unique_ptr<hmac> hmac_previous_;  ///< --hmac-secret-previous, during a rotation
    std::unique_ptr<oauth_tokens> oauth_;
    std::vector<segment> payload_;
};

}  // namespace switchboard::ingest
