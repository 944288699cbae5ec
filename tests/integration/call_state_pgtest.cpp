// The derived call state against a real Postgres: the `calls` facts, the conversation
// (`call_messages`) and the views are functions of the set of messages received, whatever
// their order, batching or repetition. Each ordering is written into a database of its own with
// the same call id, so the comparison covers every stored row byte for byte.
#include "support/events.hpp"
#include "support/examples.hpp"
#include "support/test_db.hpp"

#include "load/call_script.hpp"

#include "switchboard/metrics/registry.hpp"
#include "switchboard/store/batch_writer.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>

namespace switchboard::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

constexpr const char* k_call = "5f0c9a1e-2b7d-4c3e-9a8f-1d2e3f4a5b6c";

std::string lit(const std::string& text) {
    return "$sbq$" + text + "$sbq$";
}

/// The bodies of one synthetic call (bench/load's script: status updates, speech updates,
/// partial and final transcripts, growing conversation updates, tool calls, status ended and
/// an end-of-call report), in the order Vapi sends them.
std::vector<std::string> call_bodies(int turns, const std::string& id = k_call) {
    static const load::call_templates templates(SWITCHBOARD_EXAMPLES_DIR);
    load::call_script script(templates, id, turns, 1'764'000'000'000);
    std::vector<std::string> out;
    while (!script.done()) {
        std::string body;
        script.next(body);
        out.push_back(std::move(body));
    }
    return out;
}

/// One database with a writer connected to it. `derive_delay` 0: the derived state goes in the
/// messages' own transaction; otherwise the writer merges it in memory until flush().
class replica {
  public:
    explicit replica(store::store_metrics& metrics,
                     std::chrono::milliseconds derive_delay = config::store_config{}.derive_delay)
        : metrics_(metrics) {
        db_.migrate();
        cfg_.database_url = db_.url();
        cfg_.connect_timeout = 2s;
        cfg_.derive_delay = derive_delay;
        writer_ = connected_writer();
    }

    /// Writes `bodies` in one transaction, then applies the derived state.
    void write(const std::vector<std::string>& bodies) {
        write_only(bodies);
        flush();
    }
    void write(const std::string& body) { write(std::vector<std::string>{body}); }
    /// Writes `bodies` in one transaction; their derived state stays in the writer's memory.
    void write_only(const std::vector<std::string>& bodies) {
        std::vector<ingest::event> batch;
        for (const auto& b : bodies) batch.push_back(make_event(b));
        long inserted = 0;
        auto e = writer_->write_once(batch, inserted);
        EXPECT_FALSE(e) << e->message;
    }
    void flush() {
        auto e = writer_->flush_derived();
        EXPECT_FALSE(e) << e->message;
    }
    /// The writer goes away without applying what it holds (as in a crash: its connection, and
    /// with it its owner lock, ends) and a new one connects.
    void replace_writer() {
        writer_.reset();
        writer_ = connected_writer();
    }
    std::unique_ptr<store::batch_writer> connected_writer() {
        auto w = std::make_unique<store::batch_writer>(0, cfg_, queue_, metrics_);
        std::string error;
        EXPECT_TRUE(w->connect(error)) << error;
        return w;
    }
    store::batch_writer& writer() { return *writer_; }

    /// Every stored row that depends on the messages, as text.
    std::string calls_row() {
        return db_.scalar("SELECT (to_jsonb(c) - 'inserted_at' - 'updated_at')::text FROM calls c");
    }
    std::string turns() {
        return db_.scalar(
            "SELECT coalesce(json_agg(to_jsonb(m) ORDER BY position), '[]')::text "
            "FROM call_messages m");
    }
    std::string events() {
        return db_.scalar(
            "SELECT json_agg(json_build_array(call_id, sent_at, dedupe_key, type, vapi_timestamp,"
            " org_id, skeleton, refs_packed, received_bytes) ORDER BY call_id, sent_at,"
            " dedupe_key)::text"
            " FROM call_events");
    }
    std::string parts() {
        return db_.scalar(
                   // The parts as they read (a version may be stored whole or as a patch,
                   // depending on the versions before it that the writer had seen).
                   "SELECT json_agg(json_build_array(c.call_id, b.hash, b.body) ORDER BY"
                   " c.call_id, b.hash)::text FROM (SELECT DISTINCT call_id FROM call_blobs) c,"
                   " switchboard_call_blobs(c.call_id) b") +
               db_.scalar(
                   "SELECT json_agg(json_build_array(call_id, node, parent, position, item) "
                   "ORDER BY call_id, node)::text FROM call_array_nodes");
    }
    std::string everything() { return calls_row() + turns() + events() + parts(); }

