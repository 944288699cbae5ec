#include "switchboard/ingest/auth.hpp"

#include <boost/beast/core/string.hpp>

#include <charconv>
#include <memory>

namespace switchboard::ingest {
namespace {

/// Parts of the signed payload (the format's placeholders and the text between them); the
/// formats in use have at most five.
constexpr std::size_t k_max_payload_segments = 16;

/// Seconds or milliseconds since the epoch (integer, optionally with a fraction) → ms.
std::optional<std::int64_t> parse_timestamp_ms(std::string_view text) {
    std::int64_t whole = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), whole);
    if (ec != std::errc{} || ptr == text.data() || whole < 0) return std::nullopt;
    if (ptr != text.data() + text.size()) {
        // Accept a fractional part ("1732431234.567"), digits only.
        if (*ptr != '.') return std::nullopt;
        for (const char* p = ptr + 1; p != text.data() + text.size(); ++p) {
            if (*p < '0' || *p > '9') return std::nullopt;
        }
    }
    // Seconds until the year 5138 stay below 1e11; milliseconds since 1973 are above it.
    return whole < 100'000'000'000 ? whole * 1000 : whole;
}

}  // namespace

std::string_view to_string(auth_failure f) noexcept {
    switch (f) {
        case auth_failure::missing_credentials:
            return "missing_credentials";
        case auth_failure::wrong_secret:
            return "wrong_secret";
        case auth_failure::wrong_token:
            return "wrong_token";
        case auth_failure::bad_signature:
            return "bad_signature";
        case auth_failure::malformed_timestamp:
            return "malformed_timestamp";
        case auth_failure::stale_timestamp:
            return "stale_timestamp";
        case auth_failure::invalid_access_token:
            return "invalid_access_token";
        case auth_failure::expired_access_token:
            return "expired_access_token";
    }
    return "unknown";
}

authenticator::authenticator(const config::auth_config& cfg, metrics::registry* registry)
    : cfg_(cfg), enabled_(cfg.any_scheme()) {
    if (cfg_.oauth.enabled()) oauth_ = std::make_unique<oauth_tokens>(cfg_.oauth, registry);
    if (!cfg_.hmac.secret.empty()) {
        const auto mac_of = [this](const std::string& secret, const char* name) {
            std::string key = secret;
            if (cfg_.hmac.secret_is_base64) {
                auto decoded = decode_base64(key);
                if (!decoded)
                    throw config::config_error(std::string(name) + " is not valid base64");
                key = std::move(*decoded);
            }
            return std::make_unique<hmac>(cfg_.hmac.algorithm, std::move(key));
        };
        hmac_ = mac_of(cfg_.hmac.secret, "SWITCHBOARD_HMAC_SECRET");
        if (!cfg_.hmac.secret_previous.empty()) {
            hmac_previous_ = mac_of(cfg_.hmac.secret_previous, "SWITCHBOARD_HMAC_SECRET_PREVIOUS");
        }

        // Pre-split the payload format so each request only feeds byte ranges to the MAC.
        static constexpr std::pair<std::string_view, segment::kind_t> k_placeholders[] = {
            {"{timestamp}", segment::timestamp},
            {"{body}", segment::body},
            {"{method}", segment::method},
            {"{url}", segment::url},
            {"{svix-id}", segment::message_id}};
        std::string_view fmt = cfg_.hmac.payload_format;
        std::string literal;
        while (!fmt.empty()) {
            bool matched = false;
            for (auto [name, kind] : k_placeholders) {
                if (fmt.starts_with(name)) {
                    if (!literal.empty())
                        payload_.push_back({segment::literal, std::move(literal)});
                    literal.clear();
                    payload_.push_back({kind, {}});
                    fmt.remove_prefix(name.size());
                    matched = true;
                    break;
                }
            }
            if (!matched) {
                literal += fmt.front();
                fmt.remove_prefix(1);
            }
        }
        if (!literal.empty()) payload_.push_back({segment::literal, std::move(literal)});
        if (payload_.size() > k_max_payload_segments) {
            throw config::config_error("SWITCHBOARD_HMAC_PAYLOAD_FORMAT has " +
                                       std::to_string(payload_.size()) +
                                       " parts (placeholders and the text between them); at most " +
                                       std::to_string(k_max_payload_segments) + " are supported");
        }
    }
}

authenticator::~authenticator() = default;

std::size_t authenticator::compute(const hmac& mac, std::string_view timestamp,
                                   std::string_view body, std::string_view method,
                                   std::string_view url, std::string_view message_id,
                                   hmac::digest& out) const {
    std::array<std::string_view, k_max_payload_segments> parts{};
    std::size_t n = 0;
    for (const auto& seg : payload_) {  // at most k_max_payload_segments (the constructor)
        switch (seg.kind) {
            case segment::literal:
                parts[n++] = seg.text;
                break;
            case segment::timestamp:
                parts[n++] = timestamp;
                break;
            case segment::body:
                parts[n++] = body;
                break;
            case segment::method:
                parts[n++] = method;
                break;
            case segment::url:
                parts[n++] = url;
                break;
            case segment::message_id:
                parts[n++] = message_id;
                break;
        }
    }
    return mac.compute(std::span(parts.data(), n), out);
}

std::string authenticator::sign(std::string_view timestamp, std::string_view body,
                                std::string_view method, std::string_view url,
                                std::string_view message_id) const {
    if (!hmac_) return {};
    hmac::digest d{};
    const std::size_t n = compute(*hmac_, timestamp, body, method, url, message_id, d);
    const std::string_view raw(reinterpret_cast<const char*>(d.data()), n);
    return cfg_.hmac.signature_prefix + (cfg_.hmac.encoding == config::signature_encoding::hex
                                             ? encode_hex(raw)
                                             : encode_base64(raw));
}

