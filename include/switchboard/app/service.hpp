#pragma once
/// Wiring of the whole service from a parsed configuration: the one place that knows every
/// module. main() only parses the command line and calls one of these.

#include "switchboard/config/config.hpp"

namespace switchboard::app {

/// `switchboard migrate`: applies schemas/sql and returns the process exit code.
int run_migrate(const config::service_config& cfg);

/// `switchboard export-call <id>`: prints the call's messages, rebuilt, one per line.
int run_export_call(const config::service_config& cfg);

/// `switchboard [serve]`: migrates, then serves until SIGINT/SIGTERM; returns the exit code
/// (0 when every admitted event was written).
int run_service(const config::service_config& cfg);

}  // namespace switchboard::app