    test_db& db() { return db_; }

  private:
    store::store_metrics& metrics_;
    test_db db_;
    config::store_config cfg_;
    config::queue_config qcfg_;
    ingest::event_queue queue_{qcfg_};
    std::unique_ptr<store::batch_writer> writer_;
};

class CallState : public ::testing::Test {
  protected:
    std::unique_ptr<replica> make_replica(
        std::chrono::milliseconds derive_delay = config::store_config{}.derive_delay) {
        return std::make_unique<replica>(metrics_, derive_delay);
    }
    /// The oracle: the first `n` bodies, the derived state written with each message.
    std::unique_ptr<replica> reference_of(const std::vector<std::string>& bodies, std::size_t n) {
        auto reference = make_replica(0ms);
        reference->write(std::vector<std::string>(bodies.begin(), bodies.begin() + n));
        return reference;
    }
    /// `r`'s writer goes before applying what it holds and the next takes over: the derived
    /// state ends as the oracle's, with no record left.
    static void expect_taken_over_like(replica& r, replica& reference) {
        r.replace_writer();
        EXPECT_EQ(r.calls_row() + r.turns(), reference.calls_row() + reference.turns());
        EXPECT_EQ(r.db().scalar("SELECT count(*) FROM call_derive_pending"), "0");
    }

    metrics::registry registry_;
    store::store_metrics metrics_{registry_};
};

/// The message object of a body.
json::object message_of(const std::string& body) {
    return json::parse(body).at("message").as_object();
}

/// call_messages as the oracle expects it from a Vapi `messages` array: position, role, text,
/// time (ms), end time (ms), tool call id.
std::string expected_turns(const json::array& items) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto& o = items[i].as_object();
        auto text = [&](const char* k) -> std::string {
            const auto* v = o.if_contains(k);
            return v != nullptr && v->is_string() ? std::string(v->as_string()) : "<null>";
        };
        auto ms = [&](const char* k) -> std::string {
            const auto* v = o.if_contains(k);
            return v != nullptr && v->is_number() ? std::to_string(v->to_number<std::int64_t>())
                                                  : "<null>";
        };
        out += std::to_string(i) + "|" + text("role") + "|" + text("message") + "|" + ms("time") +
               "|" + ms("endTime") + "|" + text("toolCallId") + "\n";
    }
    return out;
}

std::string stored_turns(test_db& db) {
    std::string out;
    for (const auto& row : db.column(
             "SELECT concat_ws('|', position, coalesce(role, '<null>'), coalesce(message, "
             "'<null>'), coalesce(round(extract(epoch FROM time) * 1000)::bigint::text, '<null>'),"
             " coalesce(round(extract(epoch FROM end_time) * 1000)::bigint::text, '<null>'),"
             " coalesce(tool_call_id, '<null>')) FROM call_messages ORDER BY position")) {
        out += row + "\n";
    }
    return out;
}

