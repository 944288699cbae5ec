#include "switchboard/store/derive_slices.hpp"

#include <algorithm>

namespace switchboard::store::derive_slices {

clock::duration tick(clock::duration delay) {
    return std::clamp<clock::duration>(delay / k_per_delay, std::chrono::milliseconds(1),
                                       k_max_tick);
}

clock::time_point next(clock::time_point last_start, clock::time_point oldest_since,
                       clock::duration delay) {
    const clock::duration t = tick(delay);
    return std::max(last_start + t, oldest_since + (delay - std::min(t, delay)));
}

std::size_t cap(std::size_t pending) {
    return std::max(k_min_slice, (pending + 3) / 4);
}

void choose(std::span<const clock::time_point> since, clock::time_point now, clock::duration delay,
            std::vector<std::size_t>& out) {
    out.clear();
    const clock::time_point due_by = now - (delay - std::min(tick(delay), delay));
    std::size_t overdue = 0;  // waiting for the whole delay already: taken whatever the cap
    for (std::size_t i = 0; i < since.size(); ++i) {
        if (since[i] <= due_by) out.push_back(i);
        if (since[i] <= now - delay) ++overdue;
    }
    const auto earlier = [&](std::size_t a, std::size_t b) {
        return since[a] < since[b] || (since[a] == since[b] && a < b);
    };
    const std::size_t most = std::max(cap(since.size()), overdue);
    if (out.size() > most) {
        std::nth_element(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(most), out.end(),
                         earlier);
        out.resize(most);
    }
    std::sort(out.begin(), out.end(), earlier);
}

}  // namespace switchboard::store::derive_slices
