// Micro-benchmarks of the ingest hot path: parse/extract per message type, authentication,
// queue hand-off and COPY encoding. Items/s and bytes/s per benchmark.
//   build/release/bench/switchboard-micro --benchmark_min_time=0.2
#include "switchboard/config/config.hpp"
#include "switchboard/http/message.hpp"
#include "switchboard/ingest/auth.hpp"
#include "switchboard/ingest/event_queue.hpp"
#include "switchboard/ingest/parse.hpp"
#include "switchboard/store/array_encoder.hpp"
#include "switchboard/store/binary_array.hpp"

#include <array>

#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace {
using namespace switchboard;

std::string example(const char* name) {
    std::ifstream in(std::string(SWITCHBOARD_EXAMPLES_DIR) + "/" + name, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    s.reserve(s.size() + 64);
    return s;
}

void parse(benchmark::State& state, const char* name) {
    const std::string body = example(name);
    for (auto _ : state) {
        ingest::event ev;
        auto r = ingest::parse_webhook(body, ev);
        benchmark::DoNotOptimize(r);
        benchmark::DoNotOptimize(ev.dedupe_key.data());
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}
BENCHMARK_CAPTURE(parse, status_update, "04-status-update-in-progress.json");
BENCHMARK_CAPTURE(parse, speech_update, "05-speech-update.json");
BENCHMARK_CAPTURE(parse, transcript, "07-transcript-final.json");
BENCHMARK_CAPTURE(parse, tool_calls, "08-tool-calls.json");
BENCHMARK_CAPTURE(parse, conversation_update, "10-conversation-update.json");
BENCHMARK_CAPTURE(parse, end_of_call_report, "12-end-of-call-report.json");

http::request signed_request(const ingest::authenticator& auth, const std::string& body,
                             bool hmac) {
    http::request req;
    req.body() = body;
    if (hmac) {
        const std::string ts = std::to_string(std::time(nullptr));
        req.set("x-timestamp", ts);
        req.set("x-signature", auth.sign(ts, body));
    } else {
        req.set("X-Vapi-Secret", "bench-secret-value-0123456789");
    }
    return req;
}

void auth_secret(benchmark::State& state) {
    config::auth_config cfg;
    cfg.secret = "bench-secret-value-0123456789";
    const ingest::authenticator auth(cfg);
    const auto req = signed_request(auth, example("05-speech-update.json"), false);
    for (auto _ : state) benchmark::DoNotOptimize(auth.check(req, std::time(nullptr) * 1000));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(auth_secret);

void auth_hmac(benchmark::State& state) {
    config::auth_config cfg;
    cfg.hmac.secret = "bench-hmac-key";
    const ingest::authenticator auth(cfg);
    const std::string body = example("12-end-of-call-report.json");
    const auto req = signed_request(auth, body, true);
    for (auto _ : state) benchmark::DoNotOptimize(auth.check(req, std::time(nullptr) * 1000));
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}
BENCHMARK(auth_hmac);

/// Vapi's OAuth2 plan: a webhook presenting a token this service issued. `known`: the token was
/// seen before (Vapi reuses one until it expires), so the check is a digest and a lookup; not
/// known: a fresh token each time, so its signature and claims are verified.
void auth_oauth(benchmark::State& state) {
    config::auth_config cfg;
    cfg.oauth.client_id = "bench-client";
    cfg.oauth.client_secret = "bench-oauth-client-secret";
    const ingest::authenticator auth(cfg);
    const bool known = state.range(0) != 0;
    http::request req;
    req.body() = example("05-speech-update.json");
    const std::int64_t now = std::time(nullptr);
    std::vector<std::string> tokens;
    // More new tokens than the verifier remembers (8,192), so that almost every check misses.
    for (int i = 0; i < (known ? 1 : 20000); ++i) tokens.push_back(auth.oauth()->issue(now));
    std::size_t i = 0;
    for (auto _ : state) {
        req.set(boost::beast::http::field::authorization, "Bearer " + tokens[i++ % tokens.size()]);
        benchmark::DoNotOptimize(auth.check(req, now * 1000));
    }
    state.SetItemsProcessed(state.iterations());
    state.SetLabel(known ? "known token" : "new token each time");
}
BENCHMARK(auth_oauth)->Arg(1)->Arg(0);

void queue_handoff(benchmark::State& state) {
    config::queue_config cfg;
    ingest::event_queue q(cfg);
    auto token = q.consumer_token();
    const std::size_t batch = static_cast<std::size_t>(state.range(0));
    std::vector<ingest::event> out(batch);
    const std::string body = example("05-speech-update.json");
    for (auto _ : state) {
        for (std::size_t i = 0; i < batch; ++i) {
            ingest::event ev;
            ev.body = body;
            q.try_push(ev);
        }
        std::size_t got = 0;
        std::size_t bytes = 0;
        while (got < batch) got += q.try_pop_bulk(token, out.data() + got, batch - got);
        for (auto& ev : out) bytes += ev.footprint();
        q.release(got, bytes);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
}
BENCHMARK(queue_handoff)->Arg(1)->Arg(64)->Arg(512);

// Batch encoding as text array literals (what the writer sent before session 3).
void batch_encode(benchmark::State& state) {
    const std::string body = example("10-conversation-update.json");
    ingest::event ev;
    ev.body = body;
    (void)ingest::parse_webhook(body, ev);
    std::array<store::array_encoder, 5> cols;
    for (auto _ : state) {
        for (auto& c : cols) c.clear();
        for (int i = 0; i < 512; ++i) {
            cols[0].text(ev.call_id);
            cols[1].integer(*ev.timestamp_ms);
            cols[2].text(ev.dedupe_key);
            cols[3].text(ev.type_name);
            cols[4].text(ev.skeleton);
        }
        for (auto& c : cols) benchmark::DoNotOptimize(c.finish());
    }
    state.SetItemsProcessed(state.iterations() * 512);
    state.SetBytesProcessed(state.iterations() * 512 *
                            static_cast<std::int64_t>(ev.skeleton.size()));
}
BENCHMARK(batch_encode);

// The same columns in binary array format (what the writer sends since session 3).
void batch_encode_binary(benchmark::State& state) {
    const std::string body = example("10-conversation-update.json");
    ingest::event ev;
    ev.body = body;
    (void)ingest::parse_webhook(body, ev);
    using store::pg_elem;
    std::array<store::binary_array, 5> cols = {
        store::binary_array(pg_elem::text), store::binary_array(pg_elem::int8),
        store::binary_array(pg_elem::text), store::binary_array(pg_elem::text),
        store::binary_array(pg_elem::text)};
    for (auto _ : state) {
        for (auto& c : cols) c.clear();
        for (int i = 0; i < 512; ++i) {
            cols[0].text(ev.call_id);
            cols[1].integer(*ev.timestamp_ms);
            cols[2].text(ev.dedupe_key);
            cols[3].text(ev.type_name);
            cols[4].text(ev.skeleton);
        }
        for (auto& c : cols) benchmark::DoNotOptimize(c.finish());
    }
    state.SetItemsProcessed(state.iterations() * 512);
    state.SetBytesProcessed(state.iterations() * 512 *
                            static_cast<std::int64_t>(ev.skeleton.size()));
}
BENCHMARK(batch_encode_binary);

}  // namespace

BENCHMARK_MAIN();