TEST_F(CallState, ShuffledDuplicatedAndBatchedDifferentlyGivesTheSameRows) {
    const auto bodies = call_bodies(9);
    ASSERT_GT(bodies.size(), 60u);

    auto in_order = make_replica();
    for (const auto& b : bodies) in_order->write(b);
    const std::string expected = in_order->everything();
    ASSERT_NE(in_order->turns(), "[]");

    // Reversed: the end-of-call report first, the first status update last.
    auto reversed = make_replica();
    for (auto it = bodies.rbegin(); it != bodies.rend(); ++it) reversed->write(*it);
    EXPECT_EQ(reversed->everything(), expected) << "reversed";

    // Shuffled with every message two or three times, in batches of random sizes.
    for (unsigned seed : {1u, 2u, 3u}) {
        std::mt19937 rng(seed);
        std::vector<std::string> deliveries;
        for (const auto& b : bodies) {
            deliveries.push_back(b);
            deliveries.push_back(b);
            if (rng() % 3 == 0) deliveries.push_back(b);
        }
        std::shuffle(deliveries.begin(), deliveries.end(), rng);
        auto shuffled = make_replica();
        for (std::size_t i = 0; i < deliveries.size();) {
            const std::size_t n = std::min<std::size_t>(1 + rng() % 24, deliveries.size() - i);
            shuffled->write(
                std::vector<std::string>(deliveries.begin() + i, deliveries.begin() + i + n));
            i += n;
        }
        EXPECT_EQ(shuffled->everything(), expected) << "seed " << seed;

        // The same batches, the derived state in each batch's own transaction (--derive-delay-ms
        // 0).
        auto same_transaction = make_replica(0ms);
        // …merged in the writer's memory over several batches, applied now and then…
        auto deferred = make_replica();
        // …and by a writer that goes away before applying anything: the next one derives the
        // call again from its stored messages.
        auto crashed = make_replica();
        for (std::size_t i = 0; i < deliveries.size();) {
            const std::size_t n = std::min<std::size_t>(1 + rng() % 24, deliveries.size() - i);
            const std::vector<std::string> batch(deliveries.begin() + i,
                                                 deliveries.begin() + i + n);
            same_transaction->write_only(batch);
            deferred->write_only(batch);
            if (rng() % 4 == 0) deferred->flush();
            crashed->write_only(batch);
            i += n;
        }
        EXPECT_EQ(same_transaction->everything(), expected) << "seed " << seed;
        EXPECT_EQ(same_transaction->db().scalar("SELECT count(*) FROM call_derive_pending"), "0");
        deferred->flush();
        EXPECT_EQ(deferred->everything(), expected) << "seed " << seed;
        EXPECT_EQ(deferred->db().scalar("SELECT count(*) FROM call_derive_pending"), "0");
        EXPECT_EQ(crashed->db().scalar("SELECT count(*) FROM calls"), "0");
        EXPECT_EQ(crashed->db().scalar("SELECT call_id FROM call_derive_pending"), k_call);
        crashed->replace_writer();
        EXPECT_EQ(crashed->db().scalar("SELECT count(*) FROM call_derive_pending"), "0");
        EXPECT_EQ(crashed->everything(), expected) << "seed " << seed;
    }
}

// Two statuses of equal rank (ended and not-found; two values the lifecycle does not know) give
// the same row whatever their order, in one batch or two, merged in the writer's memory or by
// the upsert.
TEST_F(CallState, StatusesOfEqualRankGiveTheSameRowInAnyOrder) {
    auto status_update = [](const char* status, std::int64_t ms) {
        return std::string(R"({"message":{"type":"status-update","timestamp":)") +
               std::to_string(ms) + R"(,"status":")" + status + R"(","call":{"id":")" + k_call +
               R"("}}})";
    };
    for (const auto& [a, b, expected] : {std::tuple{"ended", "not-found", "not-found"},
                                         std::tuple{"weird-b", "weird-a", "weird-b"}}) {
        SCOPED_TRACE(a);
        const std::string first = status_update(a, 1'764'000'000'000);
        const std::string second = status_update(b, 1'764'000'001'000);
        auto forward = make_replica();
        forward->write(first);
        forward->write(second);
        const std::string row = forward->calls_row();
        EXPECT_EQ(forward->db().scalar("SELECT status FROM calls"), expected);

        auto backward = make_replica();
        backward->write(second);
        backward->write(first);
        EXPECT_EQ(backward->calls_row(), row);
        auto together = make_replica();
        together->write({second, first});
        EXPECT_EQ(together->calls_row(), row);
        auto in_memory = make_replica();
        in_memory->write_only({second});
        in_memory->write_only({first});
        in_memory->flush();
        EXPECT_EQ(in_memory->calls_row(), row);
    }
}

// Many calls wait: flush_derived applies them all and deletes every record.
TEST_F(CallState, ManyPendingCallsAreAllApplied) {
    const auto bodies = call_bodies(1);
    auto r = make_replica();
    constexpr int k_calls = 150;
    for (int c = 0; c < k_calls; ++c) {
        std::vector<std::string> batch;
        for (std::size_t i = 0; i < 3; ++i) {
            std::string b = bodies[i];
            for (auto at = b.find(k_call); at != std::string::npos; at = b.find(k_call, at + 1)) {
                b.replace(at, std::strlen(k_call), "many-" + std::to_string(c));
            }
            batch.push_back(std::move(b));
        }
        r->write_only(batch);
    }
    EXPECT_EQ(r->writer().derived_pending(), static_cast<std::size_t>(k_calls));
    EXPECT_EQ(r->db().scalar("SELECT count(*) FROM call_derive_pending"), std::to_string(k_calls));
    EXPECT_EQ(r->db().scalar("SELECT count(*) FROM calls"), "0");
    r->flush();
    EXPECT_EQ(r->writer().derived_pending(), 0U);
    EXPECT_EQ(r->db().scalar("SELECT count(*) FROM call_derive_pending"), "0");
    EXPECT_EQ(r->db().scalar("SELECT count(*) FROM calls WHERE status = 'in-progress'"),
              std::to_string(k_calls));
}

