// switchboard: durable Vapi webhook ingestion. main() parses the configuration and hands over
// to app::run_service / app::run_migrate; everything else lives in the modules.
#include "switchboard/app/service.hpp"
#include "switchboard/base/log.hpp"
#include "switchboard/config/config.hpp"

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
    using namespace switchboard;
#ifdef SWITCHBOARD_SIMD_HASWELL
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("bmi2")) {
        std::fputs(
            "switchboard: this build needs an x86-64 CPU with AVX2 and BMI2; rebuild with "
            "-DSWITCHBOARD_SIMD_HASWELL=OFF\n",
            stderr);
        return 2;
    }
#endif
    config::parse_result parsed;
    try {
        parsed = config::parse(argc, argv);
    } catch (const config::config_error& e) {
        std::fprintf(stderr, "switchboard: invalid configuration: %s\n", e.what());
        return 2;
    }
    if (!parsed.config) {
        std::fputs(parsed.output.c_str(), stdout);
        return parsed.exit_code;
    }
    const auto& cfg = *parsed.config;
    base::init_logging(cfg.log_level);
    for (const auto& w : parsed.warnings) log::warn("{}", w);
    try {
        switch (cfg.cmd) {
            case config::command::migrate:
                return app::run_migrate(cfg);
            case config::command::export_call:
                return app::run_export_call(cfg);
            case config::command::serve:
                break;
        }
        return app::run_service(cfg);
    } catch (const std::exception& e) {
        log::error("msg=\"fatal\" error=\"{}\"", e.what());
        return 1;
    }
}
