// The command line: --help, refusal of bad settings with exit code 2 and a message naming the
// setting, and `switchboard migrate`.
#include "support/e2e.hpp"
#include "support/http_client.hpp"
#include "support/service_process.hpp"
#include "support/test_db.hpp"

#include "switchboard/store/migrations.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <tuple>

namespace switchboard::test {
namespace {

using namespace std::chrono_literals;

TEST(Cli, HelpExits0AndListsEveryEnvironmentVariable) {
    for (const char* flag : {"--help", "-h"}) {
        const auto [code, output] = run_binary({flag}, {});
        EXPECT_EQ(code, 0) << flag << ": " << output;
        EXPECT_NE(output.find("Usage: switchboard"), std::string::npos) << output;
        EXPECT_NE(output.find("migrate"), std::string::npos) << output;
        for (const char* var : {"DATABASE_URL",
                                "SWITCHBOARD_LISTEN",
                                "SWITCHBOARD_PORT_FILE",
                                "SWITCHBOARD_IO_THREADS",
                                "SWITCHBOARD_MAX_BODY_BYTES",
                                "SWITCHBOARD_MAX_HEADER_BYTES",
                                "SWITCHBOARD_IDLE_TIMEOUT_MS",
                                "SWITCHBOARD_READ_TIMEOUT_MS",
                                "SWITCHBOARD_WRITE_TIMEOUT_MS",
                                "SWITCHBOARD_WEBHOOK_SECRET",
                                "SWITCHBOARD_WEBHOOK_SECRET_HEADER",
                                "SWITCHBOARD_WEBHOOK_BEARER_TOKEN",
                                "SWITCHBOARD_HMAC_SECRET",
                                "SWITCHBOARD_HMAC_MAX_SKEW_S",
                                "SWITCHBOARD_ALLOW_UNAUTHENTICATED",
                                "SWITCHBOARD_QUEUE_CAPACITY",
                                "SWITCHBOARD_QUEUE_MAX_BYTES",
                                "SWITCHBOARD_ACK_TIMEOUT_MS",
                                "SWITCHBOARD_RETRY_AFTER_S",
                                "SWITCHBOARD_WRITERS",
                                "SWITCHBOARD_BATCH_MAX_ROWS",
                                "SWITCHBOARD_BATCH_MAX_DELAY_US",
                                "SWITCHBOARD_SHUTDOWN_TIMEOUT_S",
                                "SWITCHBOARD_LOG_LEVEL"}) {
            EXPECT_NE(output.find(var), std::string::npos) << flag << " does not mention " << var;
        }
    }
}

TEST(Cli, VersionExits0) {
    const auto [code, output] = run_binary({"--version"}, {});
    EXPECT_EQ(code, 0);
    EXPECT_EQ(output.rfind("switchboard ", 0), 0u) << output;
}

struct bad_setting {
    std::vector<std::string> args;
    env_list env;
    std::string must_mention;
};

TEST(Cli, BadValuesExitWith2AndNameTheSetting) {
    const env_list good = {{"DATABASE_URL", "postgresql://postgres@127.0.0.1:1/x"},
                           {"SWITCHBOARD_WEBHOOK_SECRET", "s"}};
    auto with = [&good](env_list extra) {
        env_list env = good;
        env.insert(env.end(), extra.begin(), extra.end());
        return env;
    };
    const bad_setting cases[] = {
        {{}, with({{"SWITCHBOARD_WRITERS", "-1"}}), "SWITCHBOARD_WRITERS"},
        {{"--writers", "abc"}, good, "--writers"},
        {{"--listen", "nohost"}, good, "--listen"},
        {{}, with({{"SWITCHBOARD_LISTEN", "127.0.0.1:70000"}}), "SWITCHBOARD_LISTEN"},
        {{}, with({{"SWITCHBOARD_QUEUE_CAPACITY", "0"}}), "SWITCHBOARD_QUEUE_CAPACITY"},
        {{}, with({{"SWITCHBOARD_READ_TIMEOUT_MS", "5"}}), "SWITCHBOARD_READ_TIMEOUT_MS"},
        {{}, with({{"SWITCHBOARD_MAX_BODY_BYTES", "12abc"}}), "SWITCHBOARD_MAX_BODY_BYTES"},
        {{}, with({{"SWITCHBOARD_HMAC_ALGORITHM", "md5"}}), "SWITCHBOARD_HMAC_ALGORITHM"},
        {{}, with({{"SWITCHBOARD_LOG_LEVEL", "loud"}}), "SWITCHBOARD_LOG_LEVEL"},
        {{},
         with({{"SWITCHBOARD_ALLOW_UNAUTHENTICATED", "maybe"}}),
         "SWITCHBOARD_ALLOW_UNAUTHENTICATED"},
        {{},
         with({{"SWITCHBOARD_WEBHOOK_SECRET_HEADER", ""}}),
         "SWITCHBOARD_WEBHOOK_SECRET_HEADER"},
        {{},
         with({{"SWITCHBOARD_HMAC_SECRET", "k"}, {"SWITCHBOARD_HMAC_PAYLOAD_FORMAT", "{body}"}}),
         "SWITCHBOARD_HMAC_PAYLOAD_FORMAT"},
        {{"--no-such-flag"}, good, "--help"},
        {{}, {{"SWITCHBOARD_WEBHOOK_SECRET", "s"}}, "DATABASE_URL"},
    };
    for (const auto& c : cases) {
        const auto started = std::chrono::steady_clock::now();
        const auto [code, output] = run_binary(c.args, c.env);
        SCOPED_TRACE(output);
        EXPECT_EQ(code, 2) << c.must_mention;
        EXPECT_NE(output.find("invalid configuration"), std::string::npos);
        EXPECT_NE(output.find(c.must_mention), std::string::npos) << c.must_mention;
        // Refused at once: no attempt to reach the (unreachable) database first.
        EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    }
}

// The configuration accepts a host name in --listen; the listener must then bind it.
TEST(Cli, ListenAcceptsAHostName) {
    test_db db;
    service_process svc({.env = service_env(db.url(), {{"SWITCHBOARD_LISTEN", "localhost:0"}})});
    ASSERT_NE(svc.port(), 0) << svc.log();
    const bool v4 = svc.log().find("addr=127.0.0.1:") != std::string::npos;
    http_client client(v4 ? "127.0.0.1" : "::1", svc.port(), 5s);
    EXPECT_EQ(client.get("/healthz").status, 200u) << svc.log();
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(Cli, ListenOnABusyPortFailsNamingTheSetting) {
    test_db db;
    service_process first({.env = service_env(db.url())});
    ASSERT_NE(first.port(), 0);
    const std::string busy = "127.0.0.1:" + std::to_string(first.port());
    const auto [code, output] = run_binary({"--listen", busy}, service_env(db.url()));
    EXPECT_EQ(code, 1) << output;
    EXPECT_NE(output.find("cannot listen on " + busy), std::string::npos) << output;
    EXPECT_NE(output.find("SWITCHBOARD_LISTEN"), std::string::npos) << output;
    EXPECT_NE(output.find("in use"), std::string::npos) << output;
    EXPECT_TRUE(first.running());
    EXPECT_EQ(first.stop(SIGTERM), 0) << first.log();
}

TEST(Cli, FlagWinsOverEnvironment) {
    // The environment value is bad, the flag good: the service must start (and answer).
    test_db db;
    service_process svc({.env = service_env(db.url(), {{"SWITCHBOARD_WRITERS", "-1"}}),
                         .args = {"--writers", "1"}});
    ASSERT_NE(svc.port(), 0) << svc.log();
    EXPECT_EQ(wait_for_status(svc.port(), "/healthz", 200, 5s), 200u);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(Cli, MigrateAppliesTheSchemaAndExits0) {
    test_db db;
    // No webhook authentication is needed to migrate.
    auto [code, output] = run_binary({"migrate"}, {{"DATABASE_URL", db.url()}});
    EXPECT_EQ(code, 0) << output;
    EXPECT_NE(output.find("migration applied"), std::string::npos) << output;
    EXPECT_EQ(db.scalar("SELECT count(*) FROM switchboard_migrations"),
              std::to_string(store::embedded_migrations().size()));
    EXPECT_EQ(db.scalar("SELECT to_regclass('call_events') IS NOT NULL AND to_regclass('calls') IS "
                        "NOT NULL"),
              "t");
    std::tie(code, output) = run_binary({"migrate"}, {{"DATABASE_URL", db.url()}});
    EXPECT_EQ(code, 0) << output;
    EXPECT_NE(output.find("applied_now=0"), std::string::npos) << output;
    EXPECT_EQ(db.scalar("SELECT count(*) FROM switchboard_migrations"),
              std::to_string(store::embedded_migrations().size()));
}

TEST(Cli, MigrateFailsClearlyWhenPostgresIsUnreachable) {
    const auto started = std::chrono::steady_clock::now();
    const auto [code, output] =
        run_binary({"migrate"}, {{"DATABASE_URL", "postgresql://postgres@127.0.0.1:1/x"},
                                 {"SWITCHBOARD_PG_STARTUP_WAIT_S", "1"},
                                 {"SWITCHBOARD_PG_CONNECT_TIMEOUT_S", "1"}});
    EXPECT_EQ(code, 1) << output;
    EXPECT_NE(output.find("cannot connect to Postgres"), std::string::npos) << output;
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

TEST(Cli, ServeGivesUpWhenPostgresNeverComesUp) {
    const auto started = std::chrono::steady_clock::now();
    const auto [code, output] =
        run_binary({}, {{"DATABASE_URL", "postgresql://postgres@127.0.0.1:1/x"},
                        {"SWITCHBOARD_WEBHOOK_SECRET", "s"},
                        {"SWITCHBOARD_LISTEN", "127.0.0.1:0"},
                        {"SWITCHBOARD_PG_STARTUP_WAIT_S", "1"},
                        {"SWITCHBOARD_PG_CONNECT_TIMEOUT_S", "1"}});
    EXPECT_EQ(code, 1) << output;
    EXPECT_NE(output.find("cannot connect to Postgres"), std::string::npos) << output;
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

}  // namespace
}  // namespace switchboard::test
