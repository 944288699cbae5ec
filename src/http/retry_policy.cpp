#include "switchboard/http/retry_policy.hpp"

#include "switchboard/base/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <random>

namespace switchboard::http {
namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::system_clock;

namespace {

/// A cursor over an HTTP-date; every step fails (returns false) without consuming on mismatch.
class date_reader {
  public:
    explicit date_reader(std::string_view text) : text_(text) {}

    bool literal(std::string_view s) {
        if (text_.substr(pos_, s.size()) != s) return false;
        pos_ += s.size();
        return true;
    }

    /// Exactly `digits` decimal digits.
    bool number(int digits, int& out) {
        if (pos_ + static_cast<std::size_t>(digits) > text_.size()) return false;
        int v = 0;
        for (int i = 0; i < digits; ++i) {
            const char c = text_[pos_ + static_cast<std::size_t>(i)];
            if (c < '0' || c > '9') return false;
            v = v * 10 + (c - '0');
        }
        pos_ += static_cast<std::size_t>(digits);
        out = v;
        return true;
    }

    /// One of the names; `index` is its position in `names`.
    template <std::size_t N>
    bool one_of(const std::array<std::string_view, N>& names, int& index) {
        for (std::size_t i = 0; i < N; ++i) {
            if (literal(names[i])) {
                index = static_cast<int>(i);
                return true;
            }
        }
        return false;
    }

    bool time_of_day(int& h, int& m, int& s) {
        return number(2, h) && literal(":") && number(2, m) && literal(":") && number(2, s);
    }

    bool at_end() const { return pos_ == text_.size(); }

