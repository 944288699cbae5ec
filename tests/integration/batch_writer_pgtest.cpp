// The batch writer against a real Postgres: what it stores, deduplication, the forward-only
// merge of `calls`, isolation of a refused event, draining on stop, giving up when the database
// is unreachable, and reconnection.
#include "support/events.hpp"
#include "support/examples.hpp"
#include "support/test_db.hpp"
#include "support/webhooks.hpp"

#include "switchboard/base/clock.hpp"
#include "switchboard/ingest/parse.hpp"
#include "switchboard/metrics/registry.hpp"
#include "switchboard/store/batch_writer.hpp"
#include "switchboard/store/export.hpp"
#include "switchboard/store/migrations.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <random>
#include <set>
#include <thread>

namespace switchboard::test {
namespace {

namespace json = boost::json;

using namespace std::chrono_literals;
using ingest::ack_status;
using steady = std::chrono::steady_clock;

/// An event whose message bytes are not JSON at all, so Postgres refuses the jsonb value
/// (the parser would never let such a body through; this simulates any data error).
ingest::event make_bad_event(const std::string& call_id) {
    ingest::event ev;
    ev.body = R"({"message": nope})";
    ev.body.reserve(ev.body.size() + 64);
    ev.message_offset = static_cast<std::uint32_t>(ev.body.find("nope"));
    ev.message_length = 4;
    ev.type_name = "hang";
    ev.type = vapi::message_type::hang;
    ev.call_id = call_id;
    ev.timestamp_ms = 1749737004100;
    ev.dedupe_key = "hang|1749737004100|bad";
    ev.received_us = base::unix_micros();
    return ev;
}

std::string example(const std::string& name) {
    return example_file(name);
}

/// SQL dollar-quoted literal.
std::string lit(const std::string& text) {
    return "$sbq$" + text + "$sbq$";
}

boost::asio::awaitable<void> wait_for_ack(std::shared_ptr<ingest::ack_slot> slot, ack_status* out) {
    *out = co_await slot->wait(10'000ms);
}

/// Ack slots on a private io_context, as a connection would hold them.
class ack_watch {
  public:
    std::shared_ptr<ingest::ack_slot> add() {
        auto slot = std::make_shared<ingest::ack_slot>(ioc_.get_executor());
        slot->arm();
        slots_.push_back(slot);
        return slot;
    }
    /// Runs the waiters; call after the writer has completed the events.
    std::vector<ack_status> collect() {
        std::vector<ack_status> out(slots_.size(), ack_status::pending);
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            boost::asio::co_spawn(ioc_, wait_for_ack(slots_[i], &out[i]), boost::asio::detached);
        }
        ioc_.run_for(15s);
        return out;
    }
    const ingest::ack_slot& slot(std::size_t i) const { return *slots_[i]; }

  private:
    boost::asio::io_context ioc_;
    std::vector<std::shared_ptr<ingest::ack_slot>> slots_;
};

/// Runs `writer.run` on a thread; `finish` sets stop (with a give-up deadline) and joins with a
/// bound, aborting the whole test binary if the writer hangs (a hang is the bug under test).
class writer_thread {
  public:
    explicit writer_thread(store::batch_writer& w) {
        thread_ = std::thread([this, &w] {
            given_up_ = w.run(stop_, give_up_after_);
            done_ = true;
        });
    }
    ~writer_thread() {
        if (thread_.joinable()) finish(steady::duration::zero(), 30s);
    }
    std::size_t finish(steady::duration give_up_in, steady::duration bound) {
        give_up_after_ = (steady::now() + give_up_in).time_since_epoch().count();
        stop_ = true;
        const auto deadline = steady::now() + bound;
        while (!done_.load() && steady::now() < deadline) std::this_thread::sleep_for(5ms);
        if (!done_.load()) {
            std::fprintf(stderr, "batch_writer::run did not return after stop: hang\n");
            std::abort();
        }
        thread_.join();
        return given_up_;
    }

  private:
    std::atomic<bool> stop_{false};
    std::atomic<steady::rep> give_up_after_{0};
    std::atomic<bool> done_{false};
    std::size_t given_up_ = 0;
    std::thread thread_;
};

class BatchWriter : public ::testing::Test {
  protected:
    void SetUp() override {
        db_.migrate();
        cfg_.database_url = db_.url();
        cfg_.batch_max_rows = 64;
        cfg_.batch_max_delay = 1ms;
        cfg_.connect_timeout = 2s;
        cfg_.reconnect_max_backoff = 100ms;
    }

    std::unique_ptr<store::batch_writer> make_writer(unsigned id = 0) {
        return std::make_unique<store::batch_writer>(id, cfg_, queue_, metrics_);
    }
    std::unique_ptr<store::batch_writer> connected_writer() {
        auto w = make_writer();
        std::string error;
        EXPECT_TRUE(w->connect(error)) << error;
        return w;
    }

    long write(store::batch_writer& w, std::vector<ingest::event>& events) {
        long inserted = -1;
        auto e = w.write_once(events, inserted);
        EXPECT_FALSE(e) << e->message;
        // The derived call state (the calls row) is applied on its own, later
        // (--derive-delay-ms); the tests read it right after each batch.
        if (!e) {
            auto f = w.flush_derived();
            EXPECT_FALSE(f) << f->message;
        }
        return inserted;
    }
    long write(store::batch_writer& w, ingest::event ev) {
        std::vector<ingest::event> one;
        one.push_back(std::move(ev));
        return write(w, one);
    }

    void push(ingest::event ev) { ASSERT_TRUE(queue_.try_push(ev)); }

    /// A connection to `db` with the migrations before the one named `first` applied (the
    /// schema an older service left); none on failure.
    static std::optional<store::pg_connection> migrated_before(test_db& db,
                                                               std::string_view first) {
        std::string error;
        auto conn = store::pg_connection::connect(db.url(), 5s, error);
        EXPECT_TRUE(conn) << error;
        if (!conn) return std::nullopt;
        std::vector<store::migration> older;
        for (const auto& m : store::embedded_migrations()) {
            if (m.name >= first) break;
            older.push_back(m);
        }
        EXPECT_EQ(older.size(), static_cast<std::size_t>(std::stoi(std::string(first)) - 1));
        store::migrate(*conn, older);
        return conn;
    }

    /// Writes every example body in one batch with a fresh writer; returns their events.
    std::vector<ingest::event> write_examples() {
        auto w = connected_writer();
        std::vector<ingest::event> batch;
        const auto examples = webhook_examples();
        for (const auto& ex : examples) batch.push_back(make_event(ex.body));
        EXPECT_EQ(write(*w, batch), static_cast<long>(examples.size()));
        return batch;
    }

    /// Runs the writer on the queue until it is empty, then stops it; nothing may be given up.
    void run_until_drained(store::batch_writer& w) {
        writer_thread t(w);
        const auto deadline = steady::now() + 10s;
        while (queue_.depth() != 0 && steady::now() < deadline) std::this_thread::sleep_for(5ms);
        EXPECT_EQ(t.finish(10s, 20s), 0u);
    }

    /// Queues one event per id, each the example `files[i]` under that call id, except the second,
    /// which Postgres refuses (make_bad_event); runs a writer until the queue is drained and
    /// checks that exactly the second was rejected and the others committed.
    void run_with_second_refused(const std::vector<std::string>& ids,
                                 const std::vector<std::string>& files, ack_watch& acks) {
        auto w = connected_writer();
        for (std::size_t i = 0; i < ids.size(); ++i) {
            ingest::event ev = i == 1 ? make_bad_event(ids[i])
                                      : make_event(with_call_id(example(files[i]), ids[i]));
            ev.ack = acks.add();
            push(std::move(ev));
        }
        run_until_drained(*w);
        std::vector<ack_status> expected(ids.size(), ack_status::committed);
        expected[1] = ack_status::rejected;
        EXPECT_EQ(acks.collect(), expected);
    }

