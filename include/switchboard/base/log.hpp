#pragma once
/// Process-wide structured logging (spdlog). Lines are logfmt-like:
///   2026-11-24T06:28:37.123456Z level=info msg="listening" addr=0.0.0.0:8080
/// Call `init_logging` once from main before any thread starts; after that the log functions are
/// safe from any thread.

#include <spdlog/spdlog.h>

#include <string_view>

namespace switchboard::base {

/// Sets the global logger: level is one of trace, debug, info, warn, error, off.
void init_logging(std::string_view level);

}  // namespace switchboard::base

namespace switchboard::log {
using spdlog::debug;
using spdlog::error;
using spdlog::info;
using spdlog::trace;
using spdlog::warn;
}  // namespace switchboard::log