// The next writer takes over every call of a writer gone, a page at a time; a call whose
// messages cannot be rebuilt whole (here a part is missing) keeps its record, for a later
// takeover, instead of being derived from some of its messages and forgotten.
TEST_F(CallState, ATakeoverDerivesEveryCallAndKeepsTheOnesItCannotRebuild) {
    const auto bodies = call_bodies(1);
    auto r = make_replica();
    constexpr int k_calls = 40;  // more than a page
    for (int c = 0; c < k_calls; ++c) {
        std::vector<std::string> batch;
        for (std::size_t i = 0; i < 3; ++i) {
            std::string b = bodies[i];
            for (auto at = b.find(k_call); at != std::string::npos; at = b.find(k_call, at + 1)) {
                b.replace(at, std::strlen(k_call), "gone-" + std::to_string(100 + c));
            }
            batch.push_back(std::move(b));
        }
        r->write_only(batch);
    }
    ASSERT_EQ(r->db().scalar("SELECT count(DISTINCT call_id) FROM call_derive_pending"),
              std::to_string(k_calls));
    // One call loses a part its messages refer to.
    ASSERT_NE(r->db().scalar("SELECT count(*) FROM call_blobs WHERE call_id = 'gone-117'"), "0");
    r->db().exec("DELETE FROM call_blobs WHERE call_id = 'gone-117'");
    r->replace_writer();
    EXPECT_EQ(r->db().scalar("SELECT string_agg(DISTINCT call_id, ',') FROM call_derive_pending"),
              "gone-117");
    EXPECT_EQ(r->db().scalar("SELECT count(*) FROM calls"), std::to_string(k_calls - 1));
    EXPECT_EQ(r->db().scalar("SELECT count(*) FROM calls WHERE id = 'gone-117'"), "0");
}

// A writer's records of calls whose derived state it holds belong to it while it lives: a
// writer connecting meanwhile leaves them alone (it would derive the call while the other
// may still commit messages of it).
TEST_F(CallState, ALiveWritersPendingCallsAreNotTakenOver) {
    const auto bodies = call_bodies(2);
    auto r = make_replica();
    r->write_only(std::vector<std::string>(bodies.begin(), bodies.begin() + 4));
    EXPECT_EQ(r->writer().derived_pending(), 1U);
    auto second = r->connected_writer();  // connects while the first is alive
    EXPECT_EQ(r->db().scalar("SELECT count(*) FROM call_derive_pending"), "1");
    EXPECT_EQ(r->db().scalar("SELECT count(*) FROM calls"), "0");
    r->flush();
    EXPECT_EQ(r->writer().derived_pending(), 0U);
    EXPECT_EQ(r->db().scalar("SELECT count(*) FROM call_derive_pending"), "0");
    EXPECT_EQ(r->db().scalar("SELECT count(*) FROM calls"), "1");
}

// run() applies the derived state beside the batches. An application that begins while a batch
// of the same call is in flight covers neither that batch's messages nor may it delete the
// record that batch relies on (here made by the batch before it, in the same generation): after
// a crash, the next writer derives the call again from all its stored messages.
TEST_F(CallState, AnApplicationLeavesTheRecordOfABatchInFlight) {
    const auto bodies = call_bodies(2);
    auto reference = reference_of(bodies, 3);
    auto r = make_replica();
    r->write_only({bodies[0]});
    std::vector<ingest::event> second{make_event(bodies[1]), make_event(bodies[2])};
    ASSERT_FALSE(r->writer().send_only(second));
    ASSERT_FALSE(r->writer().apply_beside());
    ASSERT_FALSE(r->writer().land_sent());
    EXPECT_NE(r->calls_row(), reference->calls_row());  // the application covered bodies[0] only
    expect_taken_over_like(*r, *reference);
}

