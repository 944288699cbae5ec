#include "switchboard/store/routing_listener.hpp"

#include "switchboard/base/log.hpp"
#include "switchboard/base/thread_name.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>
#include <vector>

namespace switchboard::store {
namespace {

constexpr const char* k_columns =
    "SELECT id, number, assistant_id, workflow_id, squad_id, "
    "(extract(epoch FROM updated_at) * 1000000)::bigint FROM phone_numbers";

/// More announced ids than this in one go: reload the whole table instead.
constexpr std::size_t k_max_partial = 256;

std::string text_of(const PGresult* res, int row, int col) {
    if (PQgetisnull(res, row, col) != 0) return {};
    return {PQgetvalue(res, row, col), static_cast<std::size_t>(PQgetlength(res, row, col))};
}

ingest::phone_route row_of(const PGresult* res, int row) {
    ingest::phone_route r;
    r.phone_number_id = text_of(res, row, 0);
    r.number = text_of(res, row, 1);
    // At most one route per row (CHECK constraint); the first non-empty one wins regardless.
    const ingest::route::kind kinds[] = {ingest::route::kind::assistant,
                                         ingest::route::kind::workflow, ingest::route::kind::squad};
    for (int k = 0; k < 3; ++k) {
        std::string id = text_of(res, row, 2 + k);
        if (!id.empty()) {
            r.target = ingest::route{kinds[k], std::move(id)};
            break;
        }
    }
    r.updated_us = std::strtoll(PQgetvalue(res, row, 5), nullptr, 10);
    return r;
}

std::string trimmed(const char* message) {
    std::string s = message != nullptr ? message : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

routing_listener::routing_listener(const config::store_config& cfg, ingest::routing_table& table,
                                   metrics::registry& reg)
    : cfg_(cfg),
      table_(table),
      numbers_(prometheus::BuildGauge()
                   .Name("switchboard_routing_numbers")
                   .Help("Phone numbers with a route in the in-memory routing table")
                   .Register(reg.prom())
                   .Add({})),
      connected_gauge_(prometheus::BuildGauge()
                           .Name("switchboard_routing_connected")
                           .Help("1 while the routing table listens for changes in Postgres")
                           .Register(reg.prom())
                           .Add({})),
      reloads_(prometheus::BuildCounter()
                   .Name("switchboard_routing_reloads_total")
                   .Help("Reloads of the routing table from phone_numbers: all rows (start-up, "
                         "reconnection) or the rows a notification named")
                   .Register(reg.prom())),
      full_reloads_(reloads_.Add({{"kind", "full"}})),
      partial_reloads_(reloads_.Add({{"kind", "changed_rows"}})) {
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

routing_listener::~routing_listener() {
    stop();
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

bool routing_listener::start() {
    const bool loaded = connect_and_load();
    thread_ = std::thread([this] {
        base::name_this_thread("sb-routing");
        run();
    });
    return loaded;
}

void routing_listener::stop() {
    stop_.store(true);
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
    if (thread_.joinable()) thread_.join();
}

void routing_listener::pause(std::chrono::milliseconds d) {
    pollfd p{wake_fd_, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(d.count()));
}

bool routing_listener::connect_and_load() {
    connected_ = false;
    connected_gauge_.Set(0);
    std::string error;
    auto c = pg_connection::connect(cfg_.database_url, cfg_.connect_timeout, error);
    if (!c) {
        log::warn("msg=\"routing table: cannot connect to Postgres\" error=\"{}\"", error);
        return false;
    }
    conn_ = std::move(*c);
    // LISTEN before reading, so that no change falls between the read and the subscription.
    if (auto e = conn_.exec("LISTEN switchboard_routing")) {
        log::warn("msg=\"routing table: LISTEN failed\" error=\"{}\"", e->message);
        conn_.reset();
        return false;
    }
    pending_.clear();
    if (!reload({})) {
        conn_.reset();
        return false;
    }
    connected_ = true;
    connected_gauge_.Set(1);
    log::info("msg=\"routing table loaded\" numbers_with_route={}", table_.size());
    return true;
}

bool routing_listener::reload(const std::set<std::string>& ids) {
    const bool full = ids.empty() || ids.size() > k_max_partial;
    pg_result res(nullptr, &PQclear);
    if (full) {
        res.reset(PQexec(conn_.get(), k_columns));
    } else {
        std::string sql = std::string(k_columns) + " WHERE id IN (";
        std::vector<const char*> params;
        params.reserve(ids.size());
        for (const auto& id : ids) {
            sql += (params.empty() ? "$" : ",$") + std::to_string(params.size() + 1);
            params.push_back(id.c_str());
        }
        sql += ')';
        res.reset(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(params.size()), nullptr,
                               params.data(), nullptr, nullptr, 0));
    }
    if (!res || PQresultStatus(res.get()) != PGRES_TUPLES_OK) {
        log::warn("msg=\"routing table: reading phone_numbers failed\" error=\"{}\"",
                  trimmed(res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn_.get())));
        return false;
    }
    if (full) {
        rows_.clear();
    } else {
        for (const auto& id : ids) rows_.erase(id);  // deleted rows come back as no row
    }
    for (int i = 0, n = PQntuples(res.get()); i < n; ++i) {
        auto row = row_of(res.get(), i);
        rows_[row.phone_number_id] = std::move(row);
    }
    (full ? full_reloads_ : partial_reloads_).Increment();
    publish();
    return true;
}

void routing_listener::publish() {
    std::vector<ingest::phone_route> rows;
    rows.reserve(rows_.size());
    for (const auto& [id, row] : rows_) rows.push_back(row);
    table_.replace(rows);
    numbers_.Set(static_cast<double>(table_.size()));
}

void routing_listener::drain_notifications() {
    while (PGnotify* n = PQnotifies(conn_.get())) {
        pending_.insert(n->extra != nullptr ? n->extra : "");
        PQfreemem(n);
    }
}

bool routing_listener::wait_for_input() {
    pollfd fds[2] = {{PQsocket(conn_.get()), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (fds[0].fd < 0) return false;
    const int n = ::poll(fds, 2, -1);
    if (n < 0) return errno == EINTR;
    if ((fds[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
        if (PQconsumeInput(conn_.get()) != 1 || PQstatus(conn_.get()) != CONNECTION_OK) {
            log::warn("msg=\"routing table: connection lost\" error=\"{}\"",
                      trimmed(PQerrorMessage(conn_.get())));
            return false;
        }
    }
    return true;
}

void routing_listener::run() {
    std::chrono::milliseconds backoff{50};
    while (!stop_) {
        if (!conn_.ok()) {
            connected_ = false;
            connected_gauge_.Set(0);
            if (!connect_and_load()) {
                pause(backoff);
                backoff =
                    std::min(backoff * 2, std::chrono::milliseconds(cfg_.reconnect_max_backoff));
                continue;
            }
            backoff = std::chrono::milliseconds(50);
            // A change committed while the table was read was announced during the read, and
            // libpq holds its notification already: the socket will not say so. So no wait.
        } else if (!wait_for_input()) {
            conn_.reset();
            continue;
        }
        drain_notifications();
        while (!pending_.empty() && !stop_) {
            // An empty payload cannot name a row: reload everything.
            std::set<std::string> ids;
            ids.swap(pending_);
            if (ids.count("") != 0) ids.clear();
            if (!reload(ids)) {
                conn_.reset();
                break;
            }
            drain_notifications();  // announced while the reload ran
        }
    }
    connected_ = false;
    connected_gauge_.Set(0);
}

}  // namespace switchboard::store
