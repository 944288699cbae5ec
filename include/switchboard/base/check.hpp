#pragma once
/// The two assertion macros of the project.
///  - SWITCHBOARD_ASSERT: debug-only invariant, compiled out with NDEBUG.
///  - SWITCHBOARD_CHECK: always on; a broken invariant logs and aborts.

#include <source_location>

namespace switchboard::base {
[[noreturn]] void check_failed(const char* expr, std::source_location where) noexcept;
}  // namespace switchboard::base

#define SWITCHBOARD_CHECK(expr)                                                        \
    do {                                                                               \
        if (!(expr)) [[unlikely]]                                                      \
            ::switchboard::base::check_failed(#expr, std::source_location::current()); \
    } while (false)

#ifdef NDEBUG
#define SWITCHBOARD_ASSERT(expr) static_cast<void>(0)
#else
#define SWITCHBOARD_ASSERT(expr) SWITCHBOARD_CHECK(expr)
#endif
