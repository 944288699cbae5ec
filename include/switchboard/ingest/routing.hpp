#pragma once
/// The phone-number routing table that answers assistant-request from memory: which assistant,
/// workflow or squad an inbound call on each number goes to (the `phone_numbers` table,
/// schemas/sql/003_management.sql).
///
/// The table holds an immutable snapshot behind an atomic shared_ptr: lookups (any I/O thread)
/// take the current snapshot without a lock held across the lookup and never wait for a reload;
/// the one writer (store::routing_listener, its own thread) builds a new snapshot and swaps it in.
/// Lifetime: owned by the service wiring; outlives the webhook handler and the listener.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace switchboard::ingest {

/// Where an inbound call goes (spec.md §1.4: exactly one of assistantId, workflowId, squadId).
struct route {
    enum class kind : std::uint8_t { assistant, workflow, squad };
    kind what = kind::assistant;
    std::string id;

    friend bool operator==(const route&, const route&) = default;
};

/// The reply field of a route: "assistantId", "workflowId" or "squadId".
std::string_view reply_field(route::kind k) noexcept;

/// One row of `phone_numbers` as far as routing is concerned.
struct phone_route {
    std::string phone_number_id;  ///< Vapi phone number id (primary key)
    std::string number;           ///< E.164; empty for SIP-only numbers
    std::optional<route> target;  ///< none: the number has no route (the default applies)
    std::int64_t updated_us = 0;  ///< updated_at; among rows with the same number the newest wins
};

class routing_table {
  public:
    routing_table();

    /// Any thread: the route of a call, by its phone number id first, then by its number. A row
    /// without a route is skipped. nullopt: no route (the caller applies the default).
    std::optional<route> lookup(std::string_view phone_number_id, std::string_view number) const;

    /// Writer thread: publishes `rows` as the new snapshot (the complete table).
    void replace(const std::vector<phone_route>& rows);

    /// True once a snapshot has been published (the table was read at least once).
    bool loaded() const { return loaded_.load(std::memory_order_acquire); }

    /// Numbers with a route in the current snapshot.
    std::size_t size() const;

  private:
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    using index = std::unordered_map<std::string, route, string_hash, std::equal_to<>>;
    struct snapshot {
        index by_id;
        index by_number;
    };

    std::atomic<std::shared_ptr<const snapshot>> current_;
    std::atomic<bool> loaded_{false};
};

}  // namespace switchboard::ingest
