#include "switchboard/base/log.hpp"

#include "switchboard/base/check.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <cstdio>
#include <cstdlib>

namespace switchboard::base {

void init_logging(std::string_view level) {
    auto logger = spdlog::stderr_logger_mt("switchboard");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ level=%l thread=%t %v",
                        spdlog::pattern_time_type::utc);
    logger->set_level(spdlog::level::from_str(std::string(level)));
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(std::move(logger));
}

[[noreturn]] void check_failed(const char* expr, std::source_location where) noexcept {
    std::fprintf(stderr, "switchboard: check failed: %s at %s:%u (%s)\n", expr, where.file_name(),
                 static_cast<unsigned>(where.line()), where.function_name());
    std::abort();
}

}  // namespace switchboard::base
