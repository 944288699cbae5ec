#pragma once
/// Schema migrations: the files of schemas/sql, compiled into the binary, applied in name order,
/// each in its own transaction, under a Postgres advisory lock so that several replicas
/// starting together apply each one exactly once. Applied names and checksums are recorded in
/// `switchboard_migrations`; an applied file whose text changed is an error.

#include "switchboard/store/pg.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::store {

struct migration {
    std::string_view name;
    std::string_view sql;
};

/// The migrations embedded at build time (cmake/embed_sql.cmake), in order.
const std::vector<migration>& embedded_migrations();

/// The checksum recorded for a migration's text (SHA-256, hex).
std::string migration_checksum(std::string_view text);

/// How a migration waits for the locks it needs. An ALTER TABLE waiting for its lock holds up
/// every later statement on that table (Postgres queues them behind it): during a rolling
/// deploy, one long transaction of a running replica would stall that replica's writers until
/// it ended. So each lock wait of an attempt lasts at most `lock_timeout`; then the attempt
/// rolls back, lets the queued statements go for `pause`, and tries again, until
/// `give_up_after` (counted from the start of migrate, for all its migrations) has passed. (A
/// migration holding one table's lock while it waits for another's holds up the first table's
/// users for that wait too, and for its own run time.)
struct migrate_options {
    std::chrono::milliseconds lock_timeout{2000};
    std::chrono::milliseconds pause{1000};
    std::chrono::milliseconds give_up_after{30000};
};

/// Applies what is missing; returns the names applied now. Throws std::runtime_error.
std::vector<std::string> migrate(pg_connection& conn, const std::vector<migration>& all,
                                 const migrate_options& options = {});

}  // namespace switchboard::store