    double metric(std::string_view series) {
        return metric_value(registry_.serialize(), series).value_or(-1);
    }

    std::string call_row(const std::string& id) {
        return db_.scalar(
            "SELECT (status, status_rank, ended_reason, cost, created_at, started_at, ended_at,"
            " assistant_id, phone_number_id, customer_number, org_id, type)::text FROM calls"
            " WHERE id = " +
            lit(id));
    }

    /// Ends the writer's Postgres session from outside, as a server restart or a proxy would,
    /// and waits until the backend is gone.
    void terminate_writer_sessions() {
        const auto pids = db_.column(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = 'switchboard' AND pid <> pg_backend_pid()");
        ASSERT_EQ(pids.size(), 1u) << "expected exactly the writer's session";
        EXPECT_EQ(db_.scalar("SELECT pg_terminate_backend(" + pids[0] + ")"), "t");
        const auto deadline = steady::now() + 5s;
        while (steady::now() < deadline &&
               db_.scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pids[0]) != "0") {
            std::this_thread::sleep_for(10ms);
        }
    }

    test_db db_;
    config::store_config cfg_;
    config::queue_config qcfg_;
    ingest::event_queue queue_{qcfg_};
    metrics::registry registry_;
    store::store_metrics metrics_{registry_};
};

// --- what is stored ----------------------------------------------------------------------------

TEST_F(BatchWriter, StoresEveryColumnOfAnEvent) {
    auto w = connected_writer();
    const std::string body = example("02-status-update-queued.json");
    const std::int64_t received_us = 1'764'000'000'123'456;
    ingest::event ev = make_event(body, received_us);
    const std::string key = ev.dedupe_key;
    ASSERT_EQ(write(*w, std::move(ev)), 1);

    EXPECT_EQ(db_.scalar("SELECT count(*) FROM call_events"), "1");
    const std::string where =
        " FROM call_events WHERE call_id = '7c1e4f0a-3b9d-4e62-9a51-2f8d6c0b71e4'";
    EXPECT_EQ(db_.scalar("SELECT dedupe_key" + where), key);
    EXPECT_EQ(key, "status-update|1749736985730|queued");
    EXPECT_EQ(db_.scalar("SELECT type" + where), "status-update");
    EXPECT_EQ(db_.scalar("SELECT vapi_timestamp" + where), "1749736985730");
    EXPECT_EQ(db_.scalar("SELECT sent_at = timestamptz 'epoch' + 1749736985730 * interval '1 ms'" +
                         where),
              "t");
    EXPECT_EQ(db_.scalar("SELECT (extract(epoch FROM received_at) * 1000000)::bigint" + where),
              std::to_string(received_us));
    EXPECT_EQ(db_.scalar("SELECT org_id" + where), "b2f6d3a1-8e47-4c09-bf3e-5a9e12c7d804");
    EXPECT_EQ(db_.count_stored("7c1e4f0a-3b9d-4e62-9a51-2f8d6c0b71e4", message_json(body)), 1);
    EXPECT_EQ(db_.scalar("SELECT received_bytes" + where), std::to_string(body.size()));
    // A June 2025 message lands in the default partition (partitions exist around now only).
    EXPECT_EQ(db_.scalar("SELECT tableoid::regclass::text" + where), "call_events_default");
}

TEST_F(BatchWriter, MessageWithoutTimestampIsStoredAtTheEpoch) {
    auto w = connected_writer();
    ASSERT_EQ(write(*w, make_event(R"({"message":{"type":"hang","call":{"id":"no-ts"}}})")), 1);
    EXPECT_EQ(db_.scalar("SELECT (sent_at = timestamptz 'epoch', vapi_timestamp IS NULL, org_id IS "
                         "NULL)::text FROM call_events WHERE call_id = 'no-ts'"),
              "(t,t,t)");
}

TEST_F(BatchWriter, EveryExampleIsStoredJsonEqualToItsMessage) {
    const auto examples = webhook_examples();
    const auto batch = write_examples();
    for (std::size_t i = 0; i < examples.size(); ++i) {
        SCOPED_TRACE(examples[i].name);
        EXPECT_EQ(
            db_.scalar("SELECT count(*) FROM call_events WHERE call_id = " + lit(batch[i].call_id) +
                       " AND dedupe_key = " + lit(batch[i].dedupe_key) +
                       " AND type = " + lit(batch[i].type_name)),
            "1");
        EXPECT_EQ(db_.count_stored(batch[i].call_id, message_json(examples[i].body)), 1);
    }
}

TEST_F(BatchWriter, RefsArePackedAndReadBackAsTheirJson) {
    auto batch = write_examples();
    // An update whose arrays are empty: refs without a hash.
    const std::string empty =
        R"({"message":{"type":"conversation-update","timestamp":1749736990000,)"
        R"("call":{"id":"empty-conversation"},"messages":[],"messagesOpenAIFormatted":[]}})";
    {
        auto w = connected_writer();
        ingest::event ev = make_event(empty);
        batch.push_back(ev);
        ASSERT_EQ(write(*w, std::move(ev)), 1);
    }
    EXPECT_TRUE(store::refs_json(batch.back())
                    .ends_with(R"("messages":null,"messagesOpenAIFormatted":null})"))
        << store::refs_json(batch.back());
    EXPECT_EQ(db_.count_stored("empty-conversation", message_json(empty)), 1);
    std::size_t with_refs = 0;
    for (const auto& ev : batch) {
        SCOPED_TRACE(ev.type_name);
        const std::string where = " FROM call_events WHERE call_id = " + lit(ev.call_id) +
                                  " AND dedupe_key = " + lit(ev.dedupe_key);
        EXPECT_EQ(db_.scalar("SELECT (refs IS NULL)::text" + where), "true");
        const std::string json = store::refs_json(ev);
        if (json.empty()) {
            EXPECT_EQ(db_.scalar("SELECT (refs_packed IS NULL)::text" + where), "true");
            continue;
        }
        ++with_refs;
        EXPECT_EQ(db_.scalar("SELECT octet_length(refs_packed)" + where),
                  std::to_string(17 * ev.refs.size()));
        EXPECT_EQ(db_.scalar("SELECT switchboard_refs(refs_packed)::text" + where),
                  db_.scalar("SELECT " + lit(json) + "::jsonb::text"));
    }
    EXPECT_GT(with_refs, 10u);
}

namespace {

/// A status update whose `call` object says `status` and has `extra` members.
std::string status_update(std::int64_t timestamp, const std::string& status,
                          const std::string& extra) {
    return R"({"message":{"type":"status-update","timestamp":)" + std::to_string(timestamp) +
           R"(,"status":")" + status + R"(","call":{"id":"patched","orgId":"org-1",)" +
           R"("type":"inboundPhoneCall","assistantId":"asst-1","status":")" + status + "\"" +
           extra +
           R"(,"createdAt":"2026-12-01T10:00:00.000Z","monitor":{"listenUrl":)"
           R"("wss://example.invalid/listen/0123456789abcdef0123456789abcdef",)"
           R"("controlUrl":"https://example.invalid/control/0123456789abcdef0123456789abcdef"},)"
           R"("transport":{"provider":"twilio","callSid":"CA0123456789abcdef0123456789abcdef"}}}})";
}

}  // namespace

TEST_F(BatchWriter, LaterVersionsOfTheCallObjectAreStoredAsWhatChanged) {
    auto w = connected_writer();
    const std::string started = R"(,"startedAt":"2026-12-01T10:00:01.000Z")";
    const std::vector<std::string> bodies = {
        status_update(1000, "queued", ""),
        status_update(2000, "in-progress", started),
        status_update(
            3000, "ended",
            started + R"(,"endedAt":"2026-12-01T10:05:00.000Z","cost":0.12345678901234567890123)"),
    };
    ASSERT_EQ(write(*w, make_event(bodies[0])), 1);
    // Two versions in one batch: both go against the version committed before.
    std::vector<ingest::event> two;
    two.push_back(make_event(bodies[1]));
    two.push_back(make_event(bodies[2]));
    ASSERT_EQ(write(*w, two), 2);

    const std::string where = " FROM call_blobs WHERE call_id = 'patched'";
    EXPECT_EQ(db_.scalar("SELECT count(*) FILTER (WHERE base IS NULL) || ',' ||"
                         " count(*) FILTER (WHERE base IS NOT NULL)" +
                         where),
              "1,2");
    EXPECT_EQ(db_.scalar("SELECT string_agg(body::text, ' ' ORDER BY body::text)" + where +
                         " AND base IS NOT NULL"),
              R"({"cost": 0.12345678901234567890123, "status": "ended", "endedAt": )"
              R"("2026-12-01T10:05:00.000Z", "startedAt": "2026-12-01T10:00:01.000Z"} )"
              R"({"status": "in-progress", "startedAt": "2026-12-01T10:00:01.000Z"})");
    EXPECT_EQ(db_.scalar("SELECT count(*)" + where +
                         " AND base IS NOT NULL AND base = (SELECT"
                         " hash" +
                         where + " AND base IS NULL)"),
              "2");
    for (const auto& body : bodies) EXPECT_EQ(db_.count_stored("patched", message_json(body)), 1);

    // A version without a member of its base is stored whole (`||` cannot drop a member), and
    // the versions after it go against it.
    const auto without_monitor = [](std::string body) {
        const auto at = body.find(R"(,"monitor")");
        return body.erase(at, body.find(R"(,"transport")") - at);
    };
    const std::string dropped = without_monitor(status_update(4000, "ended", started));
    const std::string after = without_monitor(
        status_update(5000, "ended", started + R"(,"endedAt":"2026-12-01T10:06:00.000Z")"));
    ASSERT_EQ(write(*w, make_event(dropped)), 1);
    ASSERT_EQ(write(*w, make_event(after)), 1);
    EXPECT_EQ(db_.scalar("SELECT count(*) FILTER (WHERE base IS NULL) || ',' ||"
                         " count(*) FILTER (WHERE base IS NOT NULL)" +
                         where),
              "2,3");
    EXPECT_EQ(db_.scalar("SELECT body::text" + where + " AND base = (SELECT hash" + where +
                         " AND base IS NULL AND NOT body ? 'monitor')"),
              R"({"endedAt": "2026-12-01T10:06:00.000Z"})");
    for (const auto& body : {bodies[0], bodies[1], bodies[2], dropped, after})
        EXPECT_EQ(db_.count_stored("patched", message_json(body)), 1);
}

TEST_F(BatchWriter, PatchesOnPatchesResolveToTheWholeVersion) {
    // What two writers can leave: a version stored as a patch became another's base.
    db_.exec(
        "INSERT INTO call_blobs (call_id, hash, body, base) VALUES"
        " ('c', '00000000-0000-0000-0000-00000000000a', '{\"a\": 1, \"b\": 2}', NULL),"
        " ('c', '00000000-0000-0000-0000-00000000000b', '{\"b\": 3, \"c\": 4}',"
        "  '00000000-0000-0000-0000-00000000000a'),"
        " ('c', '00000000-0000-0000-0000-00000000000c', '{\"d\": [5]}',"
        "  '00000000-0000-0000-0000-00000000000b'),"
        " ('c', '00000000-0000-0000-0000-0000000000ff', '{\"e\": 6}',"
        "  '00000000-0000-0000-0000-0000000000ee'),"
        " ('other', '00000000-0000-0000-0000-00000000000a', '{\"z\": 0}', NULL)");
    EXPECT_EQ(db_.scalar("SELECT string_agg(hash::text || '=' || body::text, ' ' ORDER BY hash)"
                         " FROM switchboard_call_blobs('c')"),
              "00000000-0000-0000-0000-00000000000a={\"a\": 1, \"b\": 2} "
              "00000000-0000-0000-0000-00000000000b={\"a\": 1, \"b\": 3, \"c\": 4} "
              "00000000-0000-0000-0000-00000000000c={\"a\": 1, \"b\": 3, \"c\": 4, \"d\": [5]}");
}

// COPY text format escapes: tabs, newlines and backslashes inside and between JSON tokens, and
// non-ASCII text, must reach jsonb unchanged.
TEST_F(BatchWriter, EscapesSurviveTheCopyFormat) {
    auto w = connected_writer();
    const std::string body =
        "{\"message\":\t{\"type\":\"transcript\",\r\n\"timestamp\":1749736993950,"
        "\"call\":{\"id\":\"esc\\\\call\"},\n\"transcript\":\"tab\\there \\\"quoted\\\" "
        "back\\\\slash \\u00e9t\\u00e9 \xc3\xa9 \\ud83d\\ude00 line\\nbreak\"}}";
    ingest::event ev = make_event(body);
    EXPECT_EQ(ev.call_id, "esc\\call");
    ASSERT_EQ(write(*w, std::move(ev)), 1);
    EXPECT_EQ(db_.count_stored("esc\\call", message_json(body)), 1);
    EXPECT_EQ(
        db_.scalar("SELECT skeleton->>'transcript' FROM call_events"),
        "tab\there \"quoted\" back\\slash \xc3\xa9t\xc3\xa9 \xc3\xa9 \xf0\x9f\x98\x80 line\nbreak");
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM calls WHERE id = " + lit("esc\\call")), "1");
}

// --- deduplication -----------------------------------------------------------------------------

TEST_F(BatchWriter, DuplicateDedupeKeysAreStoredOnce) {
    auto w = connected_writer();
    const std::string queued = example("02-status-update-queued.json");
    const std::string ringing = example("03-status-update-ringing.json");
    std::vector<ingest::event> first;
    first.push_back(make_event(queued));
    first.push_back(make_event(queued));  // a duplicate in the same batch
    first.push_back(make_event(ringing));
    EXPECT_EQ(write(*w, first), 2);
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM call_events"), "2");

    EXPECT_EQ(write(*w, make_event(queued)), 0);  // across batches
    std::vector<ingest::event> second;
    second.push_back(make_event(ringing));
    second.push_back(make_event(example("04-status-update-in-progress.json")));
    EXPECT_EQ(write(*w, second), 1);
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM call_events"), "3");
    EXPECT_EQ(db_.scalar("SELECT string_agg(dedupe_key, ',' ORDER BY sent_at) FROM call_events"),
              "status-update|1749736985730|queued,status-update|1749736986570|ringing,"
              "status-update|1749736987535|in-progress");
}

// The dedupe key of an end-of-call-report leaves its timestamp out (a redelivery may carry a new
// one), and sent_at is part of call_events' key: the report must be filed under a time that is
// the same in every delivery (the call's end), or the redelivery is stored a second time.
TEST_F(BatchWriter, RedeliveredEndOfCallReportWithNewTimestampIsStoredOnce) {
    auto w = connected_writer();
    std::string report = example("12-end-of-call-report.json");
    EXPECT_EQ(write(*w, make_event(report)), 1);
    const auto at = report.find("1749737028100");
    ASSERT_NE(at, std::string::npos);
    report.replace(at, 13, "1749737031100");  // the same report, delivered 3 s later
    ingest::event again = make_event(report);
    EXPECT_EQ(write(*w, std::move(again)), 0);
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM call_events WHERE type = 'end-of-call-report'"),
              "1");
    // Filed under the call's end (message.endedAt), in every delivery.
    EXPECT_EQ(db_.scalar("SELECT sent_at = '2025-06-12T14:03:43.900Z' FROM call_events"), "t");
}

