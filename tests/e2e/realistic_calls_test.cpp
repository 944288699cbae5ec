// Realistic, varied Vapi calls (tests/e2e/realistic_calls.py generates them) posted to the real
// binary over HTTP, against a real Postgres, three ways: (a) once in order, (b) every delivery
// twice in a shuffled order (including the report's redelivery with new presigned URLs),
// (c) the same by four concurrent senders. The calls rows, the turns (call_messages) and the
// events must be the same each way (and after (d), a service killed before it applied any
// derived state, completed by the next one); a service killed mid-stream while it applies the
// derived state every 5 ms (e) must leave what the next one completes as if derived from
// scratch; the calls facts must be what the messages say, the turns
// the final conversation, and export-call must print every distinct message JSON-equal to what
// was posted (the Python checker compares with exact numbers).
//
// SWITCHBOARD_REALISTIC_SEEDS (default "1,2,3") and SWITCHBOARD_REALISTIC_CALLS (default 8)
// choose the calls.
#include "support/e2e.hpp"
#include "support/http_client.hpp"
#include "support/service_process.hpp"
#include "support/test_db.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

namespace switchboard::test {
namespace {

namespace fs = std::filesystem;

const std::string k_script = SWITCHBOARD_REALISTIC_CALLS_SCRIPT;

std::pair<int, std::string> run(const std::string& command) {
    std::string output;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr) return {-1, "popen failed"};
    char buf[4096];
    while (std::fgets(buf, sizeof buf, pipe) != nullptr) output += buf;
    const int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

std::string python(const std::string& args) {
    return "SWITCHBOARD_EXAMPLES_DIR='" SWITCHBOARD_EXAMPLES_DIR "' python3 '" + k_script + "' " +
           args;
}

struct delivery {
    int call = 0, message = 0, variant = 0;
    std::string body;
};

struct plan {
    fs::path dir;
    std::vector<delivery> deliveries;
    std::vector<std::string> call_ids;
};

plan generate(int seed, int calls, const fs::path& dir) {
    plan p;
    p.dir = dir;
    fs::create_directories(dir);
    auto [code, out] = run(python("gen " + std::to_string(seed) + " " + std::to_string(calls) +
                                  " '" + dir.string() + "'"));
    EXPECT_EQ(code, 0) << out;
    std::ifstream in(dir / "bodies.txt");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        delivery d;
        ls >> d.call >> d.message >> d.variant;
        const auto at = static_cast<std::size_t>(ls.tellg()) + 1;
        d.body = line.substr(at);
        p.deliveries.push_back(std::move(d));
    }
    std::ifstream pj(dir / "plan.json");
    std::stringstream ss;
    ss << pj.rdbuf();
    const boost::json::value doc = boost::json::parse(ss.str());
    for (const auto& c : doc.as_array()) p.call_ids.emplace_back(c.at("id").as_string());
    return p;
}

constexpr const char* k_calls_dump = R"sql(
SELECT coalesce(json_agg(j ORDER BY j->>'id'), '[]')::text FROM (
  SELECT to_jsonb(c) - 'inserted_at' - 'updated_at' || jsonb_build_object(
    'created_at_ms', extract(epoch FROM created_at) * 1000,
    'started_at_ms', extract(epoch FROM started_at) * 1000,
    'ended_at_ms', extract(epoch FROM ended_at) * 1000,
    'first_event_at_ms', extract(epoch FROM first_event_at) * 1000,
    'last_event_at_ms', extract(epoch FROM last_event_at) * 1000) AS j
  FROM calls c) s
)sql";

constexpr const char* k_messages_dump = R"sql(
SELECT coalesce(json_agg(j ORDER BY j->>'call_id', (j->>'position')::int), '[]')::text FROM (
  SELECT to_jsonb(m) || jsonb_build_object(
    'time_ms', extract(epoch FROM time) * 1000,
    'end_time_ms', extract(epoch FROM end_time) * 1000) AS j
  FROM call_messages m) s
)sql";

// The events minus what may differ between deliveries of the same message: the receive time,
// and for the report (whose redeliveries carry new presigned URLs) the delivery that was kept.
constexpr const char* k_events_dump = R"sql(
SELECT coalesce(json_agg(j ORDER BY j->>'call_id', j->>'sent_at', j->>'dedupe_key'), '[]')::text
FROM (SELECT CASE WHEN type = 'end-of-call-report' AND $1
                  THEN to_jsonb(e) - 'received_at' - 'skeleton' - 'refs' - 'vapi_timestamp'
                       - 'received_bytes'
                  ELSE to_jsonb(e) - 'received_at' END AS j
      FROM call_events e) s
)sql";

