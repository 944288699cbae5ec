#include "switchboard/vapi/call_status.hpp"

namespace switchboard::vapi {

std::int16_t call_status_rank(std::string_view status) noexcept {
    if (status == "scheduled") return 1;
    if (status == "queued") return 2;
    if (status == "ringing") return 3;
    if (status == "in-progress") return 4;
    if (status == "forwarding") return 5;
    if (status == "ended" || status == "not-found") return 6;
    return 0;
}

}  // namespace switchboard::vapi