// Three different deliveries of one report in the same batch (one statement may touch a row only
// once, so the writer sends them in rounds): whatever their order, the row keeps the earliest,
// and only one row is new.
TEST_F(BatchWriter, DifferentDeliveriesInOneBatchKeepTheEarliestInAnyOrder) {
    auto w = connected_writer();
    const std::string report = example("12-end-of-call-report.json");
    const auto at = report.find("1749737028100");
    ASSERT_NE(at, std::string::npos);
    const std::string call = "7c1e4f0a-3b9d-4e62-9a51-2f8d6c0b71e4";
    auto delivery = [&](const std::string& timestamp, const std::string& call_id) {
        std::string body = report;
        body.replace(at, 13, timestamp);
        for (auto p = body.find(call); p != std::string::npos; p = body.find(call, p))
            body.replace(p, call.size(), call_id);
        return make_event(body);
    };
    const std::vector<std::array<const char*, 3>> orders = {
        {"1749737030100", "1749737028100", "1749737029100"},
        {"1749737029100", "1749737030100", "1749737028100"},
        {"1749737028100", "1749737029100", "1749737030100"}};
    for (std::size_t i = 0; i < orders.size(); ++i) {
        const std::string call_id = "00000000-0000-4000-8000-00000000000" + std::to_string(i);
        std::vector<ingest::event> batch;
        for (const char* ts : orders[i]) batch.push_back(delivery(ts, call_id));
        batch.push_back(delivery(orders[i][0], call_id));  // and one identical to the first
        EXPECT_EQ(write(*w, batch), 1) << "order " << i;
    }
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM call_events WHERE type = 'end-of-call-report'"),
              "3");
    EXPECT_EQ(db_.scalar("SELECT string_agg(DISTINCT vapi_timestamp::text, ',') FROM call_events"
                         " WHERE type = 'end-of-call-report'"),
              "1749737028100");
}

