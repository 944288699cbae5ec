#include "support/test_db.hpp"

#include "switchboard/store/migrations.hpp"
#include "switchboard/store/pg.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::test {
namespace {

store::pg_connection connect(const std::string& url) {
    std::string error;
    auto c = store::pg_connection::connect(url, std::chrono::seconds(10), error);
    EXPECT_TRUE(c.has_value()) << error;
    return c ? std::move(*c) : store::pg_connection{};
}

TEST(Migrations, ApplyOnceAndRecordEachFile) {
    test_db db;
    db.migrate();
    db.migrate();  // idempotent
    EXPECT_EQ(db.scalar("SELECT count(*) FROM switchboard_migrations"),
              std::to_string(store::embedded_migrations().size()));
    EXPECT_EQ(db.scalar("SELECT to_regclass('call_events') IS NOT NULL"), "t");
    EXPECT_EQ(db.scalar("SELECT to_regclass('calls') IS NOT NULL"), "t");
}

TEST(Migrations, SecondRunAppliesNothing) {
    test_db db;
    auto conn = connect(db.url());
    const auto first = store::migrate(conn, store::embedded_migrations());
    ASSERT_EQ(first.size(), store::embedded_migrations().size());
    EXPECT_EQ(first.front(), "001_calls_and_events.sql");
    const auto second = store::migrate(conn, store::embedded_migrations());
    EXPECT_TRUE(second.empty());
    // The recorded checksum is the SHA-256 of the file's text (64 hex digits).
    EXPECT_EQ(db.scalar("SELECT min(length(checksum)) FROM switchboard_migrations"), "64");
}

// Several replicas starting together: every migration must run exactly once. The second
// migration appends a row, so a double application is visible, and a concurrent CREATE TABLE
// without the advisory lock would make some migrators throw.
TEST(Migrations, ConcurrentMigratorsApplyEachMigrationExactlyOnce) {
    test_db db;
    const std::vector<store::migration> list = {
        {"001_counter.sql", "CREATE TABLE applied_counter (n int NOT NULL)"},
        {"002_bump.sql", "SELECT pg_sleep(0.05); INSERT INTO applied_counter VALUES (1)"},
        {"003_more.sql",
         "CREATE TABLE later_table (x int); INSERT INTO applied_counter VALUES (2)"},
    };
    constexpr int k_threads = 8;
    std::vector<store::pg_connection> conns;
    for (int i = 0; i < k_threads; ++i) conns.push_back(connect(db.url()));
    std::barrier sync(k_threads);
    std::atomic<int> applied_total{0};
    std::atomic<int> failures{0};
    std::vector<std::string> errors(k_threads);
    std::vector<std::thread> threads;
    for (int i = 0; i < k_threads; ++i) {
        threads.emplace_back([&, i] {
            sync.arrive_and_wait();
            try {
                applied_total += static_cast<int>(store::migrate(conns[i], list).size());
            } catch (const std::exception& e) {
                ++failures;
                errors[i] = e.what();
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0) << errors[0] << errors[1];
    EXPECT_EQ(applied_total.load(), 3);
    EXPECT_EQ(db.scalar("SELECT count(*) FROM switchboard_migrations"), "3");
    EXPECT_EQ(db.scalar("SELECT string_agg(n::text, ',' ORDER BY n) FROM applied_counter"), "1,2");
}

TEST(Migrations, ConcurrentMigratorsOfTheRealSchemaAllSucceed) {
    test_db db;
    constexpr int k_threads = 4;
    std::vector<store::pg_connection> conns;
    for (int i = 0; i < k_threads; ++i) conns.push_back(connect(db.url()));
    std::barrier sync(k_threads);
    std::atomic<int> applied_total{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < k_threads; ++i) {
        threads.emplace_back([&, i] {
            sync.arrive_and_wait();
            try {
                applied_total +=
                    static_cast<int>(store::migrate(conns[i], store::embedded_migrations()).size());
            } catch (const std::exception&) {
                ++failures;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(applied_total.load(), static_cast<int>(store::embedded_migrations().size()));
}

// A table `t` whose migration 002 needs a lock that another session (`holder_`) holds: ACCESS
// SHARE, in a transaction left open, as a long read of a running replica during a rolling
// deploy would.
class MigrationLocks : public ::testing::Test {
  protected:
    void SetUp() override {
        store::migrate(conn_, {list_[0]});
        ASSERT_FALSE(holder_.exec("BEGIN"));
        ASSERT_FALSE(holder_.exec("SELECT count(*) FROM t"));  // ACCESS SHARE until COMMIT
    }

    test_db db_;
    const std::vector<store::migration> list_ = {
        {"001_t.sql", "CREATE TABLE t (x int); INSERT INTO t VALUES (1)"},
        {"002_alter.sql", "ALTER TABLE t ADD COLUMN y int"},
    };
    store::pg_connection conn_ = connect(db_.url());
    store::pg_connection holder_ = connect(db_.url());
};

// The migration waits for the lock in attempts of lock_timeout. Meanwhile the table's other
// users are not held up behind it for longer than that, and it is applied once the lock is free.
TEST_F(MigrationLocks, AMigrationWaitingForALockDoesNotHoldUpTheTablesOtherUsers) {
    using namespace std::chrono_literals;
    std::vector<std::string> applied;
    std::string failure;
    std::jthread migrator([&] {  // (joined on the way out, also after a failed ASSERT)
        try {
            applied = store::migrate(conn_, list_,
                                     {.lock_timeout = 200ms, .pause = 100ms, .give_up_after = 30s});
        } catch (const std::exception& e) {
            failure = e.what();
        }
    });
    for (int i = 0;
         i < 200 && db_.scalar("SELECT count(*) FROM pg_stat_activity WHERE"
                               " wait_event_type = 'Lock' AND query LIKE 'ALTER TABLE t%'") == "0";
         ++i) {
        std::this_thread::sleep_for(10ms);
    }
    ASSERT_EQ(db_.scalar("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                         " AND query LIKE 'ALTER TABLE t%'"),
              "1")
        << "the migration never waited for the lock: the test tests nothing";
    auto reader = connect(db_.url());
    ASSERT_FALSE(reader.exec("SET statement_timeout = '3s'"));
    for (int i = 0; i < 5; ++i) {
        const auto e = reader.exec("SELECT count(*) FROM t");
        EXPECT_FALSE(e) << "a reader was held up behind the waiting migration: " << e->message;
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_FALSE(holder_.exec("COMMIT"));
    migrator.join();
    EXPECT_EQ(failure, "");
    EXPECT_EQ(applied, std::vector<std::string>{"002_alter.sql"});
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 't'"),
              "2");
}

// A lock that stays taken: the migration gives up after give_up_after, says why, and leaves
// nothing behind; a later start applies it.
TEST_F(MigrationLocks, AMigrationThatCannotTakeItsLockGivesUpSayingWhy) {
    using namespace std::chrono_literals;
    try {
        store::migrate(conn_, list_,
                       {.lock_timeout = 100ms, .pause = 100ms, .give_up_after = 600ms});
        FAIL() << "the migration did not give up";
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("002_alter.sql"), std::string::npos) << what;
        EXPECT_NE(what.find("could not take its locks"), std::string::npos) << what;
    }
    EXPECT_EQ(
        db_.scalar("SELECT count(*) FROM switchboard_migrations WHERE name = '002_alter.sql'"),
        "0");
    EXPECT_EQ(db_.scalar("SELECT pg_try_advisory_lock(7310594658609522)"), "t");
    EXPECT_EQ(db_.scalar("SELECT pg_advisory_unlock(7310594658609522)"), "t");
    EXPECT_FALSE(holder_.exec("COMMIT"));
    EXPECT_EQ(store::migrate(conn_, list_), std::vector<std::string>{"002_alter.sql"});
}

// A failure after a migration's own statements, inside its transaction (here its record in
// switchboard_migrations), rolls it back and releases the migration lock: another replica can
// migrate at once.
TEST(Migrations, AFailureInsideAMigrationsTransactionReleasesTheLock) {
    test_db db;
    auto conn = connect(db.url());
    EXPECT_THROW(store::migrate(conn, {{"001_hide.sql",
                                        "ALTER TABLE switchboard_migrations RENAME TO hidden"}}),
                 std::runtime_error);
    EXPECT_EQ(db.scalar("SELECT to_regclass('switchboard_migrations') IS NOT NULL"), "t");
    EXPECT_EQ(db.scalar("SELECT pg_try_advisory_lock(7310594658609522)"), "t");
    EXPECT_EQ(db.scalar("SELECT pg_advisory_unlock(7310594658609522)"), "t");
}

TEST(Migrations, ChangedChecksumIsRefused) {
    test_db db;
    auto conn = connect(db.url());
    store::migrate(conn, {{"001_a.sql", "CREATE TABLE a (x int)"}});
    try {
        store::migrate(conn, {{"001_a.sql", "CREATE TABLE a (x int, y int)"}});
        FAIL() << "a changed migration was accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("001_a.sql"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos) << e.what();
    }
    // Nothing of the changed text ran, and the advisory lock was released: another session
    // (another replica) can take it at once.
    EXPECT_EQ(db.scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'a'"),
              "1");
    EXPECT_EQ(db.scalar("SELECT pg_try_advisory_lock(7310594658609522)"), "t");
    EXPECT_EQ(db.scalar("SELECT pg_advisory_unlock(7310594658609522)"), "t");
}

// A database upgrades only if no applied migration changed: every file's text is pinned here.
// A new migration adds its line; an existing line never changes (a fix is a new migration).
TEST(Migrations, NoCommittedMigrationEverChanges) {
    const std::vector<std::pair<std::string_view, std::string_view>> pinned = {
        {"001_calls_and_events.sql",
         "e7d7f975614a63b05b8a9d473fcd8e0dfe58f1939369bbe7823a9f1a55ffbd85"},
        {"002_compact_messages.sql",
         "35cbf77cd7117887c7bf5959ed6188a43dbec8ed19ac1854fc545cb8a00800fd"},
        {"003_management.sql", "14d0827b8d5a514543d58004177f4024fb0d710c3bf06deea7bdcbb7b56689c3"},
        {"004_call_state.sql", "4d82c076dab91a84ad5a535dbe404ac2fd19635fd9aaba718c1b20422aee1bd9"},
        {"005_management_queries.sql",
         "1a61fe584c8c024de4b8df474e145e817cea4500762246c5661dc50feec19169"},
        {"006_event_retention.sql",
         "8b1fed5a69ce9c2200961d51af8db007032b71a7f6903f7a7dafbb356ae24825"},
        {"007_array_runs.sql", "9ac9d0bbc49790107fa59c1658c11e81d202cc3b6fe47946e3dd5c8f164ae2d1"},
        {"008_byte_order_ids.sql",
         "59e8b424b7f3c03519f907c58593975d7fcf0318fdd86e75dae95e9d467de8ae"},
        {"009_event_time_index.sql",
         "c09c26000edd3a9318f13256d25fa239ce26e6c8951373c54714e042afb45e27"},
        {"010_derive_pending.sql",
         "57dcadfb88cd03042975cc869d3730e5748081398fbbf04f1a3b5f37e507651a"},
        {"011_derive_generations.sql",
         "18cfe62b44396f07e717082c269f885a6f5d44d249087ccdc790149012ddec60"},
        {"012_calls_fillfactor.sql",
         "530932b84678910aa8efee96e4fd9f472273ec2ca7851632a1563daef52b5b92"},
        {"013_packed_refs.sql", "f380af599cc753189cbfa96cc19a98a8176ddea7ee419e6660413ae23a6e271e"},
        {"014_call_object_patches.sql",
         "1cd58424d9d7b65751708d5d5c7e03336559e1f22409830e5350a3077f7437f6"},
        {"015_conversation_view.sql",
         "f3a2c258db906b74246bf20e90b51b58683414c9191c0bb9ccdde20e8fcb55aa"},
        {"016_number_owned_since.sql",
         "8570d999d878bd41192b85e981f79886ae7db5e6ad6075d87dbe0b6a3d154818"},
        {"017_routing_notify_old_id.sql",
         "7d4401ff7ef9b862436c829e913687fc88e6112ef87b6df42e55049ee193131b"},
        {"018_early_call_state.sql",
         "e0650b03b0ba026366019676a4d5b3fe16c948341521d703bc26c73ba3763445"},
        {"019_routing_truncate_and_updated_at.sql",
         "0811ca687f85109fb7eba773a6c04b5472e42e18db0c05b20b7210ec7ba883be"},
        {"020_phone_number_secrets.sql",
         "c356be633dcc1979b27420095b92fd968c1b79b5e61cc8f640831d64b810e24e"},
        {"021_number_owner_change_and_call_json.sql",
         "d72fa812391d88c2fa977f54d19aed7c391034921e4754e6231e78b01a08f7a4"},
        {"022_calls_by_owner_in_list_order.sql",
         "36dbcb553692d5564f3a0ca4e54e945c7875de8857b9d71046cd954935226348"},
        {"023_fact_ranks_plain.sql",
         "5c0d56906aa1318bbe0c463dd6056668b99ecd9a71844c35204bcd667b3aa6f7"},
        {"024_call_state_input.sql",
         "69f0920bad6f735f32066848ab148d6d4a5263485e8e24337f39cd4063fe5df2"},
    };
    const auto& all = store::embedded_migrations();
    ASSERT_EQ(all.size(), pinned.size()) << "a new migration: pin its checksum here";
    for (std::size_t i = 0; i < all.size(); ++i) {
        EXPECT_EQ(all[i].name, pinned[i].first);
        EXPECT_EQ(store::migration_checksum(all[i].sql), pinned[i].second)
            << all[i].name << " changed after it was committed";
    }
}

// A database that applied the first text of 004 (2026-11-24, before it changed that day) is
// upgraded, and ends as a new one: 018 removes what that text left behind.
TEST(Migrations, ADatabaseOfAnEarlyTextOf004IsUpgraded) {
    std::ifstream in(SWITCHBOARD_INTEGRATION_DATA_DIR "/004_call_state.db5f210.sql",
                     std::ios::binary);
    ASSERT_TRUE(in) << "missing test data";
    const std::string early((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    test_db db;
    auto conn = connect(db.url());
    std::vector<store::migration> first;
    for (const auto& m : store::embedded_migrations()) {
        if (m.name.starts_with("004")) break;
        first.push_back(m);
    }
    store::migrate(conn, first);
    std::vector<store::migration> then = first;
    then.push_back({"004_call_state.sql", early});
    ASSERT_EQ(store::migrate(conn, then), std::vector<std::string>{"004_call_state.sql"});
    EXPECT_EQ(db.scalar("SELECT to_regprocedure('switchboard_apply_conversation(text,uuid,bigint)')"
                        " IS NOT NULL"),
              "t");

    const auto now = store::migrate(conn, store::embedded_migrations());
    EXPECT_EQ(now.size(), store::embedded_migrations().size() - 4);
    EXPECT_EQ(db.scalar("SELECT to_regprocedure('switchboard_apply_conversation(text,uuid,bigint)')"
                        " IS NOT NULL"),
              "f");
    EXPECT_EQ(db.scalar("SELECT to_regclass('call_events_received_at') IS NOT NULL"), "f");
    EXPECT_EQ(
        db.scalar("SELECT string_agg(attrelid::regclass || '.' || attname || '=' ||"
                  " attcompression::text, ',' ORDER BY attrelid::regclass::text) FROM pg_attribute"
                  " WHERE attrelid IN ('call_blobs'::regclass, 'call_events'::regclass)"
                  " AND attname IN ('body', 'skeleton')"),
        "call_blobs.body=l,call_events.skeleton=l");
    // Any other changed text is still refused.
    auto changed = store::embedded_migrations();
    const std::string other = std::string(changed[3].sql) + "\n-- changed\n";
    changed[3].sql = other;
    test_db fresh;
    auto c2 = connect(fresh.url());
    store::migrate(c2, store::embedded_migrations());
    EXPECT_THROW(store::migrate(c2, changed), std::runtime_error);
}

// 020 takes the provider secrets out of numbers mirrored before it, and leaves their
// updated_at (which decides between two rows of one number) and their route as they were.
TEST(Migrations, TheUpgradeTo020TakesTheSecretsOutOfMirroredNumbers) {
    test_db db;
    auto conn = connect(db.url());
    const auto& all = store::embedded_migrations();
    std::size_t upto = 0;
    while (upto < all.size() && all[upto].name < "020") ++upto;
    ASSERT_EQ(upto, 19u);
    store::migrate(conn, std::vector<store::migration>(all.begin(), all.begin() + upto));
    db.exec(R"(INSERT INTO phone_numbers (id, owner, provider, assistant_id, vapi, updated_at)
               VALUES ('twilio-1', 'alice', 'twilio', 'asst-1',
                       '{"id": "twilio-1", "twilioAccountSid": "AC1", "twilioAuthToken": "tok",
                         "twilioApiKey": "SK1", "twilioApiSecret": "sec"}',
                       timestamptz '2026-01-02 03:04:05+00'),
                      ('sip-1', 'bob', 'vapi', NULL,
                       '{"id": "sip-1", "authentication": {"username": "u", "password": "pw"}}',
                       timestamptz '2026-01-02 03:04:05+00'),
                      ('plain-1', 'bob', 'vapi', NULL, '{"id": "plain-1", "name": "n"}',
                       timestamptz '2026-01-02 03:04:05+00'))");
    store::migrate(conn, all);
    EXPECT_EQ(db.scalar("SELECT vapi::text FROM phone_numbers WHERE id = 'twilio-1'"),
              R"({"id": "twilio-1", "twilioApiKey": "SK1", "twilioAccountSid": "AC1"})");
    EXPECT_EQ(db.scalar("SELECT vapi::text FROM phone_numbers WHERE id = 'sip-1'"),
              R"({"id": "sip-1", "authentication": {"username": "u"}})");
    EXPECT_EQ(db.scalar("SELECT vapi::text FROM phone_numbers WHERE id = 'plain-1'"),
              R"({"id": "plain-1", "name": "n"})");
    EXPECT_EQ(db.scalar("SELECT count(*) FROM phone_numbers "
                        "WHERE updated_at = timestamptz '2026-01-02 03:04:05+00'"),
              "3");
    EXPECT_EQ(db.scalar("SELECT assistant_id FROM phone_numbers WHERE id = 'twilio-1'"), "asst-1");
    // The trigger that moves updated_at is on again after it.
    db.exec("UPDATE phone_numbers SET name = 'x' WHERE id = 'plain-1'");
    EXPECT_EQ(db.scalar("SELECT updated_at > now() - interval '1 minute' FROM phone_numbers "
                        "WHERE id = 'plain-1'"),
              "t");
}

TEST(Migrations, FailedMigrationIsRolledBackAndNotRecorded) {
    test_db db;
    auto conn = connect(db.url());
    const std::vector<store::migration> list = {
        {"001_ok.sql", "CREATE TABLE ok_table (x int)"},
        {"002_bad.sql", "CREATE TABLE half_done (x int); SELECT no_such_function()"},
    };
    EXPECT_THROW(store::migrate(conn, list), std::runtime_error);
    EXPECT_EQ(db.scalar("SELECT string_agg(name, ',') FROM switchboard_migrations"), "001_ok.sql");
    EXPECT_EQ(db.scalar("SELECT to_regclass('ok_table') IS NOT NULL"), "t");
    EXPECT_EQ(db.scalar("SELECT to_regclass('half_done') IS NULL"), "t");
    // The connection is still usable and the lock free: fixing the file lets the next run pass.
    const auto applied =
        store::migrate(conn, {list[0], {"002_bad.sql", "CREATE TABLE half_done (x int)"}});
    ASSERT_EQ(applied.size(), 1u);
    EXPECT_EQ(applied[0], "002_bad.sql");
}

// --- partitions --------------------------------------------------------------------------------

/// The expected monthly partition names for offsets [from, to] around the current UTC month.
std::string expected_partitions(test_db& db, int from, int to) {
    return db.scalar(
        "SELECT string_agg('call_events_' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC')"
        " + make_interval(months => i), 'YYYY_MM'), ',' ORDER BY i) FROM generate_series(" +
        std::to_string(from) + ", " + std::to_string(to) + ") AS i");
}

std::string monthly_partitions(test_db& db) {
    return db.scalar(
        "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'call_events'::regclass AND c.relname <> 'call_events_default'");
}

TEST(Partitions, MigrationCreatesMonthlyPartitionsAroundNow) {
    test_db db;
    db.migrate();
    const std::string expected = expected_partitions(db, -1, 3);
    ASSERT_FALSE(expected.empty());
    EXPECT_EQ(monthly_partitions(db), expected);
    EXPECT_EQ(db.scalar("SELECT to_regclass('call_events_default') IS NOT NULL"), "t");
    // Each partition covers exactly its UTC month.
    const std::string this_month =
        db.scalar("SELECT 'call_events_' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')");
    EXPECT_EQ(
        db.scalar("SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE relname = '" +
                  this_month + "'"),
        db.scalar("SELECT format('FOR VALUES FROM (%L) TO (%L)',"
                  " date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',"
                  " (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month')"
                  " AT TIME ZONE 'UTC')"));
}

TEST(Partitions, EnsureIsIdempotentAndExtendsAhead) {
    test_db db;
    db.migrate();
    db.exec("SELECT switchboard_ensure_event_partitions()");
    db.exec("SELECT switchboard_ensure_event_partitions()");
    EXPECT_EQ(monthly_partitions(db), expected_partitions(db, -1, 3));
    db.exec("SELECT switchboard_ensure_event_partitions(2, 6)");
    EXPECT_EQ(monthly_partitions(db), expected_partitions(db, -2, 6));
}

TEST(Partitions, RowsLandInTheirMonthOrTheDefaultPartition) {
    test_db db;
    db.migrate();
    db.exec(
        "INSERT INTO call_events (call_id, sent_at, dedupe_key, type, received_at, skeleton) VALUES"
        " ('now', now(), 'k1', 'hang', now(), '{}'),"
        " ('last-month', now() - interval '1 month', 'k2', 'hang', now(), '{}'),"
        " ('in-3-months', now() + interval '3 months', 'k3', 'hang', now(), '{}'),"
        " ('y2025', '2025-06-12T14:03:05Z', 'k4', 'hang', now(), '{}'),"
        " ('epoch', timestamptz 'epoch', 'k5', 'hang', now(), '{}')");
    auto partition_of = [&db](const std::string& id) {
        return db.scalar("SELECT tableoid::regclass::text FROM call_events WHERE call_id = '" + id +
                         "'");
    };
    EXPECT_EQ(partition_of("now"),
              db.scalar("SELECT 'call_events_' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')"));
    EXPECT_EQ(partition_of("last-month"),
              db.scalar("SELECT 'call_events_' || to_char((now() - interval '1 month') AT TIME "
                        "ZONE 'UTC', 'YYYY_MM')"));
    EXPECT_EQ(partition_of("in-3-months"),
              db.scalar("SELECT 'call_events_' || to_char((now() + interval '3 months') AT TIME "
                        "ZONE 'UTC', 'YYYY_MM')"));
    EXPECT_EQ(partition_of("y2025"), "call_events_default");
    EXPECT_EQ(partition_of("epoch"), "call_events_default");
}

// A month whose rows already sit in the default partition cannot get its own partition; the
// maintenance function must warn and go on with the other months, not fail.
TEST(Partitions, EnsureSkipsAMonthAlreadyInTheDefaultPartition) {
    test_db db;
    db.migrate();
    db.exec(
        "INSERT INTO call_events (call_id, sent_at, dedupe_key, type, received_at, skeleton) VALUES"
        " ('far', (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '5 months 3 days')"
        " AT TIME ZONE 'UTC', 'k', 'hang', now(), '{}')");
    db.exec("SELECT switchboard_ensure_event_partitions(1, 6)");
    const std::string blocked = db.scalar(
        "SELECT 'call_events_' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + "
        "interval '5 months', 'YYYY_MM')");
    const std::string partitions = monthly_partitions(db);
    EXPECT_EQ(partitions.find(blocked), std::string::npos) << partitions;
    const std::string after = db.scalar(
        "SELECT 'call_events_' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + "
        "interval '6 months', 'YYYY_MM')");
    EXPECT_NE(partitions.find(after), std::string::npos) << partitions;
    EXPECT_EQ(db.scalar("SELECT tableoid::regclass::text FROM call_events WHERE call_id = 'far'"),
              "call_events_default");
}

// Retention: months older than the ones kept are detached (rows and table survive, outside
// call_events), the kept months and the default partition stay, and the function refuses to
// detach the months a late duplicate may still need.
TEST(Partitions, DetachKeepsRecentMonthsAndTheDefault) {
    test_db db;
    db.migrate();
    db.exec("SELECT switchboard_ensure_event_partitions(5, 3)");
    db.exec(
        "INSERT INTO call_events (call_id, sent_at, dedupe_key, type, received_at, skeleton) VALUES"
        " ('old', now() - interval '4 months', 'k', 'hang', now(), '{}'),"
        " ('new', now(), 'k', 'hang', now(), '{}')");
    const std::string detached = db.scalar(
        "SELECT string_agg(p, ',' ORDER BY p) FROM switchboard_detach_event_partitions(2) AS p");
    EXPECT_EQ(detached, expected_partitions(db, -5, -3));
    EXPECT_EQ(monthly_partitions(db), expected_partitions(db, -2, 3));
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events"), "1");
    const std::string four_back = db.scalar(
        "SELECT 'call_events_' || to_char((now() - interval '4 months') AT TIME ZONE 'UTC',"
        " 'YYYY_MM')");
    EXPECT_EQ(db.scalar("SELECT count(*) FROM " + four_back), "1");  // kept, detached
    EXPECT_EQ(db.scalar("SELECT count(*) FROM switchboard_detach_event_partitions(2)"), "0");
    std::string error;
    auto conn = store::pg_connection::connect(db.url(), std::chrono::seconds(5), error);
    ASSERT_TRUE(conn) << error;
    const auto refused = conn->exec("SELECT switchboard_detach_event_partitions(0)");
    ASSERT_TRUE(refused);
    EXPECT_NE(refused->message.find("keep_months"), std::string::npos) << refused->message;
}

}  // namespace
}  // namespace switchboard::test
