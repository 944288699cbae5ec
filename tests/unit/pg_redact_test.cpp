// libpq's connection errors may quote the connection string's password (an invalid
// percent-encoding, say); what the service logs must not.
#include "switchboard/store/pg.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

namespace switchboard::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(PgRedact, AConnectionErrorDoesNotShowThePassword) {
    std::string error;
    const auto c = store::pg_connection::connect(
        "postgresql://postgres:DB%zPASS-SENTINEL@127.0.0.1:1/app", std::chrono::seconds(2), error);
    ASSERT_FALSE(c.has_value());
    EXPECT_THAT(error, HasSubstr("percent"));  // libpq's own message, about the password
    EXPECT_THAT(error, Not(HasSubstr("SENTINEL")));
    EXPECT_THAT(error, HasSubstr("***"));
}

TEST(PgRedact, BothFormsOfConnectionString) {
    EXPECT_EQ(store::redact_password("bad: p%zw", "postgresql://u:p%zw@h/db"), "bad: ***");
    EXPECT_EQ(store::redact_password("x 'p w' y", "host=h password='p w' dbname=d"), "x '***' y");
    EXPECT_EQ(store::redact_password("x pw y", "host=h password=pw dbname=d"), "x *** y");
    EXPECT_EQ(store::redact_password("no secret here", "postgresql://u@h/db"), "no secret here");
}

}  // namespace
}  // namespace switchboard::test