// Deliveries without a Vapi timestamp, and deliveries that differ only in a cut-out part (the
// `call` object's updatedAt), also keep one and the same row in either order, across batches
// too. Each order is written on a fresh database by a fresh writer, for the same call.
TEST_F(BatchWriter, DeliveriesWithoutTimestampOrDifferingInAPartKeepOneRowInAnyOrder) {
    const std::string report = example("12-end-of-call-report.json");
    auto delivery = [&](const std::string& expiry, const std::string& updated_at) {
        json::value v = json::parse(report);
        json::object& m = v.at("message").as_object();
        m.erase("timestamp");
        m.at("artifact").as_object()["presignedUrlsExpiresAt"] = expiry;
        m.at("call").as_object()["updatedAt"] = updated_at;
        return make_event(json::serialize(v));
    };
    const std::string a_exp = "2026-06-01T00:00:00Z", b_exp = "2026-06-02T00:00:00Z";
    const std::string a_upd = "2026-01-01T00:00:01Z", b_upd = "2026-01-01T00:00:02Z";
    std::vector<std::string> rows;
    for (int order = 0; order < 2; ++order) {
        db_.exec("TRUNCATE call_events, call_blobs, call_array_runs, calls, call_derive_pending");
        auto w = connected_writer();
        // First the expiry differs, then (with the earlier expiry) the call object.
        std::vector<ingest::event> first, second;
        first.push_back(delivery(order == 0 ? a_exp : b_exp, a_upd));
        second.push_back(delivery(order == 0 ? b_exp : a_exp, a_upd));
        EXPECT_EQ(write(*w, first), 1) << "order " << order;
        write(*w, second);
        EXPECT_EQ(db_.scalar("SELECT skeleton #>> '{artifact,presignedUrlsExpiresAt}'"
                             " FROM call_events"),
                  a_exp)
            << "order " << order;  // the earliest expiry
        std::vector<ingest::event> third, fourth;
        third.push_back(delivery(a_exp, order == 0 ? a_upd : b_upd));
        fourth.push_back(delivery(a_exp, order == 0 ? b_upd : a_upd));
        write(*w, third);
        write(*w, fourth);
        rows.push_back(db_.scalar("SELECT refs_packed::text FROM call_events"));
    }
    EXPECT_EQ(rows[0], rows[1]);  // the same call object in both orders
}

// A delivery identical to one committed cannot change its row (the row keeps the least of its
// deliveries): the writer answers it without a statement. Had Postgres seen it, ON CONFLICT DO
// UPDATE would have locked the row, setting its xmax to a new transaction's id, even though its
// WHERE keeps the row as it is.
TEST_F(BatchWriter, ARepeatOfACommittedDeliveryIsAnsweredWithoutAStatement) {
    const std::string report = example("12-end-of-call-report.json");
    const auto at = report.find("1749737028100");
    ASSERT_NE(at, std::string::npos);
    auto delivery = [&](const char* timestamp) {
        std::string body = report;
        body.replace(at, 13, timestamp);
        return make_event(body);
    };
    const std::string row =
        "SELECT vapi_timestamp || ' ' || xmin || ' ' || xmax FROM call_events"
        " WHERE type = 'end-of-call-report'";
    auto w = connected_writer();
    EXPECT_EQ(write(*w, delivery("1749737030100")), 1);
    EXPECT_EQ(write(*w, delivery("1749737028100")), 1);  // earlier: it replaces the row
    const std::string replaced = db_.scalar(row);
    EXPECT_TRUE(replaced.starts_with("1749737028100 ")) << replaced;

    // Both deliveries are committed: a repeat of either is answered without a statement.
    EXPECT_EQ(write(*w, delivery("1749737030100")), 0);
    EXPECT_EQ(write(*w, delivery("1749737028100")), 0);
    EXPECT_EQ(db_.scalar(row), replaced);

    // Through the queue (run), with its acknowledgement and its count.
    ack_watch acks;
    ingest::event again = delivery("1749737028100");
    again.ack = acks.add();
    push(std::move(again));
    run_until_drained(*w);
    EXPECT_EQ(acks.collect(), std::vector<ack_status>{ack_status::committed});
    EXPECT_EQ(metric("switchboard_events_repeat_total"), 1);
    EXPECT_EQ(metric("switchboard_events_duplicate_total"), 1);
    EXPECT_EQ(db_.scalar(row), replaced);

    // A writer that does not know the delivery sends it: Postgres locks the row and keeps it.
    auto fresh = connected_writer();
    EXPECT_EQ(write(*fresh, delivery("1749737028100")), 0);
    const std::string locked = db_.scalar(row);
    EXPECT_NE(locked, replaced);
    EXPECT_EQ(locked.substr(0, locked.rfind(' ')), replaced.substr(0, replaced.rfind(' ')));
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM call_events"), "1");
}

