#include "switchboard/manage/pg_pool.hpp"

#include "switchboard/base/log.hpp"

namespace switchboard::manage {

pg_pool::pg_pool(pg_pool_config cfg) : cfg_(std::move(cfg)) {}

std::optional<store::pg_error> pg_pool::ensure_connected(store::pg_connection& conn) {
    if (conn.ok()) return std::nullopt;
    std::string error;
    auto fresh = store::pg_connection::connect(cfg_.database_url, cfg_.connect_timeout, error);
    if (!fresh) return store::pg_error{store::pg_error::kind::connection, {}, error};
    // A locked table or a stuck server must not hold a management thread forever. A time a
    // caller gives without an offset (a filter such as createdAtGe) is UTC, as every time the
    // API returns is, whatever the server's own time zone.
    const std::string settings =
        "SET statement_timeout = " + std::to_string(cfg_.statement_timeout.count()) +
        "; SET lock_timeout = " + std::to_string(cfg_.lock_timeout.count()) +
        "; SET TimeZone = 'UTC'";
    if (auto e = fresh->exec(settings.c_str())) return e;
    conn = std::move(*fresh);
    return std::nullopt;
}

std::optional<store::pg_error> pg_pool::query(const char* sql, std::span<const char* const> params,
                                              store::pg_result& out) {
    store::pg_connection conn;
    {
        std::unique_lock lock(mutex_);
        available_.wait(lock, [this] { return !idle_.empty() || lent_ < cfg_.size; });
        if (!idle_.empty()) {
            conn = std::move(idle_.back());
            idle_.pop_back();
        }
        ++lent_;
    }
    std::optional<store::pg_error> result;
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (auto e = ensure_connected(conn)) {
            result = std::move(e);
            conn.reset();
            continue;
        }
        result = conn.query_params(sql, params, out);
        if (!result || result->what != store::pg_error::kind::connection) break;
        log::warn("msg=\"management query lost its connection\" error=\"{}\"", result->message);
        conn.reset();
    }
    {
        std::lock_guard lock(mutex_);
        --lent_;
        if (conn.ok()) idle_.push_back(std::move(conn));
    }
    available_.notify_one();
    return result;
}

}  // namespace switchboard::manage
