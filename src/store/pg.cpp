#include "switchboard/store/pg.hpp"

#include <cstdlib>
#include <string>

namespace switchboard::store {

namespace {

/// The password of a connection string, URI ("postgresql://user:pw@host/db") or key/value
/// ("password=pw" or "password='p w'"); empty when it has none. Read as written, not decoded:
/// libpq's messages quote it that way (e.g. an invalid percent-encoding).
std::string password_of(std::string_view url) {
    if (const auto scheme = url.find("://"); scheme != std::string_view::npos) {
        const std::string_view rest = url.substr(scheme + 3);
        const auto at = rest.find('@');
        if (at == std::string_view::npos) return {};
        const std::string_view userinfo = rest.substr(0, at);
        const auto colon = userinfo.find(':');
        return colon == std::string_view::npos ? std::string{}
                                               : std::string(userinfo.substr(colon + 1));
    }
    const auto key = url.find("password");
    if (key == std::string_view::npos) return {};
    std::string_view v = url.substr(key + 8);
    while (!v.empty() && (v.front() == ' ' || v.front() == '=')) v.remove_prefix(1);
    if (!v.empty() && v.front() == '\'') {
        v.remove_prefix(1);
        return std::string(v.substr(0, v.find('\'')));
    }
    return std::string(v.substr(0, v.find(' ')));
}

}  // namespace

std::string redact_password(std::string text, std::string_view url) {
    const std::string password = password_of(url);
    if (password.empty()) return text;
    for (auto at = text.find(password); at != std::string::npos; at = text.find(password, at + 3)) {
        text.replace(at, password.size(), "***");
    }
    return text;
}

std::optional<pg_connection> pg_connection::connect(const std::string& url,
                                                    std::chrono::seconds timeout,
                                                    std::string& error) {
    const std::string connect_timeout = std::to_string(timeout.count());
    // Keywords before "dbname" are defaults; the expanded URL overrides them.
    const char* keys[] = {
        "application_name", "connect_timeout",  "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "dbname",          nullptr};
    const char* values[] = {
        "switchboard", connect_timeout.c_str(), "10", "5", "3", "15000", url.c_str(), nullptr};
    pg_connection c;
    c.conn_.reset(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
    if (!c.conn_ || PQstatus(c.conn_.get()) != CONNECTION_OK) {
        error = c.conn_ ? PQerrorMessage(c.conn_.get()) : "out of memory";
        while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) error.pop_back();
        error = redact_password(error, url);
        return std::nullopt;
    }
    return c;
}

std::optional<pg_error> pg_connection::error_from(const PGresult* res) const {
    const ExecStatusType st = res != nullptr ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN ||
        st == PGRES_EMPTY_QUERY) {
        return std::nullopt;
    }
    pg_error e;
    const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    e.sqlstate = state != nullptr ? state : "";
    e.message = res != nullptr ? PQresultErrorMessage(res) : PQerrorMessage(conn_.get());
    if (e.message.empty() && conn_) e.message = PQerrorMessage(conn_.get());
    while (!e.message.empty() && (e.message.back() == '\n' || e.message.back() == ' ')) {
        e.message.pop_back();
    }
    const std::string_view cls =
        std::string_view(e.sqlstate).substr(0, std::min<std::size_t>(2, e.sqlstate.size()));
    // Class 57 is the server ending the session (shutdown, termination), except 57014: a
    // statement cancelled (statement_timeout) on a connection that is still there.
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK || cls == "08" ||
        (cls == "57" && e.sqlstate != "57014") || e.sqlstate.empty()) {
        // No SQLSTATE means libpq itself failed (lost connection, protocol error).
        e.what = pg_error::kind::connection;
    } else if (e.sqlstate == "40001" || e.sqlstate == "40P01") {
        e.what = pg_error::kind::transient;
    } else if (cls == "22" || cls == "23" || cls == "54") {
        // 54: a program limit the data ran into (an index entry over its size, JSON nested
        // beyond the stack): the same row fails every time, like the data errors proper.
        e.what = pg_error::kind::data;
    } else {
        e.what = pg_error::kind::other;
    }
    return e;
}

std::optional<pg_error> pg_connection::exec(const char* sql, long* affected) {
    if (!conn_) return pg_error{pg_error::kind::connection, {}, "not connected"};
    if (PQsendQuery(conn_.get(), sql) != 1) return error_from(nullptr);
    std::optional<pg_error> first_error;
    bool counted = affected == nullptr;
    while (PGresult* raw = PQgetResult(conn_.get())) {
        pg_result res(raw, &PQclear);
        if (auto e = error_from(res.get()); e && !first_error) first_error = std::move(e);
        if (!counted && !first_error) {
            const char* n = PQcmdTuples(res.get());
            if (n != nullptr && *n != '\0') {
                *affected = std::strtol(n, nullptr, 10);
                counted = true;
            }
        }
    }
    if (!first_error && PQstatus(conn_.get()) != CONNECTION_OK) return error_from(nullptr);
    return first_error;
}

std::optional<pg_error> pg_connection::query_params(const char* sql,
                                                    std::span<const char* const> params,
                                                    pg_result& out) {
    if (!conn_) return pg_error{pg_error::kind::connection, {}, "not connected"};
    out.reset(PQexecParams(conn_.get(), sql, static_cast<int>(params.size()), nullptr,
                           params.data(), nullptr, nullptr, 0));
    return error_from(out.get());
}

