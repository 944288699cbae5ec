#include "switchboard/ingest/routing.hpp"

namespace switchboard::ingest {

std::string_view reply_field(route::kind k) noexcept {
    switch (k) {
        case route::kind::assistant:
            return "assistantId";
        case route::kind::workflow:
            return "workflowId";
        case route::kind::squad:
            return "squadId";
    }
    return "assistantId";
}

routing_table::routing_table() : current_(std::make_shared<const snapshot>()) {}

std::optional<route> routing_table::lookup(std::initializer_list<std::string_view> phone_number_ids,
                                           std::string_view number) const {
    const std::shared_ptr<const snapshot> s = current_.load(std::memory_order_acquire);
    for (const std::string_view id : phone_number_ids) {
        if (id.empty()) continue;
        if (auto it = s->by_id.find(id); it != s->by_id.end()) return it->second;
    }
    if (!number.empty()) {
        if (auto it = s->by_number.find(number); it != s->by_number.end()) return it->second;
    }
    return std::nullopt;
}

void routing_table::replace(const std::vector<phone_route>& rows) {
    auto next = std::make_shared<snapshot>();
    next->by_id.reserve(rows.size());
    // Several rows may carry the same number (a number re-imported under a new id): the most
    // recently updated one wins, ties broken by id so every process picks the same row.
    std::unordered_map<std::string_view, const phone_route*> newest;
    for (const auto& row : rows) {
        next->by_id.emplace(row.phone_number_id, row.target);
        if (row.target) ++next->routed;
        if (row.number.empty()) continue;
        auto [it, inserted] = newest.try_emplace(row.number, &row);
        if (!inserted) {
            const phone_route& held = *it->second;
            if (row.updated_us > held.updated_us ||
                (row.updated_us == held.updated_us && row.phone_number_id > held.phone_number_id)) {
                it->second = &row;
            }
        }
    }
    next->by_number.reserve(newest.size());
    for (const auto& [number, row] : newest) next->by_number.emplace(number, row->target);
    current_.store(std::move(next), std::memory_order_release);
    loaded_.store(true, std::memory_order_release);
}

std::size_t routing_table::size() const {
    return current_.load(std::memory_order_acquire)->routed;
}

}  // namespace switchboard::ingest