// A repeat of a delivery whose batch is still in flight is answered with that batch, without a
// row of its own. A BEFORE INSERT trigger counts the rows Postgres is sent (it fires before the
// ON CONFLICT check); with one event per batch, the repeat would otherwise be a second batch.
TEST_F(BatchWriter, ARepeatOfADeliveryInFlightIsAnsweredWithItsBatch) {
    db_.exec(
        "CREATE SEQUENCE rows_sent;"
        "CREATE FUNCTION count_row() RETURNS trigger LANGUAGE plpgsql AS"
        " $$BEGIN PERFORM nextval('rows_sent'); RETURN NEW; END$$;"
        "CREATE TRIGGER count_rows BEFORE INSERT ON call_events"
        " FOR EACH ROW EXECUTE FUNCTION count_row()");
    cfg_.batch_max_rows = 1;
    cfg_.batch_max_delay = 0ms;
    auto w = make_writer();
    ack_watch acks;
    const std::string body = example("09-hang.json");
    for (int i = 0; i < 2; ++i) {
        ingest::event ev = make_event(body);
        ev.ack = acks.add();
        push(std::move(ev));
    }
    run_until_drained(*w);
    EXPECT_EQ(acks.collect(), std::vector<ack_status>(2, ack_status::committed));
    EXPECT_EQ(db_.scalar("SELECT last_value FROM rows_sent"), "1");
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM call_events"), "1");
    EXPECT_EQ(metric("switchboard_events_inserted_total"), 1);
    EXPECT_EQ(metric("switchboard_events_duplicate_total"), 1);
    EXPECT_EQ(metric("switchboard_events_repeat_total"), 0);  // not answered from memory
}

// --- the calls row -------------------------------------------------------------------------

// The conversation arrays are stored as runs of new items (schemas/sql/007): an update writes
// the items after the longest prefix the writer knows, a writer that knows nothing (a restart)
// the whole array; either way every message exports whole and each item is one chain node.
TEST_F(BatchWriter, AGrowingConversationAddsOneRunPerUpdate) {
    const auto update = [](int items, std::int64_t ts) {
        std::string msgs;
        for (int i = 0; i < items; ++i) {
            if (i != 0) msgs += ',';
            msgs += R"({"role":")" + std::string(i % 2 == 0 ? "bot" : "user") +
                    R"(","message":"turn )" + std::to_string(i) + R"(","time":)" +
                    std::to_string(1749736985000 + i) + "}";
        }
        return R"({"message":{"type":"conversation-update","timestamp":)" + std::to_string(ts) +
               R"(,"call":{"id":"grow"},"messages":[)" + msgs + "]}}";
    };
    const std::vector<std::string> bodies = {update(2, 1), update(4, 2), update(5, 3),
                                             update(6, 4)};
    auto w = connected_writer();
    ASSERT_EQ(write(*w, make_event(bodies[0])), 1);
    std::vector<ingest::event> both;
    both.push_back(make_event(bodies[1]));
    both.push_back(make_event(bodies[2]));
    ASSERT_EQ(write(*w, both), 2);
    auto fresh = connected_writer();  // knows nothing of the call
    ASSERT_EQ(write(*fresh, make_event(bodies[3])), 1);

    // (first position, items) per run: the new items of each update, then the whole array.
    EXPECT_EQ(db_.scalar("SELECT string_agg(position || ':' || jsonb_array_length(items) || ':' ||"
                         " (parent IS NULL), ' ' ORDER BY jsonb_array_length(items), position)"
                         " FROM call_array_runs WHERE call_id = 'grow'"),
              "4:1:false 0:2:true 2:2:false 0:6:true");
    EXPECT_EQ(db_.scalar("SELECT octet_length(string_agg(nodes, '')) FROM call_array_runs"
                         " WHERE call_id = 'grow'"),
              std::to_string(16 * (2 + 2 + 1 + 6)));
    // One row per item in the per-item view, each chained to the one before.
    EXPECT_EQ(db_.scalar("SELECT string_agg(position || ':' || (item ->> 'message'), ',' ORDER BY "
                         "position) FROM call_array_nodes WHERE call_id = 'grow'"),
              "0:turn 0,1:turn 1,2:turn 2,3:turn 3,4:turn 4,5:turn 5");
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM call_array_nodes a JOIN call_array_nodes b"
                         " ON b.call_id = a.call_id AND b.node = a.parent"
                         " AND b.position = a.position - 1 WHERE a.call_id = 'grow'"),
              "5");
    for (const auto& body : bodies) EXPECT_EQ(db_.count_stored("grow", message_json(body)), 1);
    // The conversation follows the latest update, item by item.
    EXPECT_EQ(db_.scalar("SELECT string_agg(position || ':' || role || ':' || message, ',' ORDER"
                         " BY position) FROM call_messages WHERE call_id = 'grow'"),
              "0:bot:turn 0,1:user:turn 1,2:bot:turn 2,3:user:turn 3,4:bot:turn 4,5:user:turn 5");
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM call_messages m JOIN call_array_nodes n"
                         " ON n.call_id = m.call_id AND n.node = m.node AND n.position = m.position"
                         " WHERE m.call_id = 'grow'"),
              "6");
}

// A database written before migration 007 holds one row per array item. The migration turns
// them into runs of one item: every message stored before exports the same afterwards, and the
// per-item view shows the items the table held.
TEST_F(BatchWriter, ItemRowsOfAnOlderDatabaseBecomeRunsThatExportTheSame) {
    const auto batch = write_examples();
    // What the writer before 007 stored: the events, the blobs, and the items one per row.
    // (refs as JSON, as the writer stored them before 013)
    const std::string events = db_.scalar(
        "SELECT json_agg(to_jsonb(e) - 'refs_packed' ||"
        " jsonb_build_object('refs', switchboard_refs(e.refs_packed)))::text FROM call_events e");
    const std::string blobs = db_.scalar(
        "SELECT json_agg(json_build_object('call_id', c.call_id, 'hash', b.hash, 'body', b.body))"
        "::text FROM (SELECT DISTINCT call_id FROM call_blobs) c, "
        "switchboard_call_blobs(c.call_id) b");
    const std::string items =
        db_.scalar("SELECT json_agg(n ORDER BY call_id, node)::text FROM call_array_nodes n");
    ASSERT_GT(std::stoi(db_.scalar("SELECT count(*) FROM call_array_nodes")), 10);

    test_db old;
    auto conn = migrated_before(old, "007");
    ASSERT_TRUE(conn);
    ASSERT_EQ(old.scalar("SELECT relkind FROM pg_class WHERE relname = 'call_array_nodes'"), "r");
    old.exec("INSERT INTO call_events SELECT * FROM json_populate_recordset(NULL::call_events, " +
             lit(events) + ")");
    old.exec("INSERT INTO call_blobs SELECT * FROM json_populate_recordset(NULL::call_blobs, " +
             lit(blobs) + ")");
    old.exec(
        "INSERT INTO call_array_nodes SELECT * FROM json_populate_recordset("
        "NULL::call_array_nodes, " +
        lit(items) + ")");

    EXPECT_EQ(store::migrate(*conn, store::embedded_migrations()).front(), "007_array_runs.sql");
    EXPECT_EQ(old.scalar("SELECT count(*) FILTER (WHERE octet_length(nodes) = 16 AND"
                         " jsonb_array_length(items) = 1) = count(*) FROM call_array_runs"),
              "t");
    EXPECT_EQ(old.scalar("SELECT json_agg(n ORDER BY call_id, node)::text FROM call_array_nodes n"),
              items);
    std::set<std::string> calls;
    for (const auto& ev : batch) calls.insert(ev.call_id);
    for (const auto& id : calls) {
        SCOPED_TRACE(id);
        const auto exported = old.exported(id);
        EXPECT_FALSE(exported.empty());
        EXPECT_EQ(exported, db_.exported(id));
    }
}

