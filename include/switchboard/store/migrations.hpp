#pragma once
/// Schema migrations: the files of schemas/sql, compiled into the binary, applied in name order,
/// each in its own transaction, under a Postgres advisory lock so that several replicas
/// starting together apply each one exactly once. Applied names and checksums are recorded in
/// `switchboard_migrations`; an applied file whose text changed is an error.

#include "switchboard/store/pg.hpp"

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

/// Applies what is missing; returns the names applied now. Throws std::runtime_error.
std::vector<std::string> migrate(pg_connection& conn, const std::vector<migration>& all);

}  // namespace switchboard::store