struct snapshot {
    std::string calls, messages, events, events_loose;
};

std::string replace_param(std::string sql, const char* value) {
    const auto at = sql.find("$1");
    sql.replace(at, 2, value);
    return sql;
}

/// Posts the deliveries (from `senders` threads), dumps the tables and exports every call.
snapshot post_and_dump(const plan& p, const std::vector<const delivery*>& order, int senders,
                       const fs::path& out) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    EXPECT_NE(svc.port(), 0u);
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    std::mutex log_mutex;
    std::string failure_log;
    for (int s = 0; s < senders; ++s) {
        threads.emplace_back([&, s] {
            http_client client("127.0.0.1", svc.port());
            for (std::size_t i = static_cast<std::size_t>(s); i < order.size();
                 i += static_cast<std::size_t>(senders)) {
                const auto reply = client.post("/receive", order[i]->body, secret_headers());
                if (reply.status != 200) {
                    ++failures;
                    std::lock_guard lock(log_mutex);
                    if (failure_log.size() < 4000) {
                        failure_log += std::to_string(reply.status) + " " + reply.body + " for " +
                                       order[i]->body.substr(0, 200) + "\n";
                    }
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0) << failure_log;
    db.wait_derived();
    snapshot snap;
    snap.calls = db.scalar(k_calls_dump);
    snap.messages = db.scalar(k_messages_dump);
    snap.events = db.scalar(replace_param(k_events_dump, "false"));
    snap.events_loose = db.scalar(replace_param(k_events_dump, "true"));
    fs::create_directories(out);
    fs::copy_file(p.dir / "plan.json", out / "plan.json", fs::copy_options::overwrite_existing);
    std::ofstream(out / "calls.json") << snap.calls;
    std::ofstream(out / "messages.json") << snap.messages;
    for (const auto& id : p.call_ids) {
        auto [code, output] = run_binary({"export-call", id}, {{"DATABASE_URL", db.url()}});
        EXPECT_EQ(code, 0) << id << ": " << output.substr(0, 2000);
        std::ofstream(out / ("export-" + id + ".ndjson")) << output;
    }
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
    return snap;
}

/// Posts the deliveries in order to a service that keeps the derived call state in memory (a
/// delay of a minute), kills it (SIGKILL) once everything is acknowledged, and dumps the tables
/// after a new service on the same database has derived the calls again.
snapshot post_kill_restart_and_dump(const std::vector<const delivery*>& order) {
    test_db db;
    {
        service_process svc(
            {.env = service_env(db.url(), {{"SWITCHBOARD_DERIVE_DELAY_MS", "60000"}})});
        EXPECT_NE(svc.port(), 0u);
        http_client client("127.0.0.1", svc.port());
        for (const auto* d : order) {
            const auto reply = client.post("/receive", d->body, secret_headers());
            EXPECT_EQ(reply.status, 200u) << reply.body;
        }
        EXPECT_EQ(db.scalar("SELECT count(*) FROM calls"), "0");
        EXPECT_NE(db.scalar("SELECT count(*) FROM call_derive_pending"), "0");
        EXPECT_EQ(svc.stop(SIGKILL), 128 + SIGKILL);
    }
    service_process svc({.env = service_env(db.url())});
    EXPECT_NE(svc.port(), 0u);
    db.wait_derived();
    snapshot snap;
    snap.calls = db.scalar(k_calls_dump);
    snap.messages = db.scalar(k_messages_dump);
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
    return snap;
}

struct derived_state {
    std::string calls, messages;
};
derived_state dump_derived(test_db& db) {
    return {db.scalar(k_calls_dump), db.scalar(k_messages_dump)};
}

/// Posts the deliveries from four senders to a service that applies the derived state every 5
/// ms (on its derive connection, beside the batches), and kills it (SIGKILL) once `kill_after`
/// of them are acknowledged, while the rest are being posted. A new service derives what the killed
/// one left recorded. Returns that state, and the state derived from scratch from the same stored
/// messages (every derived row deleted, every call recorded under an owner that is gone): equal
/// unless an application deleted the record of a call whose latest stored message it did not
/// cover.
std::pair<derived_state, derived_state> post_kill_midstream_and_rederive(
    const std::vector<const delivery*>& order, std::size_t kill_after) {
    test_db db;
    std::atomic<std::size_t> acked{0};
    {
        service_process svc({.env = service_env(db.url(), {{"SWITCHBOARD_DERIVE_DELAY_MS", "5"}})});
        EXPECT_NE(svc.port(), 0u);
        std::atomic<bool> killed{false};
        std::vector<std::thread> threads;
        for (std::size_t s = 0; s < 4; ++s) {
            threads.emplace_back([&, s] {
                http_client client("127.0.0.1", svc.port(), std::chrono::seconds(5));
                for (std::size_t i = s; i < order.size() && !killed; i += 4) {
                    const auto reply = client.post("/receive", order[i]->body, secret_headers());
                    if (reply.status != 200) break;  // killed
                    if (++acked == kill_after && !killed.exchange(true)) ::kill(svc.pid(), SIGKILL);
                }
            });
        }
        for (auto& t : threads) t.join();
        EXPECT_TRUE(killed.load());
        EXPECT_EQ(svc.stop(SIGKILL), 128 + SIGKILL);
    }
    EXPECT_GE(acked.load(), kill_after);
    derived_state incremental, scratch;
    {
        service_process svc({.env = service_env(db.url())});
        EXPECT_NE(svc.port(), 0u);
        db.wait_derived();
        incremental = dump_derived(db);
        EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
    }
    db.exec(
        "DELETE FROM calls;"
        " INSERT INTO call_derive_pending (owner, call_id, generation)"
        " SELECT DISTINCT 1, call_id, 0 FROM call_events WHERE call_id <> ''");
    {
        service_process svc({.env = service_env(db.url())});
        EXPECT_NE(svc.port(), 0u);
        db.wait_derived();
        scratch = dump_derived(db);
        EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
    }
    EXPECT_NE(scratch.calls, "[]");
    return {incremental, scratch};
}

void check(const fs::path& dir, const std::string& what) {
    auto [code, out] = run(python("check '" + dir.string() + "'"));
    EXPECT_EQ(code, 0) << what << ":\n" << out;
}

std::vector<int> seeds() {
    std::vector<int> out;
    const char* env = std::getenv("SWITCHBOARD_REALISTIC_SEEDS");
    std::stringstream ss(env != nullptr ? env : "1,2,3");
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (!item.empty()) out.push_back(std::stoi(item));
    }
    return out;
}

int calls_per_seed() {
    const char* env = std::getenv("SWITCHBOARD_REALISTIC_CALLS");
    return env != nullptr ? std::atoi(env) : 8;
}

TEST(RealisticCalls, OnceTwiceShuffledAndConcurrentGiveTheSameRowsAndTheFactsOfTheMessages) {
    const fs::path root =
        fs::temp_directory_path() / ("sb-realistic-" + std::to_string(::getpid()));
    fs::remove_all(root);
    for (const int seed : seeds()) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        const plan p = generate(seed, calls_per_seed(), root / std::to_string(seed));
        ASSERT_FALSE(p.deliveries.empty());

        // (a) once, in order: the original of every message.
        std::vector<const delivery*> once;
        for (const auto& d : p.deliveries) {
            if (d.variant == 0) once.push_back(&d);
        }
        const auto a = post_and_dump(p, once, 1, p.dir / "a");
        check(p.dir / "a", "once in order");

        // (b) every delivery (redeliveries included) twice, shuffled.
        std::vector<const delivery*> twice;
        for (int round = 0; round < 2; ++round) {
            for (const auto& d : p.deliveries) twice.push_back(&d);
        }
        std::mt19937 rng(static_cast<unsigned>(seed));
        std::shuffle(twice.begin(), twice.end(), rng);
        const auto b = post_and_dump(p, twice, 1, p.dir / "b");
        check(p.dir / "b", "twice shuffled");

        // (c) the same, by four concurrent senders.
        std::shuffle(twice.begin(), twice.end(), rng);
        const auto c = post_and_dump(p, twice, 4, p.dir / "c");
        check(p.dir / "c", "concurrent senders");

        // (d) in order, by a service killed before it applied any derived state: the next
        // one derives every call again from its stored messages.
        const auto d = post_kill_restart_and_dump(once);
        EXPECT_EQ(a.calls, d.calls);
        EXPECT_EQ(a.messages, d.messages);

        // (e) killed in the middle of the stream while applications run every 5 ms: what it
        // left is completed by the next service as if derived from scratch. The calls take
        // turns (each call's messages in order), so that a call's next message often comes
        // after an application; three kills, at a quarter, half and three quarters.
        std::map<int, std::vector<const delivery*>> by_call;
        for (const auto* x : once) by_call[x->call].push_back(x);
        std::vector<const delivery*> turns;
        for (std::size_t k = 0; turns.size() < once.size(); ++k) {
            for (const auto& [call, list] : by_call) {
                if (k < list.size()) turns.push_back(list[k]);
            }
        }
        for (std::size_t q = 1; q <= 3; ++q) {
            SCOPED_TRACE("killed after " + std::to_string(q) + "/4");
            const auto [incremental, scratch] =
                post_kill_midstream_and_rederive(turns, turns.size() * q / 4);
            EXPECT_EQ(incremental.calls, scratch.calls);
            EXPECT_EQ(incremental.messages, scratch.messages);
        }

        EXPECT_EQ(a.calls, b.calls);
        EXPECT_EQ(a.calls, c.calls);
        EXPECT_EQ(a.messages, b.messages);
        EXPECT_EQ(a.messages, c.messages);
        EXPECT_EQ(a.events_loose, b.events_loose);
        EXPECT_EQ(a.events_loose, c.events_loose);
        // Of the report's deliveries the earliest is kept (lowest timestamp, then earliest
        // expiry of its presigned URLs): the original, as in (a).
        EXPECT_EQ(a.events, b.events);
        EXPECT_EQ(b.events, c.events);
    }
    if (!HasFailure()) fs::remove_all(root);
}

// Postgres cannot hold U+0000: the message is stored escaped (U+FDD0 U+FDD1) and exported as
// posted, not refused (a refused webhook is a lost message: Vapi does not retry by default).
TEST(RealisticCalls, NulIsStoredAndExportedAsPosted) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0u);
    http_client client("127.0.0.1", svc.port());
    const std::string transcript =
        R"({"message":{"type":"transcript","timestamp":1764547200000,"role":"user",)"
        R"("transcriptType":"final","transcript":"a\u0000b \\u0000 \ufdd0","call":{"id":"nul-call"}}})";
    const std::string update =
        R"({"message":{"type":"conversation-update","timestamp":1764547200100,"call":{"id":"nul-call"},)"
        R"("messages":[{"role":"user","message":"x\u0000y","time":1764547200000}],)"
        R"("messagesOpenAIFormatted":[{"role":"user","content":"x\u0000y"}]}})";
    for (const auto* body : {&transcript, &update, &transcript}) {
        const auto reply = client.post("/receive", *body, secret_headers());
        EXPECT_EQ(reply.status, 200u) << reply.body;
    }
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events WHERE call_id = 'nul-call'"), "2");
    EXPECT_EQ(db.scalar("SELECT transcript FROM call_transcripts WHERE call_id = 'nul-call'"),
              "a\uFDD0\uFDD1b \\u0000 \uFDD0\uFDD0");
    db.wait_derived();
    EXPECT_EQ(db.scalar("SELECT message FROM call_messages WHERE call_id = 'nul-call'"),
              "x\uFDD0\uFDD1y");
    auto [code, output] = run_binary({"export-call", "nul-call"}, {{"DATABASE_URL", db.url()}});
    ASSERT_EQ(code, 0) << output;
    std::vector<boost::json::value> exported;
    std::istringstream lines(output);
    for (std::string line; std::getline(lines, line);) {
        if (!line.empty() && line.front() == '{') exported.push_back(boost::json::parse(line));
    }
    ASSERT_EQ(exported.size(), 2u) << output;
    EXPECT_EQ(exported[0], boost::json::parse(transcript).at("message"));
    EXPECT_EQ(exported[1], boost::json::parse(update).at("message"));
    EXPECT_EQ(exported[0].at("transcript").as_string(),
              std::string_view("a\0b \\u0000 \uFDD0", 14));
    EXPECT_EQ(svc.stop(SIGTERM), 0) << svc.log();
}

TEST(RealisticCalls, ConformantBodiesMatchTheSdkTypes) {
    const fs::path dir =
        fs::temp_directory_path() / ("sb-realistic-conform-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    auto [gen_code, gen_out] = run(python("conform 7 '" + dir.string() + "'"));
    ASSERT_EQ(gen_code, 0) << gen_out;
    EXPECT_GT(std::atoi(gen_out.c_str()), 50) << gen_out;
    const auto [status, output] =
        run("bash '" SWITCHBOARD_CONFORMANCE_SCRIPT "' '" + dir.string() + "'");
    EXPECT_EQ(status, 0) << output;
    EXPECT_NE(output.find("files match the Vapi SDK"), std::string::npos) << output;
    if (status == 0) fs::remove_all(dir);
}

}  // namespace
}  // namespace switchboard::test
