// How pg_connection classifies Postgres' errors, against a real server: the writers and the
// management pool retry or give up by this.
#include "support/test_db.hpp"

#include "switchboard/store/pg.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace switchboard::test {
namespace {

// A statement cancelled by statement_timeout (57014) on a connection that is still there is not
// a lost connection: retrying it as one would run it again (and time out again).
TEST(PgConnection, AStatementTimeoutIsNotALostConnection) {
    test_db db;
    std::string error;
    auto c = store::pg_connection::connect(db.url(), std::chrono::seconds(10), error);
    ASSERT_TRUE(c) << error;
    ASSERT_FALSE(c->exec("SET statement_timeout = 50"));
    const auto e = c->exec("SELECT pg_sleep(2)");
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->sqlstate, "57014");
    EXPECT_EQ(e->what, store::pg_error::kind::other) << e->message;
    EXPECT_FALSE(c->exec("SELECT 1"));  // still connected

    // Ended by the server (57P01, admin_shutdown): that one is a lost connection.
    auto other = store::pg_connection::connect(db.url(), std::chrono::seconds(10), error);
    ASSERT_TRUE(other) << error;
    const std::string pid = [&] {
        store::pg_result res(nullptr, &PQclear);
        EXPECT_FALSE(other->query("SELECT pg_backend_pid()", res));
        return std::string(PQgetvalue(res.get(), 0, 0));
    }();
    EXPECT_EQ(db.scalar("SELECT pg_terminate_backend(" + pid + ")"), "t");
    const auto gone = other->exec("SELECT 1");
    ASSERT_TRUE(gone.has_value());
    EXPECT_EQ(gone->what, store::pg_error::kind::connection) << gone->sqlstate << gone->message;
}

}  // namespace
}  // namespace switchboard::test
