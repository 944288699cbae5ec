#pragma once
/// When and after how long a request is retried, as the official Vapi SDK (Fern-generated)
/// does: 408, 429 and 5xx are retried; the wait is Retry-After (seconds or an HTTP-date, no
/// jitter), else X-RateLimit-Reset (epoch seconds, 0..+20% jitter), else exponential backoff
/// base·2^n with ±10% jitter; each of them capped at `max_delay` before jitter.

#include "switchboard/http/client.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string_view>

namespace switchboard::http {

/// Parses an HTTP-date (RFC 9110 §5.6.7): IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", and the
/// obsolete RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994")
/// forms. Returns nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text);

/// A pure retry decision: no clock and no randomness of its own (both are passed in or
/// injected), so it is deterministic under test.
///
/// Lifetime and threads: a value type, built once and shared; its const members may be called
/// from any thread concurrently provided the random source may (the default one is per thread).
class retry_policy {
  public:
    /// Returns a uniformly distributed number in [0, 1).
    using random_source = std::function<double()>;

    struct options {
        std::chrono::milliseconds base_delay{1000};
        std::chrono::milliseconds max_delay{60000};
        /// Width of the jitter band as a fraction of the delay: 0.2 is ±10% for backoff and
        /// +0..20% for X-RateLimit-Reset (the SDK's JITTER_FACTOR).
        double jitter = 0.2;
    };

    retry_policy();
    explicit retry_policy(options opts, random_source random = {});

    /// 408, 429 and every status from 500 up.
    static bool is_retryable(unsigned status) noexcept;

    /// The wait before retry number `retry` (0 for the first retry) after a response with
    /// `status` and `headers`, received at `now`; nullopt when the status is not retryable.
    std::optional<std::chrono::milliseconds> delay(unsigned status,
                                                   const boost::beast::http::fields& headers,
                                                   unsigned retry,
                                                   std::chrono::system_clock::time_point now) const;

    /// The exponential part alone: min(base·2^retry, max_delay) with ±jitter/2.
    std::chrono::milliseconds backoff(unsigned retry) const;

    const options& settings() const noexcept { return options_; }

  private:
    options options_;
    random_source random_;
};

/// Sends `req`, retrying retryable statuses up to `max_retries` times after the policy's delay.
/// It never sleeps past `deadline`: when the next wait would end at or after it, the last
/// response is returned as it is. Transport errors (client_errc) are returned at once, not
/// retried: the client already retries a connection that went stale in its pool, and a POST
/// that may have reached the server must not be sent twice.
/// Runs on the caller's executor; `c` and `policy` must outlive the call.
boost::asio::awaitable<boost::system::result<client_response>> send_with_retries(
    client& c, client_request req, std::chrono::steady_clock::time_point deadline,
    const retry_policy& policy, unsigned max_retries = 2);

}  // namespace switchboard::http