// Before migration 015 the writers stored the turns of each conversation in a table
// call_messages; since, it is a view over the array runs. A database upgraded with turns in that
// table reads the same turns afterwards.
TEST_F(BatchWriter, TheTurnsOfAnOlderDatabaseReadTheSameThroughTheView) {
    write_examples();
    const std::string turns =
        db_.scalar("SELECT json_agg(m ORDER BY call_id, position)::text FROM call_messages m");
    ASSERT_GT(std::stoi(db_.scalar("SELECT count(*) FROM call_messages")), 3);
    const std::string runs = db_.scalar("SELECT json_agg(r)::text FROM call_array_runs r");
    const std::string calls = db_.scalar(
        "SELECT json_agg(json_build_object('id', id, 'conversation_rank', conversation_rank,"
        " 'conversation_head', conversation_head))::text FROM calls");

    test_db old;
    auto conn = migrated_before(old, "015");
    ASSERT_TRUE(conn);
    ASSERT_EQ(old.scalar("SELECT relkind FROM pg_class WHERE relname = 'call_messages'"), "r");
    old.exec(
        "INSERT INTO call_array_runs SELECT * FROM json_populate_recordset("
        "NULL::call_array_runs, " +
        lit(runs) + ")");
    old.exec(
        "INSERT INTO calls (id, conversation_rank, conversation_head) SELECT id,"
        " conversation_rank, conversation_head FROM json_populate_recordset(NULL::calls, " +
        lit(calls) + ")");
    old.exec(
        "INSERT INTO call_messages SELECT * FROM json_populate_recordset(NULL::call_messages, " +
        lit(turns) + ")");

    EXPECT_EQ(store::migrate(*conn, store::embedded_migrations()).front(),
              "015_conversation_view.sql");
    EXPECT_EQ(old.scalar("SELECT relkind FROM pg_class WHERE relname = 'call_messages'"), "v");
    EXPECT_EQ(
        old.scalar("SELECT json_agg(m ORDER BY call_id, position)::text FROM call_messages m"),
        turns);
}

TEST_F(BatchWriter, CallStatusMovesForwardInOrder) {
    auto w = connected_writer();
    const std::string id = "7c1e4f0a-3b9d-4e62-9a51-2f8d6c0b71e4";
    const std::pair<const char*, const char*> steps[] = {
        {"02-status-update-queued.json", "queued"},
        {"03-status-update-ringing.json", "ringing"},
        {"04-status-update-in-progress.json", "in-progress"},
        {"11-status-update-ended.json", "ended"},
    };
    for (const auto& [file, status] : steps) {
        write(*w, make_event(example(file)));
        EXPECT_EQ(db_.scalar("SELECT status FROM calls WHERE id = " + lit(id)), status) << file;
    }
    EXPECT_EQ(db_.scalar("SELECT status_rank FROM calls"), "6");
}

TEST_F(BatchWriter, CallStatusNeverMovesBackwardAcrossBatches) {
    auto w = connected_writer();
    const std::string id = "7c1e4f0a-3b9d-4e62-9a51-2f8d6c0b71e4";
    write(*w, make_event(example("11-status-update-ended.json")));
    const std::string after_ended = call_row(id);
    write(*w, make_event(example("03-status-update-ringing.json")));
    write(*w, make_event(example("02-status-update-queued.json")));
    write(*w, make_event(example("05-speech-update.json")));
    EXPECT_EQ(db_.scalar("SELECT status FROM calls WHERE id = " + lit(id)), "ended");
    EXPECT_EQ(call_row(id), after_ended);
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM calls"), "1");
    // The facts of the ended message are all there.
    EXPECT_EQ(
        db_.scalar("SELECT (status, status_rank, ended_reason, type, assistant_id, "
                   "phone_number_id, customer_number, org_id)::text FROM calls"),
        "(ended,6,customer-ended-call,inboundPhoneCall,5d8a2e6f-1c3b-4f7a-a9d2-e04b7c61f3a8,"
        "9e4c1b7d-62a0-4d58-8f13-c7b2a05e94d1,+14155550142,b2f6d3a1-8e47-4c09-bf3e-5a9e12c7d804)");
    EXPECT_EQ(db_.scalar("SELECT (created_at = '2025-06-12T14:03:05.120Z', started_at = "
                         "'2025-06-12T14:03:07.500Z', ended_at = '2025-06-12T14:03:43.900Z')::text "
                         "FROM calls"),
              "(t,t,t)");
}

TEST_F(BatchWriter, CallFactsMergeWithinOneBatchInAnyOrder) {
    auto w = connected_writer();
    std::vector<ingest::event> batch;
    for (const char* file : {"04-status-update-in-progress.json", "12-end-of-call-report.json",
                             "02-status-update-queued.json", "03-status-update-ringing.json"}) {
        batch.push_back(make_event(example(file)));
    }
    EXPECT_EQ(write(*w, batch), 4);
    EXPECT_EQ(db_.scalar("SELECT (status, status_rank, ended_reason, cost)::text FROM calls"),
              "(ended,6,customer-ended-call,0.0691)");
}

// end-of-call-report and status-update "ended" arrive in either order: the result is the same
// row, and first/last_event_at are the messages' Vapi timestamps, not receive times.
TEST_F(BatchWriter, EndOfCallReportAndStatusEndedGiveTheSameRowInEitherOrder) {
    auto w = connected_writer();
    const std::string report = example("12-end-of-call-report.json");
    const std::string ended = example("11-status-update-ended.json");
    const std::int64_t t0 = 1'764'000'000'000'000;
    write(*w, make_event(with_call_id(report, "order-a"), t0 + 1'000'000));
    write(*w, make_event(with_call_id(ended, "order-a"), t0));
    write(*w, make_event(with_call_id(ended, "order-b"), t0));
    write(*w, make_event(with_call_id(report, "order-b"), t0 + 1'000'000));
    EXPECT_EQ(call_row("order-a"), call_row("order-b"));
    EXPECT_EQ(db_.scalar("SELECT (status, status_rank, ended_reason, cost)::text FROM calls WHERE "
                         "id = 'order-a'"),
              "(ended,6,customer-ended-call,0.0691)");
    for (const char* id : {"order-a", "order-b"}) {
        EXPECT_EQ(db_.scalar("SELECT ((extract(epoch FROM first_event_at) * 1e6)::bigint, "
                             "(extract(epoch FROM last_event_at) * 1e6)::bigint)::text FROM calls "
                             "WHERE id = '" +
                             std::string(id) + "'"),
                  // 12's endedAt (the report counts at the time it is filed under, the same
                  // in every delivery) and 11's timestamp
                  "(1749737023900000,1749737023990000)")
            << id;
    }
}

TEST_F(BatchWriter, UnknownStatusDoesNotMoveTheCall) {
    auto w = connected_writer();
    write(*w, make_event(example("03-status-update-ringing.json")));
    std::string odd = example("03-status-update-ringing.json");
    for (std::size_t at; (at = odd.find("\"ringing\"")) != std::string::npos;) {
        odd.replace(at, 9, "\"some-future-status\"");
    }
    EXPECT_EQ(write(*w, make_event(odd)), 1);  // stored as an event…
    EXPECT_EQ(db_.scalar("SELECT (status, status_rank)::text FROM calls"), "(ringing,3)");  // …only
}

// --- a refused event -----------------------------------------------------------------------

TEST_F(BatchWriter, WriteOnceRollsBackAWholeBatchWithARefusedEvent) {
    auto w = connected_writer();
    std::vector<ingest::event> batch;
    batch.push_back(make_event(with_call_id(example("09-hang.json"), "good-1")));
    batch.push_back(make_bad_event("bad-call"));
    long inserted = -1;
    const auto e = w->write_once(batch, inserted);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->what, store::pg_error::kind::data) << e->sqlstate << " " << e->message;
    EXPECT_EQ(e->sqlstate.substr(0, 2), "22");
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM call_events"), "0");
    // The connection is still usable for the next batch.
    EXPECT_EQ(write(*w, make_event(with_call_id(example("09-hang.json"), "good-2"))), 1);
}