// A batch in flight when an application begins recorded its calls under the generation that
// application ends. Once it lands, that record stands for its calls in the generations after
// (the next batch makes none), so the next application, begun while a third batch relying on
// it is in flight, keeps it: the limit is the record's generation, not the batch's.
TEST_F(CallState, ARecordOfAnEndedGenerationIsKeptForTheBatchesThatRelyOnIt) {
    const auto bodies = call_bodies(2);
    auto reference = reference_of(bodies, 3);
    auto r = make_replica();
    std::vector<ingest::event> first{make_event(bodies[0])};
    ASSERT_FALSE(r->writer().send_only(first));  // records the call, generation 1
    ASSERT_FALSE(r->writer().apply_beside());    // nothing committed to apply; generation 2
    ASSERT_FALSE(r->writer().land_sent());
    r->write_only({bodies[1]});  // relies on the record of generation 1
    std::vector<ingest::event> third{make_event(bodies[2])};
    ASSERT_FALSE(r->writer().send_only(third));  // so does this one
    ASSERT_FALSE(r->writer().apply_beside());    // keeps it
    ASSERT_FALSE(r->writer().land_sent());
    expect_taken_over_like(*r, *reference);
}

// run() applies the calls in slices, each call in its turn. A call left out of a slice keeps
// its record, of an older generation; a batch that relies on it may be in flight when the
// call's turn comes, and that record must outlive the application, whatever its generation.
TEST_F(CallState, ASliceLeavesTheOlderRecordABatchInFlightReliesOn) {
    const auto x = call_bodies(2);
    const std::string other = "0e1d2c3b-4a59-4867-9786-a5b4c3d2e1f0";
    const auto y = call_bodies(2, other);
    const std::string x_row =
        "SELECT (to_jsonb(c) - 'inserted_at' - 'updated_at')::text FROM "
        "calls c WHERE id = '" +
        std::string(k_call) + "'";
    auto reference = reference_of(x, 3);
    auto r = make_replica();
    r->write_only({x[0], y[0]});  // records both calls, generation 1
    const std::string_view only_y[] = {other};
    ASSERT_FALSE(r->writer().apply_beside(only_y));  // Y's turn: generation 2
    EXPECT_EQ(r->writer().derived_pending(), 1U);
    r->write_only({x[1]});  // X is recorded (generation 1): no new record
    std::vector<ingest::event> third{make_event(x[2])};
    ASSERT_FALSE(r->writer().send_only(third));  // relies on X's record of generation 1
    const std::string_view only_x[] = {k_call};
    ASSERT_FALSE(r->writer().apply_beside(only_x));  // X's turn, with x[2] in flight
    ASSERT_FALSE(r->writer().land_sent());
    EXPECT_NE(r->db().scalar(x_row), reference->calls_row());  // x[2] is not applied
    r->replace_writer();  // gone before applying it; the next writer takes over
    EXPECT_EQ(r->db().scalar(x_row), reference->calls_row());
    EXPECT_EQ(r->db().scalar("SELECT count(*) FROM call_derive_pending"), "0");
    EXPECT_EQ(r->db().scalar("SELECT count(*) FROM calls"), "2");
}

// A call applied leaves the records it had: its next batch records it again, under the
// generation then, since nothing else stands for what that batch commits.
TEST_F(CallState, ACallIsRecordedAgainAfterItsApplication) {
    const auto bodies = call_bodies(2);
    auto reference = reference_of(bodies, 2);
    auto r = make_replica();
    r->write_only({bodies[0]});
    ASSERT_FALSE(r->writer().apply_beside());
    r->write_only({bodies[1]});
    EXPECT_EQ(r->db().scalar("SELECT count(*) FROM call_derive_pending"), "1");
    expect_taken_over_like(*r, *reference);  // gone before applying bodies[1]
}

