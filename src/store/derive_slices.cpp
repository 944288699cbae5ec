#include "switchboard/store/derive_slices.hpp"

#include <algorithm>

namespace switchboard::store::derive_slices {

clock::duration tick(clock::duration delay) {
    return std::clamp<clock::duration>(delay / k_per_delay, std::chrono::milliseconds(1),
                                       k_max_tick);
}

clock::time_point next(clock::time_point last_start, clock::time_point oldest_since,
                       std::size_t pending, clock::duration delay) {
    const clock::duration t = tick(delay);
    const auto lead = static_cast<clock::rep>(std::clamp<std::size_t>(pending, 1, k_spread));
    return std::max(last_start + t, oldest_since + delay - lead * t);
}

void choose(std::span<const clock::time_point> since, clock::time_point now, clock::duration delay,
            std::vector<std::size_t>& out) {
    out.clear();
    const clock::duration t = tick(delay);
    // The slices at now, now + t, …: a call's last slice is the j-th when it has waited at least
    // delay − (j + 1)·t by now. Only those of the next k_spread slices count.
    const clock::time_point horizon = now - delay + k_spread * t;
    for (std::size_t i = 0; i < since.size(); ++i) {
        if (since[i] <= horizon) out.push_back(i);
    }
    const auto earlier = [&](std::size_t a, std::size_t b) {
        return since[a] < since[b] || (since[a] == since[b] && a < b);
    };
    std::sort(out.begin(), out.end(), earlier);
    // must(j): the calls whose last slice is one of the next j + 1; this one takes all of
    // must(0), and of the others an even share, so that no later slice need take more.
    std::size_t take = 0, counted = 0;
    for (unsigned j = 0; j < k_spread; ++j) {
        const clock::time_point by = now - delay + (j + 1) * t;
        while (counted < out.size() && since[out[counted]] <= by) ++counted;
        take = std::max(take, j == 0 ? counted : counted / (j + 1));
    }
    out.resize(take);
}

}  // namespace switchboard::store::derive_slices