  private:
    std::string_view text_;
    std::size_t pos_ = 0;
};

constexpr std::array<std::string_view, 12> month_names{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> short_days{"Mon", "Tue", "Wed", "Thu",
                                                     "Fri", "Sat", "Sun"};
// Longest first is not needed: no long name is a prefix of another.
constexpr std::array<std::string_view, 7> long_days{"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                    "Friday", "Saturday", "Sunday"};

std::optional<system_clock::time_point> make_time(int year, int month_index, int day, int h, int m,
                                                  int s) {
    const std::chrono::year_month_day ymd{
        std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month_index + 1)},
        std::chrono::day{static_cast<unsigned>(day)}};
    if (!ymd.ok() || h > 23 || m > 59 || s > 60) return std::nullopt;
    return std::chrono::sys_days{ymd} + std::chrono::hours{h} + std::chrono::minutes{m} +
           std::chrono::seconds{s};
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

/// A non-negative decimal integer, saturated at int64 max; nullopt unless digits only.
std::optional<std::int64_t> parse_count(std::string_view s) {
    if (s.empty()) return std::nullopt;
    std::int64_t v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        const int digit = c - '0';
        if (v > (INT64_MAX - digit) / 10) {
            v = INT64_MAX;
        } else {
            v = v * 10 + digit;
        }
    }
    return v;
}

double default_random() {
    thread_local std::mt19937_64 engine{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

milliseconds scaled(milliseconds d, double factor) {
    return milliseconds{std::llround(static_cast<double>(d.count()) * factor)};
}

}  // namespace

std::optional<system_clock::time_point> parse_http_date(std::string_view text) {
    int wday = 0, day = 0, month = 0, year = 0, h = 0, m = 0, s = 0;
    {  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        date_reader r(text);
        if (r.one_of(short_days, wday) && r.literal(", ") && r.number(2, day) && r.literal(" ") &&
            r.one_of(month_names, month) && r.literal(" ") && r.number(4, year) && r.literal(" ") &&
            r.time_of_day(h, m, s) && r.literal(" GMT") && r.at_end()) {
            return make_time(year, month, day, h, m, s);
        }
    }
    {  // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        date_reader r(text);
        if (r.one_of(long_days, wday) && r.literal(", ") && r.number(2, day) && r.literal("-") &&
            r.one_of(month_names, month) && r.literal("-") && r.number(2, year) && r.literal(" ") &&
            r.time_of_day(h, m, s) && r.literal(" GMT") && r.at_end()) {
            // Two-digit years: 70–99 are 19xx, 00–69 are 20xx (the form died out in the 1990s).
            return make_time(year < 70 ? 2000 + year : 1900 + year, month, day, h, m, s);
        }
    }
    {  // asctime: Sun Nov  6 08:49:37 1994
        date_reader r(text);
        if (r.one_of(short_days, wday) && r.literal(" ") && r.one_of(month_names, month) &&
            r.literal(" ") && (r.literal(" ") ? r.number(1, day) : r.number(2, day)) &&
            r.literal(" ") && r.time_of_day(h, m, s) && r.literal(" ") && r.number(4, year) &&
            r.at_end()) {
            return make_time(year, month, day, h, m, s);
        }
    }
    return std::nullopt;
}

retry_policy::retry_policy() : retry_policy(options{}) {}

retry_policy::retry_policy(options opts, random_source random)
    : options_(opts), random_(random ? std::move(random) : random_source(default_random)) {}

bool retry_policy::is_retryable(unsigned status) noexcept {
    return status == 408 || status == 429 || status >= 500;
}

milliseconds retry_policy::backoff(unsigned retry) const {
    // base·2^retry without overflow: stop doubling once past the cap.
    milliseconds d = options_.base_delay;
    for (unsigned i = 0; i < retry && d < options_.max_delay; ++i) d *= 2;
    d = std::min(d, options_.max_delay);
    return scaled(d, 1.0 + (random_() - 0.5) * options_.jitter);
}

std::optional<milliseconds> retry_policy::delay(unsigned status,
                                                const boost::beast::http::fields& headers,
                                                unsigned retry,
                                                system_clock::time_point now) const {
    if (!is_retryable(status)) return std::nullopt;

    if (auto it = headers.find("Retry-After"); it != headers.end()) {
        const std::string_view value = trim(it->value());
        if (const auto seconds = parse_count(value)) {
            // As in the SDK, "0" is not a wait: the other sources decide.
            if (*seconds > 0) {
                const std::int64_t cap_s = options_.max_delay.count() / 1000 + 1;
                return std::min(milliseconds{std::min(*seconds, cap_s) * 1000}, options_.max_delay);
            }
        } else if (const auto date = parse_http_date(value); date && *date > now) {
            return std::min(std::chrono::ceil<milliseconds>(*date - now), options_.max_delay);
        }
    }

    if (auto it = headers.find("X-RateLimit-Reset"); it != headers.end()) {
        if (const auto reset = parse_count(trim(it->value()))) {
            const auto now_ms =
                std::chrono::duration_cast<milliseconds>(now.time_since_epoch()).count();
            const std::int64_t cap_s = INT64_MAX / 1000 - 1;
            const std::int64_t reset_ms = std::min(*reset, cap_s) * 1000;
            if (reset_ms > now_ms) {
                const milliseconds d =
                    std::min(milliseconds{reset_ms - now_ms}, options_.max_delay);
                return scaled(d, 1.0 + random_() * options_.jitter);
            }
        }
    }

    return backoff(retry);
}

asio::awaitable<boost::system::result<client_response>> send_with_retries(
    client& c, client_request req, std::chrono::steady_clock::time_point deadline,
    const retry_policy& policy, unsigned max_retries) {
    for (unsigned retry = 0; retry < max_retries; ++retry) {
        auto res = co_await c.send(req, deadline);
        if (!res) co_return res;
        const auto wait = policy.delay(res->status, res->headers, retry, system_clock::now());
        if (!wait) co_return res;
        if (std::chrono::steady_clock::now() + *wait >= deadline) {
            log::debug("msg=\"http retry skipped: deadline\" status={} wait_ms={}", res->status,
                       wait->count());
            co_return res;
        }
        log::debug("msg=\"http retry\" status={} retry={} wait_ms={}", res->status, retry + 1,
                   wait->count());
        asio::steady_timer timer(co_await asio::this_coro::executor, *wait);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return co_await c.send(std::move(req), deadline);
}

}  // namespace switchboard::http