// Postgres refusing an application (a data error) drops that state from memory; its records
// stay for the next start, which derives the call from all its messages. A later application
// of the same call, which covers only what came after, must not delete them.
TEST_F(CallState, ARefusedApplicationsRecordsOutliveLaterApplications) {
    const auto bodies = call_bodies(2);
    auto reference = reference_of(bodies, 2);
    auto r = make_replica();
    r->db().exec(
        "CREATE TABLE refuse (on_ boolean); INSERT INTO refuse VALUES (true);"
        "CREATE FUNCTION refuse_calls() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " IF (SELECT on_ FROM refuse) THEN RAISE EXCEPTION 'refused' USING ERRCODE = '22023';"
        " END IF; RETURN NEW; END $$;"
        "CREATE TRIGGER refuse_calls BEFORE INSERT OR UPDATE ON calls"
        " FOR EACH ROW EXECUTE FUNCTION refuse_calls()");
    r->write_only({bodies[0]});
    auto refused = r->writer().apply_beside();
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->what, store::pg_error::kind::data);
    EXPECT_EQ(r->writer().derived_pending(), 0U);  // dropped
    r->db().exec("UPDATE refuse SET on_ = false");
    r->write_only({bodies[1]});
    ASSERT_FALSE(r->writer().apply_beside());  // bodies[1] only
    EXPECT_NE(r->calls_row(), reference->calls_row());
    expect_taken_over_like(*r, *reference);
}

TEST_F(CallState, ConversationFollowsTheUpdatesThenTheReport) {
    const auto bodies = call_bodies(6);
    auto r = make_replica();
    std::string last_update, older_update;
    for (const auto& b : bodies) {
        const auto type = message_of(b).at("type").as_string();
        if (type == "end-of-call-report") break;
        r->write(b);
        if (type == "conversation-update") {
            older_update = last_update;
            last_update = b;
        }
    }
    ASSERT_FALSE(older_update.empty());
    EXPECT_EQ(stored_turns(r->db()),
              expected_turns(message_of(last_update).at("messages").as_array()));

    // A late redelivery of an older update does not roll the conversation back.
    r->write(older_update);
    EXPECT_EQ(stored_turns(r->db()),
              expected_turns(message_of(last_update).at("messages").as_array()));

    const std::string& report = bodies.back();
    r->write(report);
    const auto report_items = message_of(report).at("artifact").at("messages").as_array();
    EXPECT_EQ(stored_turns(r->db()), expected_turns(report_items));
    EXPECT_EQ(r->db().scalar("SELECT count(*) FROM call_messages"),
              std::to_string(report_items.size()));
}

TEST_F(CallState, TheReportIsAuthoritativeEvenWhenAConversationUpdateIsLonger) {
    // A report whose conversation differs from (and is shorter than) the last update.
    auto r = make_replica();
    const std::string update = example_file("10-conversation-update.json");
    const std::string report = example_file("12-end-of-call-report.json");
    r->write(update);
    r->write(report);
    const auto items = message_of(report).at("artifact").at("messages").as_array();
    EXPECT_EQ(stored_turns(r->db()), expected_turns(items));
    // Tool calls and results keep their details.
    EXPECT_EQ(r->db().scalar("SELECT (role, tool_calls -> 0 -> 'function' ->> 'name') ::text "
                             "FROM call_messages WHERE role = 'tool_calls'"),
              "(tool_calls,checkAvailability)");
    EXPECT_EQ(r->db().scalar("SELECT (tool_call_id, name, result::jsonb -> 'date')::text "
                             "FROM call_messages WHERE role = 'tool_call_result'"),
              "(call_Xq4mB7nR2tL9vK1pZ8wD3hYc,checkAvailability,\"\"\"2025-06-17\"\"\")");
    EXPECT_EQ(r->db().scalar("SELECT (seconds_from_start, duration)::text FROM call_messages "
                             "WHERE position = 2"),
              "(5.1,3400)");
}