std::optional<pg_error> pg_connection::query(const char* sql, pg_result& out) {
    if (!conn_) return pg_error{pg_error::kind::connection, {}, "not connected"};
    out.reset(PQexec(conn_.get(), sql));
    return error_from(out.get());
}

std::optional<pg_error> pg_connection::copy_in(const char* copy_sql, std::string_view data) {
    if (!conn_) return pg_error{pg_error::kind::connection, {}, "not connected"};
    {
        pg_result start(PQexec(conn_.get(), copy_sql), &PQclear);
        if (!start || PQresultStatus(start.get()) != PGRES_COPY_IN) return error_from(start.get());
    }
    // PQputCopyData may buffer; large buffers are sent in pieces to bound libpq's own copy.
    constexpr std::size_t k_chunk = 1u << 20;
    bool sent = true;
    for (std::size_t off = 0; off < data.size() && sent; off += k_chunk) {
        const std::size_t n = std::min(k_chunk, data.size() - off);
        sent = PQputCopyData(conn_.get(), data.data() + off, static_cast<int>(n)) == 1;
    }
    if (PQputCopyEnd(conn_.get(), sent ? nullptr : "switchboard: sending COPY data failed") != 1) {
        return error_from(nullptr);
    }
    std::optional<pg_error> first_error;
    while (PGresult* raw = PQgetResult(conn_.get())) {
        pg_result res(raw, &PQclear);
        if (auto e = error_from(res.get()); e && !first_error) first_error = std::move(e);
    }
    return first_error;
}

std::optional<pg_error> pg_connection::prepare(const char* name, const char* sql) {
    if (!conn_) return pg_error{pg_error::kind::connection, {}, "not connected"};
    pg_result res(PQprepare(conn_.get(), name, sql, 0, nullptr), &PQclear);
    return error_from(res.get());
}

std::optional<pg_error> pg_connection::run_pipeline(std::span<const pipelined> queries,
                                                    long* affected) {
    if (auto e = send_pipeline(queries)) return e;
    return read_pipeline(queries.size(), affected);
}

std::optional<pg_error> pg_connection::send_pipeline(std::span<const pipelined> queries) {
    if (!conn_) return pg_error{pg_error::kind::connection, {}, "not connected"};
    PGconn* c = conn_.get();
    auto lost = [&] {
        // Nothing more can be read reliably: the connection is unusable.
        auto e = error_from(nullptr);
        e->what = pg_error::kind::connection;
        reset();
        return e;
    };
    if (PQpipelineStatus(c) == PQ_PIPELINE_OFF && PQenterPipelineMode(c) != 1) return lost();
    for (const auto& q : queries) {
        if (PQsendQueryPrepared(c, q.statement, static_cast<int>(q.params.size()), q.params.data(),
                                q.lengths.empty() ? nullptr : q.lengths.data(),
                                q.formats.empty() ? nullptr : q.formats.data(), 0) != 1) {
            // Queries already queued cannot be taken back; with others in flight the outcome of
            // the whole pipeline is unknown.
            return lost();
        }
    }
    if (PQpipelineSync(c) != 1) return lost();
    ++in_flight_;
    return std::nullopt;
}

std::optional<pg_error> pg_connection::read_pipeline(std::size_t queries, long* affected) {
    if (!conn_ || in_flight_ == 0) {
        return pg_error{pg_error::kind::connection, {}, "no transaction in flight"};
    }
    PGconn* c = conn_.get();
    std::optional<pg_error> first_error;
    // Each query's results end with a NULL; after an error the rest are PIPELINE_ABORTED.
    for (std::size_t i = 0; i < queries; ++i) {
        while (PGresult* raw = PQgetResult(c)) {
            pg_result res(raw, &PQclear);
            if (PQresultStatus(raw) == PGRES_PIPELINE_ABORTED) continue;
            if (auto e = error_from(raw); e && !first_error) first_error = std::move(e);
            if (i == 0 && affected != nullptr && !first_error) {
                const char* n = PQcmdTuples(raw);
                if (n != nullptr && *n != '\0') *affected = std::strtol(n, nullptr, 10);
            }
        }
        if (PQstatus(c) != CONNECTION_OK) break;
    }
    bool synced = false;
    for (int nulls = 0; nulls < 4 && PQstatus(c) == CONNECTION_OK;) {
        PGresult* raw = PQgetResult(c);
        if (raw == nullptr) {
            ++nulls;  // a query boundary left over after an error; the sync result follows
            continue;
        }
        const ExecStatusType st = PQresultStatus(raw);
        PQclear(raw);
        if (st == PGRES_PIPELINE_SYNC) {
            synced = true;
            break;
        }
    }
    if (synced) --in_flight_;
    if (!synced || (in_flight_ == 0 && PQexitPipelineMode(c) != 1)) {
        if (!first_error || first_error->what != pg_error::kind::connection) {
            first_error = pg_error{pg_error::kind::connection, {}, PQerrorMessage(c)};
        }
        reset();
    }
    return first_error;
}

}  // namespace switchboard::store
