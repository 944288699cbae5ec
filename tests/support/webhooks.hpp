#pragma once
/// Helpers to build and inspect webhook traffic in tests: per-request call ids substituted into
/// the Vapi examples, minimal bodies of an exact size, HMAC signatures computed independently of
/// the service (OpenSSL's one-shot HMAC), and a reader for the Prometheus text format.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::test {

/// message.call.id of a webhook body ("" when it has none).
std::string call_id_of(const std::string& body);

/// `body` with every occurrence of its message.call.id replaced by `call_id` (the id also
/// appears in URLs of the examples; those change too, which keeps the body self-consistent).
std::string with_call_id(const std::string& body, const std::string& call_id);

/// The "message" object of a body, re-serialized (for jsonb comparisons).
std::string message_json(const std::string& body);

/// A small valid webhook: {"message":{"type":…,"timestamp":…,"call":{"id":…}}}. With
/// `exact_size`, a "pad" string of spaces is added to the message so that the body has exactly
/// that many bytes.
std::string small_webhook(const std::string& call_id, std::string_view type = "hang",
                          std::optional<std::size_t> exact_size = std::nullopt);

/// Lower-case hex HMAC-SHA256 of `data` with `key`.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

/// The value of one series in a Prometheus text exposition, e.g.
/// metric_value(text, "switchboard_pg_reconnects_total") or with labels as printed,
/// metric_value(text, R"(switchboard_webhooks_total{outcome="stored",type="hang"})").
/// nullopt when the series is absent.
std::optional<double> metric_value(const std::string& exposition, std::string_view series);

/// The "error" member of a JSON error body; nullopt when the body is not {"error": "<text>"}.
std::optional<std::string> json_error_text(const std::string& body);

/// Milliseconds since the Unix epoch, now.
long long unix_millis_now();

}  // namespace switchboard::test