TEST_F(BatchWriter, RefusedEventIsRejectedAloneAndTheOthersAreCommitted) {
    cfg_.batch_max_delay = 200ms;  // all four in one batch
    const std::vector<std::string> files = {"02-status-update-queued.json", "",
                                            "05-speech-update.json", "09-hang.json"};
    ack_watch acks;
    run_with_second_refused({"good-a", "bad-call", "good-b", "good-c"}, files, acks);
    EXPECT_NE(acks.slot(1).detail().find("json"), std::string::npos) << acks.slot(1).detail();
    EXPECT_EQ(db_.scalar("SELECT string_agg(call_id, ',' ORDER BY call_id) FROM call_events"),
              "good-a,good-b,good-c");
    EXPECT_EQ(db_.scalar("SELECT string_agg(id, ',' ORDER BY id) FROM calls"),
              "good-a,good-b,good-c");
    EXPECT_EQ(metric("switchboard_events_rejected_total"), 1);
    EXPECT_EQ(metric("switchboard_events_inserted_total"), 3);
    EXPECT_GE(metric(R"(switchboard_pg_errors_total{kind="data"})"), 1);
}

// An event past one of Postgres' limits (here an index entry over 2,704 bytes, SQLSTATE 54000)
// fails the same way every time: it is rejected alone, like the data errors, instead of its batch
// being retried for ever with the writer's traffic queued behind it.
TEST_F(BatchWriter, AnEventPastAPostgresLimitIsRejectedAlone) {
    cfg_.batch_max_delay = 200ms;  // all three in one batch
    auto w = connected_writer();
    ack_watch acks;
    const std::vector<std::string> ids = {"limit-a", "limit-bad", "limit-b"};
    for (std::size_t i = 0; i < ids.size(); ++i) {
        ingest::event ev = make_event(with_call_id(example("09-hang.json"), ids[i]));
        if (i == 1) {
            // Hex of a pseudo-random stream: Postgres compresses an index entry before it
            // measures it, so the key must not compress below the limit.
            std::string key;
            std::uint64_t x = 88172645463325252ull;
            for (int k = 0; k < 12000; ++k) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                key += "0123456789abcdef"[x & 15];
            }
            ev.dedupe_key = key;
        }
        ev.ack = acks.add();
        push(std::move(ev));
    }
    run_until_drained(*w);
    EXPECT_EQ(acks.collect(), (std::vector<ack_status>{ack_status::committed, ack_status::rejected,
                                                       ack_status::committed}));
    EXPECT_EQ(db_.scalar("SELECT string_agg(call_id, ',' ORDER BY call_id) FROM call_events"),
              "limit-a,limit-b");
    EXPECT_GE(metric(R"(switchboard_pg_errors_total{kind="data"})"), 1);
    EXPECT_EQ(metric(R"(switchboard_pg_errors_total{kind="other"})"), 0);
}

// Two batches in flight on the writer's connection: the first holds a refused event, the second
// was sent behind it. The second commits on its own, the first is written again alone (its good
// event committed, the bad one rejected), and the connection stays in step: no connection errors.
TEST_F(BatchWriter, ARefusedBatchDoesNotTakeTheBatchSentBehindItDown) {
    cfg_.batch_max_rows = 2;  // four queued events: two batches, the second sent behind the first
    cfg_.batch_max_delay = 0ms;
    ack_watch acks;
    run_with_second_refused({"first-good", "first-bad", "second-a", "second-b"},
                            std::vector<std::string>(4, "09-hang.json"), acks);
    EXPECT_EQ(db_.scalar("SELECT string_agg(call_id, ',' ORDER BY call_id) FROM call_events"),
              "first-good,second-a,second-b");
    EXPECT_EQ(queue_.depth(), 0u);
    EXPECT_EQ(queue_.bytes(), 0u);
    EXPECT_EQ(metric("switchboard_events_inserted_total"), 3);
    EXPECT_GE(metric(R"(switchboard_pg_errors_total{kind="data"})"), 1);
    EXPECT_EQ(metric(R"(switchboard_pg_errors_total{kind="connection"})"), 0);
    EXPECT_EQ(metric("switchboard_pg_reconnects_total"), 0);
}

// --- run(): draining, giving up, reconnecting ------------------------------------------------

TEST_F(BatchWriter, RunDrainsTheQueueAndReturnsZeroOnStop) {
    cfg_.batch_max_rows = 8;
    auto w = make_writer();
    ack_watch acks;
    const std::string body = example("09-hang.json");
    constexpr int k_events = 50;
    for (int i = 0; i < k_events + 5; ++i) {
        // The last five repeat the first five: acknowledged, counted as duplicates.
        ingest::event ev = make_event(with_call_id(body, "drain-" + std::to_string(i % k_events)));
        ev.ack = acks.add();
        push(std::move(ev));
    }
    EXPECT_EQ(queue_.depth(), static_cast<std::size_t>(k_events + 5));
    std::size_t given_up = 99;
    {
        writer_thread t(*w);
        given_up = t.finish(30s, 30s);  // stop at once: run() must still drain everything
    }
    EXPECT_EQ(given_up, 0u);
    EXPECT_EQ(queue_.depth(), 0u);
    EXPECT_EQ(queue_.bytes(), 0u);
    EXPECT_EQ(db_.scalar("SELECT count(DISTINCT call_id) FROM call_events"),
              std::to_string(k_events));
    for (auto s : acks.collect()) EXPECT_EQ(s, ack_status::committed);
    EXPECT_EQ(metric("switchboard_events_inserted_total"), k_events);
    EXPECT_EQ(metric("switchboard_events_duplicate_total"), 5);
    EXPECT_GE(metric("switchboard_batch_rows_count"), 7);      // at most 8 rows per batch
    EXPECT_EQ(metric("switchboard_pg_connected_writers"), 0);  // disconnected on return
    EXPECT_FALSE(w->connected());
}

TEST_F(BatchWriter, GivesUpOnAnUnreachableDatabaseWithoutHanging) {
    cfg_.database_url = "postgresql://postgres@127.0.0.1:1/nowhere";
    cfg_.connect_timeout = 1s;
    auto w = make_writer();
    ack_watch acks;
    for (int i = 0; i < 3; ++i) {
        ingest::event ev =
            make_event(with_call_id(example("09-hang.json"), "lost-" + std::to_string(i)));
        ev.ack = acks.add();
        push(std::move(ev));
    }
    const auto started = steady::now();
    std::size_t given_up = 0;
    {
        writer_thread t(*w);
        given_up = t.finish(-1s, 20s);  // stop, with the give-up deadline already past
    }
    EXPECT_LT(steady::now() - started, 5s);
    EXPECT_EQ(given_up, 3u);
    EXPECT_EQ(queue_.depth(), 0u);
    for (auto s : acks.collect()) EXPECT_EQ(s, ack_status::failed);
    EXPECT_FALSE(w->connected());
}

TEST_F(BatchWriter, GivesUpWhenStoppedWhileRetrying) {
    cfg_.database_url = "postgresql://postgres@127.0.0.1:1/nowhere";
    cfg_.connect_timeout = 1s;
    auto w = make_writer();
    std::size_t given_up = 0;
    {
        writer_thread t(*w);
        for (int i = 0; i < 2; ++i) {
            push(make_event(with_call_id(example("09-hang.json"), "retry-" + std::to_string(i))));
        }
        std::this_thread::sleep_for(300ms);  // the writer is now in its reconnect loop
        EXPECT_EQ(queue_.depth(), 2u);
        const auto stopped = steady::now();
        given_up = t.finish(200ms, 20s);
        EXPECT_LT(steady::now() - stopped, 3s);
    }
    EXPECT_EQ(given_up, 2u);
    EXPECT_EQ(queue_.depth(), 0u);
}

