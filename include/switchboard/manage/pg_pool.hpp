#pragma once
/// The management API's own small pool of blocking libpq connections, apart from the batch
/// writers' so that management queries never compete with webhook ingestion for a connection.
///
/// Used from the management thread pool: a query borrows a connection for the duration of one
/// blocking call (never across a co_await), so at most as many connections are busy as there
/// are management threads. A lost connection is reconnected on next use; a query that failed
/// because the connection was lost is retried once on a fresh one (every statement of the
/// management API is idempotent). Parameters are always sent apart from the SQL text.

#include "switchboard/store/pg.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace switchboard::manage {

struct pg_pool_config {
    std::string database_url;
    unsigned size = 4;
    std::chrono::seconds connect_timeout{5};
    std::chrono::milliseconds statement_timeout{10'000};  ///< SET statement_timeout
    std::chrono::milliseconds lock_timeout{3'000};        ///< SET lock_timeout
};

class pg_pool {
  public:
    explicit pg_pool(pg_pool_config cfg);
    pg_pool(const pg_pool&) = delete;
    pg_pool& operator=(const pg_pool&) = delete;

    /// Runs `sql` with `params` (text, nullptr = NULL) on a pooled connection. Blocks the
    /// calling thread for the duration of the query.
    std::optional<store::pg_error> query(const char* sql, std::span<const char* const> params,
                                         store::pg_result& out);

  private:
    std::optional<store::pg_error> ensure_connected(store::pg_connection& conn);

    pg_pool_config cfg_;
    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<store::pg_connection> idle_;
    unsigned lent_ = 0;
};

}  // namespace switchboard::manage
