#pragma once
/// Wall-clock helpers shared by the modules (microseconds since the Unix epoch).

#include <cstdint>

namespace switchboard::base {

/// Microseconds since 1970-01-01T00:00:00Z, from the system clock.
std::int64_t unix_micros() noexcept;

}  // namespace switchboard::base

#include <optional>
#include <string_view>

namespace switchboard::base {

/// Parses an RFC 3339 / ISO-8601 date-time such as "2026-11-24T06:28:37.123Z" or
/// "2026-11-24T07:28:37+01:00" into microseconds since the epoch. Fractions beyond microseconds
/// are truncated. Returns nullopt for anything else (no partial dates, no week dates).
std::optional<std::int64_t> parse_iso8601_micros(std::string_view text) noexcept;

}  // namespace switchboard::base
