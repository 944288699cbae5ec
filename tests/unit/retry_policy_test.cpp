// retry_policy as a pure function: statuses, Retry-After, X-RateLimit-Reset, backoff, jitter.
// send_with_retries against a server is in http_client_test.cpp.
#include "switchboard/http/retry_policy.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace switchboard::http {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::system_clock;
namespace bhttp = boost::beast::http;

// 1994-11-06T08:49:37Z, the example date of RFC 9110.
const system_clock::time_point rfc_example = system_clock::time_point{784111777s};

/// A policy whose random source always returns `r`.
retry_policy fixed(double r, retry_policy::options o = {}) {
    return retry_policy(o, [r] { return r; });
}

bhttp::fields headers(std::initializer_list<std::pair<const char*, std::string>> list) {
    bhttp::fields f;
    for (const auto& [name, value] : list) f.insert(name, value);
    return f;
}

TEST(RetryPolicy, RetryableStatuses) {
    for (unsigned s : {408u, 429u, 500u, 502u, 503u, 504u, 599u}) {
        EXPECT_TRUE(retry_policy::is_retryable(s)) << s;
    }
    for (unsigned s : {200u, 201u, 301u, 400u, 401u, 403u, 404u, 409u, 422u, 499u}) {
        EXPECT_FALSE(retry_policy::is_retryable(s)) << s;
    }
}

TEST(RetryPolicy, NoDelayForClientErrors) {
    const auto p = fixed(0.5);
    const auto h = headers({{"Retry-After", "1"}});
    EXPECT_EQ(p.delay(400, h, 0, rfc_example), std::nullopt);
    EXPECT_EQ(p.delay(404, h, 0, rfc_example), std::nullopt);
    EXPECT_EQ(p.delay(200, {}, 0, rfc_example), std::nullopt);
}

TEST(RetryPolicy, RetryAfterSecondsWithoutJitter) {
    // The random source is at its extreme: Retry-After is not jittered.
    const auto p = fixed(0.999);
    EXPECT_EQ(p.delay(429, headers({{"Retry-After", "5"}}), 0, rfc_example), milliseconds(5000));
    EXPECT_EQ(p.delay(503, headers({{"retry-after", " 2 "}}), 1, rfc_example), milliseconds(2000));
    EXPECT_EQ(p.delay(503, headers({{"Retry-After", "120"}}), 0, rfc_example),
              milliseconds(60000));  // capped
    EXPECT_EQ(p.delay(503, headers({{"Retry-After", "99999999999999999999999"}}), 0, rfc_example),
              milliseconds(60000));  // no overflow
}

TEST(RetryPolicy, RetryAfterHttpDate) {
    const auto p = fixed(0.999);
    const auto now = rfc_example - 30s;
    EXPECT_EQ(p.delay(503, headers({{"Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT"}}), 0, now),
              milliseconds(30000));
    EXPECT_EQ(p.delay(503, headers({{"Retry-After", "Sunday, 06-Nov-94 08:49:37 GMT"}}), 0, now),
              milliseconds(30000));
    EXPECT_EQ(p.delay(503, headers({{"Retry-After", "Sun Nov  6 08:49:37 1994"}}), 0, now),
              milliseconds(30000));
    // Far in the future: capped.
    EXPECT_EQ(p.delay(503, headers({{"Retry-After", "Sun, 06 Nov 1994 10:00:00 GMT"}}), 0, now),
              milliseconds(60000));
    // A fraction of a second rounds up, so the retry never comes early.
    EXPECT_EQ(p.delay(503, headers({{"Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT"}}), 0,
                      rfc_example - 1500ms),
              milliseconds(1500));
}

TEST(RetryPolicy, UnusableRetryAfterFallsBackToBackoff) {
    const auto p = fixed(0.5);  // backoff without jitter: 1000 ms for the first retry
    for (const char* v :
         {"0", "-3", "soon", "", "Sun, 06 Nov 1994 08:49:37 GMT" /* past */, "1.5"}) {
        SCOPED_TRACE(v);
        EXPECT_EQ(p.delay(503, headers({{"Retry-After", v}}), 0, rfc_example + 1h),
                  milliseconds(1000));
    }
}

TEST(RetryPolicy, RateLimitResetEpochSecondsWithPositiveJitter) {
    const auto reset = headers({{"X-RateLimit-Reset", "784111787"}});  // rfc_example + 10 s
    EXPECT_EQ(fixed(0.0).delay(429, reset, 0, rfc_example), milliseconds(10000));
    EXPECT_EQ(fixed(0.5).delay(429, reset, 0, rfc_example), milliseconds(11000));
    EXPECT_EQ(fixed(0.75).delay(429, reset, 0, rfc_example), milliseconds(11500));
    // Capped before the jitter, as in the SDK.
    const auto far = headers({{"X-RateLimit-Reset", "784121777"}});
    EXPECT_EQ(fixed(0.0).delay(429, far, 0, rfc_example), milliseconds(60000));
    EXPECT_EQ(fixed(0.5).delay(429, far, 0, rfc_example), milliseconds(66000));
}

