#include "support/test_db.hpp"

#include "switchboard/store/migrations.hpp"

#include <gtest/gtest.h>

namespace switchboard::test {
namespace {

TEST(Migrations, ApplyOnceAndRecordEachFile) {
    test_db db;
    db.migrate();
    db.migrate();  // idempotent
    EXPECT_EQ(db.scalar("SELECT count(*) FROM switchboard_migrations"),
              std::to_string(store::embedded_migrations().size()));
    EXPECT_EQ(db.scalar("SELECT to_regclass('call_events') IS NOT NULL"), "t");
    EXPECT_EQ(db.scalar("SELECT to_regclass('calls') IS NOT NULL"), "t");
}

}  // namespace
}  // namespace switchboard::test