TEST_F(CallState, EveryFactOfTheReportIsStoredInEitherOrder) {
    const std::string report = example_file("12-end-of-call-report.json");
    const std::string ended = example_file("11-status-update-ended.json");
    const std::string progress = example_file("04-status-update-in-progress.json");
    const auto m = message_of(report);
    const auto& call = m.at("call").as_object();
    const auto& artifact = m.at("artifact").as_object();
    const auto& analysis = m.at("analysis").as_object();

    auto a = make_replica();
    auto b = make_replica();
    for (const auto* body : {&progress, &ended, &report}) a->write(*body);
    for (const auto* body : {&report, &ended, &progress}) b->write(*body);
    EXPECT_EQ(a->calls_row(), b->calls_row());

    auto& db = a->db();
    auto col = [&](const std::string& expr) {
        return db.scalar("SELECT (" + expr + ")::text FROM calls");
    };
    auto str = [](const json::value& v) { return std::string(v.as_string()); };
    EXPECT_EQ(col("status"), "ended");
    EXPECT_EQ(col("ended_reason"), str(m.at("endedReason")));
    EXPECT_EQ(col("cost = " + json::serialize(m.at("cost"))), "true");
    EXPECT_EQ(col("type"), str(call.at("type")));
    EXPECT_EQ(col("org_id"), str(call.at("orgId")));
    EXPECT_EQ(col("assistant_id"), str(call.at("assistantId")));
    EXPECT_EQ(col("phone_number_id"), str(call.at("phoneNumberId")));
    EXPECT_EQ(col("phone_number"), str(m.at("phoneNumber").at("number")));
    EXPECT_EQ(col("customer_number"), str(m.at("customer").at("number")));
    EXPECT_EQ(col("phone_call_provider"), str(call.at("phoneCallProvider")));
    EXPECT_EQ(col("phone_call_transport"), str(call.at("phoneCallTransport")));
    EXPECT_EQ(col("transport_provider"), str(call.at("transport").at("provider")));
    EXPECT_EQ(col("summary"), str(analysis.at("summary")));
    EXPECT_EQ(col("success_evaluation"), str(analysis.at("successEvaluation")));
    EXPECT_EQ(
        col("structured_data = " + lit(json::serialize(analysis.at("structuredData"))) + "::jsonb"),
        "true");
    EXPECT_EQ(col("costs = " + lit(json::serialize(m.at("costs"))) + "::jsonb"), "true");
    EXPECT_EQ(col("cost_breakdown = " + lit(json::serialize(call.at("costBreakdown"))) + "::jsonb"),
              "true");
    EXPECT_EQ(col("recording_url"), str(artifact.at("recordingUrl")));
    EXPECT_EQ(col("stereo_recording_url"), str(artifact.at("stereoRecordingUrl")));
    EXPECT_EQ(col("log_url"), str(artifact.at("logUrl")));
    EXPECT_EQ(col("transcript"), str(artifact.at("transcript")));
    EXPECT_EQ(col("started_at = " + lit(str(m.at("startedAt"))) + "::timestamptz"), "true");
    EXPECT_EQ(col("ended_at = " + lit(str(m.at("endedAt"))) + "::timestamptz"), "true");
    EXPECT_EQ(col("created_at = " + lit(str(call.at("createdAt"))) + "::timestamptz"), "true");
    EXPECT_EQ(col("duration_seconds"), "36.400000");
}

TEST_F(CallState, ALaterMessageCannotOverrideTheReport) {
    // An update that arrives after the report, with a later timestamp and different facts: the
    // report states all of them and outranks every other message.
    auto r = make_replica();
    std::string report = example_file("12-end-of-call-report.json");
    r->write(report);
    auto late = json::parse(example_file("11-status-update-ended.json"));
    auto& msg = late.at("message").as_object();
    msg["timestamp"] = 1749737099000;
    msg["endedReason"] = "assistant-error";
    msg["call"].as_object()["cost"] = 99.5;
    msg["call"].as_object()["assistantId"] = "another-assistant";
    msg["call"].as_object()["workflowId"] = "wf-late";
    r->write(json::serialize(late));
    EXPECT_EQ(r->db().scalar("SELECT (ended_reason, cost, assistant_id)::text FROM calls"),
              "(customer-ended-call,0.0691,5d8a2e6f-1c3b-4f7a-a9d2-e04b7c61f3a8)");
    // A fact the report does not state is still taken from the later message.
    EXPECT_EQ(r->db().scalar("SELECT workflow_id FROM calls"), "wf-late");
}

