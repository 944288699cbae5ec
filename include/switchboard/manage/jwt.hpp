#pragma once
/// Verification of Supabase Auth access tokens (JWS compact serialization) for the management
/// API: HS256 with the project's JWT secret, ES256/RS256 with keys from a JWKS (file or URL,
/// cached, refreshed when a token names an unknown `kid`). The algorithm is fixed by the key,
/// never chosen by the token: `alg: none` and HS/RS confusion are refused.
///
/// A token that verified is remembered (by its SHA-256) until it expires, so that the next
/// requests with it cost a digest and a lookup instead of a signature check; the remembered
/// tokens are forgotten whenever the JWKS of the URL is replaced, and not used while that JWKS
/// is due for its refetch.
///
/// Threads: `verify` and `check_now` may be called concurrently from any thread.

#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::http {
class client;
}  // namespace switchboard::http

namespace switchboard::manage {

struct jwt_config {
    std::string hs256_secret;                   ///< SUPABASE_JWT_SECRET; empty: HS256 off
    std::string jwks_url;                       ///< SUPABASE_JWKS_URL; empty: off
    std::string jwks_file;                      ///< SUPABASE_JWKS_FILE; empty: off
    std::string audience = "authenticated";     ///< SWITCHBOARD_JWT_AUDIENCE
    std::string issuer;                         ///< SWITCHBOARD_JWT_ISSUER; empty: not checked
    std::chrono::seconds leeway{30};            ///< clock skew allowed on exp / nbf
    std::chrono::seconds jwks_min_refresh{30};  ///< unknown kid: refetch at most this often
    std::chrono::seconds jwks_max_age{600};     ///< refetch the JWKS URL after this long

    bool any_key() const {
        return !hs256_secret.empty() || !jwks_url.empty() || !jwks_file.empty();
    }
};

/// The authenticated caller.
struct identity {
    std::string sub;              ///< owner of everything the caller creates
    std::string role;             ///< Supabase role claim ("authenticated"), may be empty
    std::string email;            ///< may be empty
    std::int64_t expires_at = 0;  ///< exp, unix seconds
};

enum class token_error {
    missing,                ///< no Authorization header, or not "Bearer <token>"
    malformed,              ///< not three base64url parts of JSON objects, > 16 KiB, no exp
    unsupported_algorithm,  ///< none, or an alg that does not match any configured key
    unknown_key,            ///< kid not in the JWKS (after a refresh)
    bad_signature,
    expired,
    not_yet_valid,
    wrong_audience,
    wrong_issuer,  ///< `iss` is not the configured issuer (when one is configured)
    no_subject,
    keys_unavailable,  ///< the JWKS could not be loaded
};

std::string_view to_string(token_error e) noexcept;

/// Lifetime: built at start-up, kept until no `verify` is in progress (a request waiting for a
/// JWKS fetch is parked inside it). The JWKS URL is fetched by the first `verify` that needs it,
/// not by the constructor.
class token_verifier {
  public:
    /// `client` fetches `jwks_url`; it may be null when no URL is configured. Throws
    /// std::runtime_error when the configuration is unusable (unreadable or invalid JWKS file).
    token_verifier(jwt_config cfg, http::client* client);
    ~token_verifier();
    token_verifier(const token_verifier&) = delete;
    token_verifier& operator=(const token_verifier&) = delete;

    /// Verifies the value of an Authorization header ("Bearer <token>"). The header is copied
    /// when the returned awaitable starts, so it must live until it is awaited.
    boost::asio::awaitable<boost::system::result<identity, token_error>> verify(
        std::string_view authorization) const;

    /// `verify` without waiting: with the keys at hand (the secret, the JWKS file, the JWKS
    /// fetched last), the token's error, or nullopt when it verifies or only a fetch of the
    /// JWKS URL could tell (no keys fetched yet, a kid not among them). The listener uses it to
    /// refuse a request with a forged or expired token before reading its body.
    std::optional<token_error> check_now(std::string_view authorization) const;

    const jwt_config& config() const noexcept;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace switchboard::manage
