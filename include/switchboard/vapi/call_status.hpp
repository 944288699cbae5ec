#pragma once
/// Call status order (spec.md §6.2). A call's stored status only moves forward:
/// scheduled < queued < ringing < in-progress < forwarding < ended. `not-found` is terminal like
/// `ended`; `deletion-failed` and unknown values never move a call's lifecycle (rank 0).

#include <cstdint>
#include <string_view>

namespace switchboard::vapi {

/// Rank of a status for the forward-only rule; 0 for values that must not change the status.
std::int16_t call_status_rank(std::string_view status) noexcept;

}  // namespace switchboard::vapi