std::optional<auth_failure> authenticator::check_hmac_header(
    const http::request::header_type& header, std::int64_t now_unix_ms) const {
    const auto& h = cfg_.hmac;
    if (header[h.signature_header].empty()) return auth_failure::missing_credentials;
    const auto ts_ms = parse_timestamp_ms(header[h.timestamp_header]);
    if (!ts_ms) return auth_failure::malformed_timestamp;
    const std::int64_t skew_ms = std::chrono::milliseconds(h.max_skew).count();
    if (*ts_ms < now_unix_ms - skew_ms || *ts_ms > now_unix_ms + skew_ms) {
        return auth_failure::stale_timestamp;
    }
    return std::nullopt;
}

std::optional<auth_failure> authenticator::check_hmac(const http::request& req,
                                                      std::int64_t now_unix_ms) const {
    if (auto failure = check_hmac_header(req, now_unix_ms)) return failure;
    const auto& h = cfg_.hmac;
    const std::string_view signature = req[h.signature_header];
    const std::string_view timestamp = req[h.timestamp_header];

    std::string_view encoded = signature;
    if (!h.signature_prefix.empty()) {
        if (!encoded.starts_with(h.signature_prefix)) return auth_failure::bad_signature;
        encoded.remove_prefix(h.signature_prefix.size());
    }
    const auto received = h.encoding == config::signature_encoding::hex ? decode_hex(encoded)
                                                                        : decode_base64(encoded);
    if (!received) return auth_failure::bad_signature;

    std::string url;
    for (const auto& seg : payload_) {
        if (seg.kind == segment::url) {
            // Best effort: the URL Vapi called, as far as the request (and a proxy) tell it.
            const std::string_view proto = req["X-Forwarded-Proto"];
            url = std::string(proto.empty() ? "http" : proto) + "://" +
                  std::string(req[boost::beast::http::field::host]) + std::string(req.target());
        }
    }
    const std::string_view message_id = h.message_id_header.empty()
                                            ? std::string_view{}
                                            : std::string_view(req[h.message_id_header]);
    // The current secret's signature, else (during a rotation) the previous one's.
    for (const hmac* mac : {hmac_.get(), hmac_previous_.get()}) {
        if (mac == nullptr) continue;
        hmac::digest expected{};
        const std::size_t n =
            compute(*mac, timestamp, req.body(), req.method_string(), url, message_id, expected);
        if (n != 0 &&
            constant_time_equal(
                *received, std::string_view(reinterpret_cast<const char*>(expected.data()), n))) {
            return std::nullopt;
        }
    }
    return auth_failure::bad_signature;
}

template <class Hmac>
std::optional<auth_failure> authenticator::decide(const http::request::header_type& header,
                                                  Hmac&& hmac) const {
    if (!enabled_) return std::nullopt;
    // The most specific failure wins: a wrong credential says more than a missing one.
    std::optional<auth_failure> failure = auth_failure::missing_credentials;
    if (credential_matches(header, failure)) return std::nullopt;
    if (hmac_) {
        auto result = hmac();
        if (!result) return std::nullopt;
        if (*result != auth_failure::missing_credentials) failure = result;
    }
    return failure;
}

std::optional<auth_failure> authenticator::check(const http::request& req,
                                                 std::int64_t now_unix_ms) const {
    return decide(req, [&] { return check_hmac(req, now_unix_ms); });
}

std::optional<auth_failure> authenticator::check_header(const http::request::header_type& header,
                                                        std::int64_t now_unix_ms) const {
    // The signature covers the body: only what the header can tell is decided here.
    return decide(header, [&] { return check_hmac_header(header, now_unix_ms); });
}

bool authenticator::credential_matches(const http::request::header_type& header,
                                       std::optional<auth_failure>& failure) const {
    if (!cfg_.secret.empty()) {
        auto it = header.find(cfg_.secret_header);
        if (it != header.end()) {
            if (secret_matches(it->value(), cfg_.secret)) return true;
            if (!cfg_.secret_previous.empty() &&
                secret_matches(it->value(), cfg_.secret_previous)) {
                return true;
            }
            failure = auth_failure::wrong_secret;
        }
    }
    if (!cfg_.bearer_token.empty()) {
        auto it = header.find(cfg_.bearer_header);
        if (it != header.end()) {
            std::string_view value = it->value();
            bool shaped = true;
            if (cfg_.bearer_prefix) {
                shaped = value.size() > 7 && boost::beast::iequals(value.substr(0, 7), "Bearer ");
                if (shaped) value.remove_prefix(7);
            }
            if (shaped && (secret_matches(value, cfg_.bearer_token) ||
                           (!cfg_.bearer_token_previous.empty() &&
                            secret_matches(value, cfg_.bearer_token_previous)))) {
                return true;
            }
            failure = auth_failure::wrong_token;
        }
    }
    if (oauth_) {
        auto it = header.find(boost::beast::http::field::authorization);
        if (it != header.end()) {
            const auto error = oauth_->check(it->value());
            if (!error) return true;
            // A wrong secret or static token keeps its reason, unless the value was a token of
            // ours that expired.
            if (*error == access_token_error::expired) {
                failure = auth_failure::expired_access_token;
            } else if (failure == auth_failure::missing_credentials) {
                failure = auth_failure::invalid_access_token;
            }
        }
    }
    return false;
}

}  // namespace switchboard::ingest