TEST(RetryPolicy, PastRateLimitResetFallsBackToBackoff) {
    const auto p = fixed(0.5);
    EXPECT_EQ(p.delay(429, headers({{"X-RateLimit-Reset", "784111777"}}), 1, rfc_example),
              milliseconds(2000));
    EXPECT_EQ(p.delay(429, headers({{"X-RateLimit-Reset", "later"}}), 1, rfc_example),
              milliseconds(2000));
}

TEST(RetryPolicy, RetryAfterWinsOverRateLimitReset) {
    const auto h = headers({{"Retry-After", "3"}, {"X-RateLimit-Reset", "784111787"}});
    EXPECT_EQ(fixed(0.5).delay(429, h, 0, rfc_example), milliseconds(3000));
}

TEST(RetryPolicy, ExponentialBackoffDoublesAndCaps) {
    const auto p = fixed(0.5);  // the centre of the jitter band
    EXPECT_EQ(p.backoff(0), milliseconds(1000));
    EXPECT_EQ(p.backoff(1), milliseconds(2000));
    EXPECT_EQ(p.backoff(2), milliseconds(4000));
    EXPECT_EQ(p.backoff(5), milliseconds(32000));
    EXPECT_EQ(p.backoff(6), milliseconds(60000));
    EXPECT_EQ(p.backoff(1000), milliseconds(60000));  // no overflow
    EXPECT_EQ(p.delay(500, {}, 2, rfc_example), milliseconds(4000));
}

TEST(RetryPolicy, BackoffJitterIsPlusMinusTenPercent) {
    EXPECT_EQ(fixed(0.0).backoff(0), milliseconds(900));
    EXPECT_EQ(fixed(0.25).backoff(0), milliseconds(950));
    EXPECT_EQ(fixed(0.999999).backoff(0), milliseconds(1100));
    EXPECT_EQ(fixed(0.0).backoff(3), milliseconds(7200));
    EXPECT_EQ(fixed(0.0).backoff(10), milliseconds(54000));
    EXPECT_EQ(fixed(0.999999).backoff(10), milliseconds(66000));
}

TEST(RetryPolicy, DefaultRandomSourceStaysInTheBandAndVaries) {
    const retry_policy p;
    milliseconds lo = milliseconds::max(), hi = milliseconds::min();
    for (int i = 0; i < 2000; ++i) {
        const auto d = p.backoff(1);
        lo = std::min(lo, d);
        hi = std::max(hi, d);
    }
    EXPECT_GE(lo, milliseconds(1800));
    EXPECT_LE(hi, milliseconds(2200));
    // Spread over the band (each bound fails with probability 0.75^2000).
    EXPECT_LT(lo, milliseconds(1900));
    EXPECT_GT(hi, milliseconds(2100));
}

TEST(RetryPolicy, CustomBaseAndCap) {
    retry_policy::options o;
    o.base_delay = 100ms;
    o.max_delay = 500ms;
    o.jitter = 0.0;
    const auto p = fixed(0.9, o);
    EXPECT_EQ(p.backoff(0), milliseconds(100));
    EXPECT_EQ(p.backoff(2), milliseconds(400));
    EXPECT_EQ(p.backoff(3), milliseconds(500));
    EXPECT_EQ(p.delay(503, headers({{"Retry-After", "2"}}), 0, rfc_example), milliseconds(500));
}

TEST(RetryPolicy, ParsesTheThreeHttpDateForms) {
    EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), rfc_example);
    EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), rfc_example);
    EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), rfc_example);
    EXPECT_EQ(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), system_clock::time_point{});
    EXPECT_EQ(parse_http_date("Wed, 29 Feb 2040 23:59:59 GMT"),
              system_clock::time_point{2214172799s});
    EXPECT_EQ(parse_http_date("Friday, 01-Jan-21 00:00:00 GMT"),
              system_clock::time_point{1609459200s});
}

TEST(RetryPolicy, RejectsMalformedHttpDates) {
    for (const char* bad : {"", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC",
                            "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 31 Feb 1994 08:49:37 GMT",
                            "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
                            "Sun, 06 Nov 1994 08:49:37 GMT x", "1994-11-06T08:49:37Z",
                            "Sun Nov 6 08:49:37 1994", "Xyz, 06 Nov 1994 08:49:37 GMT"}) {
        SCOPED_TRACE(bad);
        EXPECT_EQ(parse_http_date(bad), std::nullopt);
    }
}

}  // namespace
}  // namespace switchboard::http
