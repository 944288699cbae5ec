// An acknowledgement means the webhook is on disk, not only committed. Checked against the WAL
// itself: right after each 200 the test reads how far Postgres has flushed its WAL; afterwards it
// finds the commit record of the transaction that inserted each webhook's row (pg_walinspect),
// which must lie within what was flushed when its 200 came. The dedicated server's WAL writer is
// slowed to its longest delay, so that nothing but the service's own commits moves the flush
// position during the test. The check fails when acknowledgements do not wait for a flush: for
// all 60 webhooks with the writer's session set to synchronous_commit = off (checked by hand),
// and for a flusher connection tried in session 8 (bench/analysis.md) whose flush was `SELECT
// pg_current_xact_id()`, a commit that writes no WAL but its own commit record, which Postgres
// does not wait for.
#include "support/e2e.hpp"
#include "support/pg_cluster.hpp"
#include "support/service_process.hpp"
#include "support/test_db.hpp"
#include "support/webhooks.hpp"

#include "switchboard/store/pg.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdint>
#include <map>

namespace switchboard::test {
namespace {

/// "16/B374D848" → 0x16B374D848.
std::uint64_t lsn_value(const std::string& text) {
    const auto slash = text.find('/');
    if (slash == std::string::npos) return 0;
    return (std::stoull(text.substr(0, slash), nullptr, 16) << 32) |
           std::stoull(text.substr(slash + 1), nullptr, 16);
}

TEST(Durability, EveryAcknowledgementComesAfterTheWalFlushThatCoversItsCommit) {
    pg_cluster pg("-c wal_writer_delay=10000 -c wal_writer_flush_after=1GB");
    ASSERT_TRUE(pg.started()) << pg.log();
    service_process svc({.env = service_env(pg.url())});
    ASSERT_NE(svc.port(), 0);

    std::string error;
    auto conn = store::pg_connection::connect(pg.url(), std::chrono::seconds(5), error);
    ASSERT_TRUE(conn) << error;
    ASSERT_FALSE(conn->exec("CREATE EXTENSION IF NOT EXISTS pg_walinspect"));
    auto scalar = [&](const char* sql) {
        store::pg_result res(nullptr, &PQclear);
        const auto e = conn->query(sql, res);
        EXPECT_FALSE(e) << sql << ": " << (e ? e->message : "");
        return !e && PQntuples(res.get()) == 1 ? std::string(PQgetvalue(res.get(), 0, 0))
                                               : std::string();
    };
    const std::string start = scalar("SELECT pg_current_wal_insert_lsn()");

    // One webhook at a time, each answered before the next is sent; the flush position is read
    // (a read-only query: it flushes nothing itself) as soon as the 200 is in.
    constexpr int k_webhooks = 60;
    std::map<std::string, std::uint64_t> flushed_at_ack;
    http_client client("127.0.0.1", svc.port());
    for (int i = 0; i < k_webhooks; ++i) {
        const std::string id = "durable-" + std::to_string(i);
        const auto reply = client.post("/receive", small_webhook(id), secret_headers());
        ASSERT_EQ(reply.status, 200u) << id << ": " << reply.body << reply.error;
        flushed_at_ack[id] = lsn_value(scalar("SELECT pg_current_wal_flush_lsn()"));
    }
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();

    // pg_walinspect reads only flushed WAL: a synchronous commit that wrote WAL flushes it all.
    ASSERT_FALSE(conn->exec("SELECT pg_logical_emit_message(true, 'test', '')"));
    store::pg_result res(nullptr, &PQclear);
    const char* sql =
        "SELECT e.call_id, max(w.end_lsn)::text FROM call_events e "
        "JOIN pg_get_wal_records_info($1::pg_lsn, pg_current_wal_flush_lsn()) w "
        "ON w.xid = e.xmin AND w.resource_manager = 'Transaction' AND w.record_type = 'COMMIT' "
        "WHERE e.call_id LIKE 'durable-%' GROUP BY e.call_id";
    const char* params[] = {start.c_str()};
    ASSERT_FALSE(conn->query_params(sql, params, res));
    ASSERT_EQ(PQntuples(res.get()), k_webhooks)
        << "a webhook's row or its commit record is missing";
    int late = 0;
    for (int r = 0; r < PQntuples(res.get()); ++r) {
        const std::string id = PQgetvalue(res.get(), r, 0);
        const std::uint64_t commit_end = lsn_value(PQgetvalue(res.get(), r, 1));
        ASSERT_TRUE(flushed_at_ack.count(id)) << id;
        if (commit_end > flushed_at_ack[id] && ++late <= 5) {
            ADD_FAILURE() << id
                          << " was acknowledged before its commit was flushed: commit ends at "
                          << PQgetvalue(res.get(), r, 1) << ", flushed " << std::hex
                          << flushed_at_ack[id];
        }
    }
    EXPECT_EQ(late, 0) << "of " << k_webhooks << " webhooks";
}

}  // namespace
}  // namespace switchboard::test
