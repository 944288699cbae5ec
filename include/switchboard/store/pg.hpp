#pragma once
/// A thin RAII layer over one blocking libpq connection, used by one thread at a time (a batch
/// writer, the migrator). Errors come back as values, classified so the caller can decide
/// between reconnecting, retrying and refusing the data.

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace switchboard::store {

struct pg_error {
    enum class kind {
        connection,  ///< the connection is gone or unusable: reconnect and retry
        transient,   ///< deadlock or serialization failure: retry the transaction
        data,        ///< the data itself was refused (SQLSTATE class 22, 23, 54): never retry
        other,       ///< anything else (schema missing, permissions, disk full): back off, retry
    };
    kind what = kind::other;
    std::string sqlstate;
    std::string message;
};

/// Owning PGresult.
using pg_result = std::unique_ptr<PGresult, decltype(&PQclear)>;

/// `text` with every occurrence of the password of connection string `url` (URI or key/value)
/// replaced by "***": libpq's messages may quote it (an invalid percent-encoding, say), and
/// they go to logs. `connect`'s error has it applied already.
std::string redact_password(std::string text, std::string_view url);

class pg_connection {
  public:
    pg_connection() = default;

    /// Connects to `url` (a libpq URI or key=value string). Our defaults (application_name,
    /// connect and TCP timeouts) come first so that anything in `url` overrides them.
    static std::optional<pg_connection> connect(const std::string& url,
                                                std::chrono::seconds timeout, std::string& error);

    bool ok() const { return conn_ && PQstatus(conn_.get()) == CONNECTION_OK; }
    PGconn* get() const { return conn_.get(); }
    void reset() {
        conn_.reset();
        in_flight_ = 0;
    }

    /// Runs one or more statements (simple query protocol); the results of all are checked.
    /// `affected` receives the row count of the first statement that reports one.
    std::optional<pg_error> exec(const char* sql, long* affected = nullptr);

    /// Runs `sql` and returns its (single) result for reading; errors as exec.
    std::optional<pg_error> query(const char* sql, pg_result& out);

    /// Runs `sql` with `params` ($1, $2, … in text format; nullptr is NULL) through the
    /// extended protocol (values are never part of the SQL text) and returns its result.
    std::optional<pg_error> query_params(const char* sql, std::span<const char* const> params,
                                         pg_result& out);

    /// COPY … FROM STDIN with `data` in COPY text format.
    std::optional<pg_error> copy_in(const char* copy_sql, std::string_view data);

    /// Prepares the named statement `sql` (extended protocol) for `run_pipeline`.
    std::optional<pg_error> prepare(const char* name, const char* sql);

    /// A prepared statement and its parameters: text format and NUL-terminated when `lengths`
    /// and `formats` are empty, else as PQsendQueryPrepared takes them (1: binary).
    struct pipelined {
        const char* statement;
        std::span<const char* const> params;
        std::span<const int> lengths = {};
        std::span<const int> formats = {};
    };

    /// Sends `queries` as one pipeline ending with a Sync: one round trip, and one implicit
    /// transaction, committed at the Sync when every query succeeded and rolled back otherwise.
    /// `affected` receives the row count of the first query. Returns the first error.
    std::optional<pg_error> run_pipeline(std::span<const pipelined> queries, long* affected);

    /// The two halves of run_pipeline, so that a second transaction can be sent before the
    /// first one's results are read (the server runs them one after the other; their results
    /// come back in order). send_pipeline sends `queries` and a Sync; read_pipeline reads the
    /// results of the oldest transaction sent (`queries` statements) up to its Sync. A
    /// connection error in either resets the connection: then no transaction in flight has a
    /// known outcome.
    std::optional<pg_error> send_pipeline(std::span<const pipelined> queries);
    std::optional<pg_error> read_pipeline(std::size_t queries, long* affected);
    /// Transactions sent and not yet read.
    std::size_t in_flight() const noexcept { return in_flight_; }

  private:
    std::optional<pg_error> error_from(const PGresult* res) const;

    std::unique_ptr<PGconn, decltype(&PQfinish)> conn_{nullptr, &PQfinish};
    std::size_t in_flight_ = 0;
};

}  // namespace switchboard::store