// The calls upsert's input type (schemas/sql/024) must have the fields this build sends, which
// follow its fact table: a schema of another shape is refused when the writer connects, with a
// message that says so, not at the first application as a refused one.
TEST_F(BatchWriter, ASchemaWhoseCallStateInputDiffersIsRefusedAtConnect) {
    db_.exec("ALTER TYPE call_state_input ADD ATTRIBUTE later_fact text");
    auto w = make_writer();
    std::string error;
    EXPECT_FALSE(w->connect(error));
    EXPECT_NE(error.find("call_state_input"), std::string::npos) << error;
    EXPECT_NE(error.find("later_fact"), std::string::npos) << error;
    db_.exec("ALTER TYPE call_state_input DROP ATTRIBUTE later_fact");
    EXPECT_TRUE(w->connect(error)) << error;  // (a dropped attribute is not a field)
    db_.exec("DROP TYPE call_state_input");
    EXPECT_FALSE(w->connect(error));
    EXPECT_NE(error.find("older than this build"), std::string::npos) << error;
}

// The type created again under running connections (a new OID: an operator's repair, a
// restore): the writer's connections are made again and look it up again, instead of failing
// every application (or, with derive delay 0, every batch) from then on.
class BatchWriterRetyped : public BatchWriter, public ::testing::WithParamInterface<int> {};

TEST_P(BatchWriterRetyped, ACallStateInputTypeCreatedAgainIsLookedUpAgain) {
    cfg_.derive_delay = std::chrono::milliseconds(GetParam());
    std::string create;
    for (const auto& m : store::embedded_migrations()) {
        if (m.name.starts_with("024_")) create = std::string(m.sql);
    }
    ASSERT_NE(create.find("CREATE TYPE call_state_input"), std::string::npos);
    const auto stored = [&](const std::string& id) {
        for (int i = 0; i < 500; ++i) {
            if (db_.scalar("SELECT count(*) FROM calls WHERE id = '" + id + "'") == "1")
                return true;
            std::this_thread::sleep_for(20ms);
        }
        return false;
    };
    auto w = make_writer();
    writer_thread t(*w);
    push(make_event(with_call_id(example("04-status-update-in-progress.json"), "retyped-1")));
    ASSERT_TRUE(stored("retyped-1"));
    db_.exec("DROP TYPE call_state_input; " + create);
    push(make_event(with_call_id(example("04-status-update-in-progress.json"), "retyped-2")));
    EXPECT_TRUE(stored("retyped-2")) << "the derived state of a later call was never applied";
}

INSTANTIATE_TEST_SUITE_P(DeriveDelayMs, BatchWriterRetyped, ::testing::Values(20, 0));

TEST_F(BatchWriter, ALostConnectionIsAConnectionError) {
    auto w = connected_writer();
    terminate_writer_sessions();
    std::vector<ingest::event> batch;
    batch.push_back(make_event(example("09-hang.json")));
    long inserted = 0;
    const auto e = w->write_once(batch, inserted);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->what, store::pg_error::kind::connection) << e->sqlstate << " " << e->message;
}

TEST_F(BatchWriter, RetriesAfterConnectionLoss) {
    auto w = connected_writer();
    terminate_writer_sessions();
    ack_watch acks;
    for (int i = 0; i < 3; ++i) {
        ingest::event ev =
            make_event(with_call_id(example("09-hang.json"), "again-" + std::to_string(i)));
        ev.ack = acks.add();
        push(std::move(ev));
    }
    std::size_t given_up = 99;
    {
        writer_thread t(*w);
        given_up = t.finish(30s, 30s);
    }
    EXPECT_EQ(given_up, 0u);
    for (auto s : acks.collect()) EXPECT_EQ(s, ack_status::committed);
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM call_events"), "3");
    EXPECT_EQ(metric("switchboard_pg_reconnects_total"), 1);
    EXPECT_GE(metric(R"(switchboard_pg_errors_total{kind="connection"})"), 1);
}

// A new connection may reach another server: after a failover to a replica that had not
// received everything, what the writer took as committed is not there. The writer must then
// send a repeat again, and the parts and `call` objects it had stored, instead of answering the
// repeat without a statement and referring to parts the server does not have.
TEST_F(BatchWriter, WhatWasCommittedIsForgottenOnANewConnection) {
    auto w = connected_writer();
    const std::string first = example("04-status-update-in-progress.json");
    const std::string conversation = example("10-conversation-update.json");
    EXPECT_EQ(write(*w, make_event(first)), 1);
    EXPECT_EQ(write(*w, make_event(conversation)), 1);
    EXPECT_EQ(write(*w, make_event(first)), 0);  // a repeat, known to be committed

    // The server the writer reconnects to lacks what was committed.
    db_.exec(
        "TRUNCATE call_events, call_blobs, call_array_runs, calls,"
        " call_derive_pending");
    terminate_writer_sessions();
    std::string error;
    ASSERT_TRUE(w->connect(error)) << error;

    const std::string report = example("12-end-of-call-report.json");
    EXPECT_EQ(write(*w, make_event(first)), 1);
    EXPECT_EQ(write(*w, make_event(conversation)), 1);
    EXPECT_EQ(write(*w, make_event(report)), 1);
    for (const std::string* body : {&first, &conversation, &report}) {
        const ingest::event ev = make_event(*body);
        EXPECT_EQ(db_.count_stored(ev.call_id, message_json(*body)), 1) << ev.type_name;
    }
}

// Readiness relies on `connected()`: a writer with nothing to write must still notice that its
// connection is gone (and re-establish it), or /readyz reports a dead database as ready.
TEST_F(BatchWriter, IdleWriterNoticesALostConnection) {
    auto w = connected_writer();
    writer_thread t(*w);
    terminate_writer_sessions();
    const auto deadline = steady::now() + 10s;
    while (metric("switchboard_pg_reconnects_total") < 1 && steady::now() < deadline) {
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(metric("switchboard_pg_reconnects_total"), 1);
    EXPECT_TRUE(w->connected());
    EXPECT_EQ(metric("switchboard_pg_connected_writers"), 1);
    EXPECT_EQ(t.finish(10s, 20s), 0u);
}

// Several writers upserting the same calls concurrently, events in random order: no deadlock
// escapes as a failure, nothing is lost, and every call converges to its final state.
TEST_F(BatchWriter, ConcurrentWritersConvergeOnTheSameCalls) {
    cfg_.batch_max_rows = 4;
    const char* files[] = {"02-status-update-queued.json", "03-status-update-ringing.json",
                           "04-status-update-in-progress.json", "11-status-update-ended.json",
                           "12-end-of-call-report.json"};
    std::vector<ingest::event> events;
    constexpr int k_calls = 20;
    for (int c = 0; c < k_calls; ++c) {
        for (const char* f : files) {
            events.push_back(make_event(with_call_id(example(f), "conc-" + std::to_string(c))));
        }
    }
    std::shuffle(events.begin(), events.end(), std::mt19937(12345));
    for (auto& ev : events) push(std::move(ev));

    std::vector<std::unique_ptr<store::batch_writer>> writers;
    std::vector<std::unique_ptr<writer_thread>> threads;
    for (unsigned i = 0; i < 4; ++i) writers.push_back(make_writer(i));
    for (auto& w : writers) threads.push_back(std::make_unique<writer_thread>(*w));
    std::size_t given_up = 0;
    for (auto& t : threads) given_up += t->finish(30s, 60s);
    EXPECT_EQ(given_up, 0u);
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM call_events"), std::to_string(k_calls * 5));
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM calls"), std::to_string(k_calls));
    EXPECT_EQ(db_.scalar("SELECT count(*) FROM calls WHERE status = 'ended' AND status_rank = 6"
                         " AND cost = 0.0691 AND ended_reason = 'customer-ended-call'"),
              std::to_string(k_calls));
    EXPECT_EQ(metric("switchboard_events_rejected_total"), 0);
}

}  // namespace
}  // namespace switchboard::test
