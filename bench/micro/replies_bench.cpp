// Micro-benchmarks of the replies computed from memory: the routing-table lookup and the whole
// assistant-request reply (lookup + JSON body), with 10,000 routed numbers.
//   build/release/bench/switchboard-micro --benchmark_filter=reply --benchmark_min_time=0.2
#include "switchboard/config/config.hpp"
#include "switchboard/ingest/parse.hpp"
#include "switchboard/ingest/replies.hpp"
#include "switchboard/ingest/routing.hpp"

#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>

namespace {
using namespace switchboard;

std::string example_body(const char* name) {
    std::ifstream in(std::string(SWITCHBOARD_EXAMPLES_DIR) + "/" + name, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    s.reserve(s.size() + 64);
    return s;
}

/// 10,000 routed numbers, plus the example's.
void fill(ingest::routing_table& table, const std::string& phone_number_id) {
    std::vector<ingest::phone_route> rows;
    for (int i = 0; i < 10'000; ++i) {
        rows.push_back({"pn-" + std::to_string(i), "+1555" + std::to_string(1'000'000 + i),
                        ingest::route{ingest::route::kind::assistant, "a-" + std::to_string(i)},
                        0});
    }
    rows.push_back(
        {phone_number_id, "", ingest::route{ingest::route::kind::assistant, "routed"}, 0});
    table.replace(rows);
}

void reply_routing_lookup(benchmark::State& state) {
    ingest::routing_table table;
    fill(table, "pn-example");
    for (auto _ : state) {
        auto r = table.lookup("pn-example", "+14155550123");
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(reply_routing_lookup);

void reply_assistant_request(benchmark::State& state) {
    ingest::event ev;
    const std::string body = example_body("01-assistant-request.json");
    if (!ingest::parse_webhook(body, ev)) state.SkipWithError("parse failed");
    ingest::routing_table table;
    fill(table, std::string(ev.call.get(ingest::fact::phone_number_id).value_or("")));
    config::replies_config cfg;
    metrics::registry reg;
    const ingest::replier replies(cfg, table, nullptr, reg);
    for (auto _ : state) {
        auto r = replies.immediate(ev);
        benchmark::DoNotOptimize(r.body.data());
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(reply_assistant_request);

}  // namespace