TEST_F(CallState, OddConversationItemsAreKeptWithoutFailingTheBatch) {
    auto r = make_replica();
    const std::string body = R"({"message":{"type":"conversation-update","timestamp":5,
        "call":{"id":"odd-call"},"messages":[
          {"role":"user","message":"hi","time":"yesterday","endTime":1e300,"secondsFromStart":1e999},
          "just a string", 42, null, [1,2],
          {"toolCalls":[{"id":"t1"}],"time":-5},
          {"toolCallId":"t1","result":{"not":"a string"},"name":7}]}})";
    r->write(body);
    EXPECT_EQ(r->db().column(
                  "SELECT concat_ws('|', position, coalesce(role, '-'), coalesce(message, '-'), "
                  "coalesce(time::text, '-'), coalesce(end_time::text, '-'), "
                  "coalesce((seconds_from_start = 1e999)::text, '-'), coalesce(tool_call_id, '-'), "
                  "coalesce(result, '-')) FROM call_messages ORDER BY position"),
              (std::vector<std::string>{"0|user|hi|-|-|true|-|-", "1|-|-|-|-|-|-|-",
                                        "2|-|-|-|-|-|-|-", "3|-|-|-|-|-|-|-", "4|-|-|-|-|-|-|-",
                                        "5|tool_calls|-|1969-12-31 23:59:59.995+00|-|-|-|-",
                                        "6|tool_call_result|-|-|-|-|t1|{\"not\": \"a string\"}"}));
}

TEST_F(CallState, ViewsAnswerPerCallAndPerDayQuestions) {
    const auto bodies = call_bodies(5);
    auto r = make_replica();
    r->write(bodies);
    auto& db = r->db();
    int transcripts = 0, finals = 0, speech = 0;
    for (const auto& b : bodies) {
        const auto m = message_of(b);
        const auto type = m.at("type").as_string();
        if (type == "transcript") {
            ++transcripts;
            if (m.at("transcriptType").as_string() == "final") ++finals;
        }
        if (type == "speech-update") ++speech;
    }
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_transcripts WHERE call_id = " + lit(k_call)),
              std::to_string(transcripts));
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_transcripts WHERE transcript_type = 'final'"),
              std::to_string(finals));
    // In time order, the partial of a turn comes before its final.
    EXPECT_EQ(db.scalar("SELECT string_agg(left(transcript_type, 1), '' ORDER BY sent_at) "
                        "FROM call_transcripts"),
              [&] {
                  std::string s;
                  for (int i = 0; i < finals; ++i) s += "pf";
                  return s;
              }());
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_speech"), std::to_string(speech));
    EXPECT_EQ(db.scalar("SELECT (calls, ended_calls, total_cost, ended_reason)::text "
                        "FROM calls_daily"),
              "(1,1,0.0691,customer-ended-call)");
}

// Reporting across calls reads a time range of call_events (migration 009: a BRIN index on
// sent_at), whatever the message type; the rows found are exactly those of the range.
TEST_F(CallState, ATimeRangeAcrossCallsIsReadThroughTheTimeIndex) {
    const auto bodies = call_bodies(5);
    auto r = make_replica();
    r->write(bodies);
    auto& db = r->db();
    std::vector<std::int64_t> transcript_ms;
    for (const auto& b : bodies) {
        const auto m = message_of(b);
        if (m.at("type").as_string() == "transcript") {
            transcript_ms.push_back(m.at("timestamp").to_number<std::int64_t>());
        }
    }
    ASSERT_GE(transcript_ms.size(), 4U);
    const std::int64_t from = transcript_ms[transcript_ms.size() / 2];
    const auto in_range = std::count_if(transcript_ms.begin(), transcript_ms.end(),
                                        [&](std::int64_t t) { return t >= from; });
    const std::string where = " FROM call_transcripts WHERE sent_at >= to_timestamp(" +
                              std::to_string(from) + " / 1000.0)";
    EXPECT_EQ(db.scalar("SELECT count(*)" + where), std::to_string(in_range));

    // A month of traffic is far more than the call above: 50,000 more rows over 14 hours, in
    // time order as they arrive. An hour of them is read through the time index, not by a scan
    // of the partition or of its primary key.
    db.exec(
        "INSERT INTO call_events (call_id, sent_at, dedupe_key, type, received_at, skeleton)"
        " SELECT 'bulk-' || (i / 15), timestamptz '2025-06-01' + i * interval '1 second',"
        " 'k' || i, 'speech-update', now(), '{}' FROM generate_series(1, 50000) i;"
        " ANALYZE call_events");
    std::string plan;
    for (const auto& line : db.column("EXPLAIN SELECT count(*) FROM call_speech WHERE sent_at"
                                      " BETWEEN '2025-06-01 02:00Z' AND '2025-06-01 03:00Z'")) {
        plan += line + "\n";
    }
    EXPECT_NE(plan.find("Bitmap Index Scan on call_events_default_sent_at_idx"), std::string::npos)
        << plan;
}

}  // namespace
}  // namespace switchboard::test
