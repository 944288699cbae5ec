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
#include <initializer_list>
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

    /// Any thread: the route of a call, by its phone number id first, then, for an id the table
    /// does not know, by its number (the newest row of that number). A known row without a
    /// route is final: nullopt, no route (the caller applies the default). Another row of the
    /// same number, say an older import of it or another owner's before a re-purchase, never
    /// answers for it.
    std::optional<route> lookup(std::string_view phone_number_id, std::string_view number) const {
        return lookup({phone_number_id}, number);
    }
    /// The same with several ids the call may name (the call's, the message's phone number's):
    /// the first the table knows decides.
    std::optional<route> lookup(std::initializer_list<std::string_view> phone_number_ids,
                                std::string_view number) const;

    /// Writer thread: publishes `rows` as the new snapshot (the complete table).
    void replace(const std::vector<phone_route>& rows);

    /// True once a snapshot has been published (the table was read at least once).
    bool loaded() const { return loaded_.load(std::memory_order_acquire); }

    /// Rows with a route in the current snapshot.
    std::size_t size() const;

  private:
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    /// A row's route, or none: a known row without one.
    using index =
        std::unordered_map<std::string, std::optional<route>, string_hash, std::equal_to<>>;
    struct snapshot {
        index by_id;
        index by_number;
        std::size_t routed = 0;
    };

    std::atomic<std::shared_ptr<const snapshot>> current_;
    std::atomic<bool> loaded_{false};
};

}  // namespace switchboard::ingest
