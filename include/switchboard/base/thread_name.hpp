#pragma once
/// Names the calling thread as shown by `top -H`, `ps -L`, perf and gdb ("sb-writer-0").

#include <pthread.h>

#include <string>

namespace switchboard::base {

/// Linux keeps at most 15 characters; longer names are cut, not refused.
inline void name_this_thread(const std::string& name) {
    ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace switchboard::base
