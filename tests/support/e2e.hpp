#pragma once
/// Conventions shared by the end-to-end tests: the webhook secret, the service environment with
/// short timeouts (so the suite stays fast), and polling helpers with bounds.

#include "support/http_client.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::test {

using env_list = std::vector<std::pair<std::string, std::string>>;

inline const std::string k_secret = "e2e-secret";

/// {"X-Vapi-Secret": k_secret}
inline header_list secret_headers() {
    return {{"X-Vapi-Secret", k_secret}};
}

/// DATABASE_URL, the shared secret, two writers and short timeouts; an `extra` entry replaces
/// the default of the same name or is added.
env_list service_env(const std::string& database_url, const env_list& extra = {});

/// GETs `path` until it answers `want` or `timeout` passes; returns the last status (0 when the
/// service did not answer).
unsigned wait_for_status(std::uint16_t port, const std::string& path, unsigned want,
                         std::chrono::milliseconds timeout);

/// The body of GET /metrics ("" on failure).
std::string scrape_metrics(std::uint16_t port);

}  // namespace switchboard::test
