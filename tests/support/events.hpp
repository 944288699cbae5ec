#pragma once
/// Webhook bodies parsed into events the way the HTTP handler does, for tests that drive the
/// store directly.

#include "switchboard/base/clock.hpp"
#include "switchboard/ingest/event.hpp"

#include <string>

namespace switchboard::test {

/// Parses `body` (padding it as http::padded_body does); fails the test when it is refused.
ingest::event make_event(const std::string& body, std::int64_t received_us = base::unix_micros());

}  // namespace switchboard::test
