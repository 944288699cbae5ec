// switchboard-replay: the Postgres side of the ingest path, without HTTP and without timing
// noise from batching. Renders a fixed set of synthetic calls (bench/load's call scripts, the
// messages interleaved across calls as they arrive in a run), parses them, and writes them with
// one batch_writer in batches of a fixed size. Prints the writer's and the Postgres backend's
// CPU per event (from getrusage and /proc/<backend>/stat), so changes to how batches are sent
// can be compared with the same work, e.g. under `valgrind --tool=callgrind`.
//
//   switchboard-replay --database-url postgresql://… --calls 64 --turns 10 --batch 32
#include "../load/call_script.hpp"

#include "switchboard/ingest/parse.hpp"
#include "switchboard/metrics/registry.hpp"
#include "switchboard/store/batch_writer.hpp"
#include "switchboard/store/migrations.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

using namespace switchboard;

namespace {

double proc_cpu_s(int pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(f)), {});
    const auto close = s.rfind(')');
    if (close == std::string::npos) return 0;
    std::vector<std::string> fields;
    std::string cur;
    for (std::size_t i = close + 2; i < s.size(); ++i) {
        if (s[i] == ' ') {
            fields.push_back(cur);
            cur.clear();
        } else {
            cur += s[i];
        }
    }
    // fields[0] is field 3 (state): utime is field 14, stime 15.
    return (std::stod(fields[11]) + std::stod(fields[12])) /
           static_cast<double>(sysconf(_SC_CLK_TCK));
}

double self_cpu_s() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/// The writer's backend: the one other session named "switchboard".
int writer_backend(const std::string& url) {
    std::string error;
    auto c = store::pg_connection::connect(url, std::chrono::seconds(5), error);
    store::pg_result r(nullptr, &PQclear);
    if (!c ||
        c->query("SELECT pid FROM pg_stat_activity WHERE application_name = 'switchboard'"
                 " AND pid <> pg_backend_pid() AND datname = current_database()",
                 r) ||
        PQntuples(r.get()) != 1) {
        std::cerr << "cannot find the writer's backend\n";
        std::exit(1);
    }
    return std::atoi(PQgetvalue(r.get(), 0, 0));
}

}  // namespace

int main(int argc, char** argv) {
    std::string url, examples = "../shared/vapi/examples", prefix = "replay";
    int calls = 64, turns = 10;
    std::size_t batch = 32;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--database-url")
            url = v;
        else if (k == "--examples")
            examples = v;
        else if (k == "--calls")
            calls = std::stoi(v);
        else if (k == "--turns")
            turns = std::stoi(v);
        else if (k == "--batch")
            batch = std::stoul(v);
        else if (k == "--prefix")
            prefix = v;
        else {
            std::cerr << "unknown option " << k << "\n";
            return 2;
        }
    }
    if (url.empty()) {
        std::cerr << "usage: switchboard-replay --database-url URL [--calls N] [--turns N] "
                     "[--batch N] [--prefix ID-PREFIX] [--examples DIR]\n";
        return 2;
    }

    // The events, interleaved across calls (one message of each call in turn).
    load::call_templates templates(examples);
    std::vector<load::call_script> scripts;
    for (int c = 0; c < calls; ++c) {
        scripts.emplace_back(templates, prefix + "-" + std::to_string(c), turns,
                             1'780'000'000'000 + c * 1000);
    }
    std::vector<ingest::event> events;
    for (bool more = true; more;) {
        more = false;
        for (auto& s : scripts) {
            if (s.done()) continue;
            more = true;
            std::string body;
            s.next(body);
            body.reserve(body.size() + 64);  // simdjson reads up to SIMDJSON_PADDING past the end
            ingest::event ev;
            if (auto r = ingest::parse_webhook(body, ev); !r) {
                std::cerr << "parse failed: " << r.error().detail << "\n";
                return 1;
            }
            ev.body = std::move(body);
            ev.received_us = 1'780'000'000'000'000;
            events.push_back(std::move(ev));
        }
    }

    config::store_config cfg;
    cfg.database_url = url;
    config::queue_config qcfg;
    ingest::event_queue queue(qcfg);
    metrics::registry reg;
    store::store_metrics metrics(reg);
    std::string error;
    {
        auto conn = store::pg_connection::connect(url, std::chrono::seconds(5), error);
        if (!conn) {
            std::cerr << "connect: " << error << "\n";
            return 1;
        }
        store::migrate(*conn, store::embedded_migrations());
    }
    store::batch_writer writer(0, cfg, queue, metrics);
    if (!writer.connect(error)) {
        std::cerr << "connect: " << error << "\n";
        return 1;
    }
    std::size_t batches = 0;
    long inserted_total = 0;
    double client0 = self_cpu_s();
    int pid = -1;
    double be0 = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t off = 0; off < events.size(); off += batch) {
        const std::size_t n = std::min(batch, events.size() - off);
        long inserted = 0;
        if (pid < 0) {
            pid = writer_backend(url);
            be0 = proc_cpu_s(pid);
            client0 = self_cpu_s();
        }
        if (auto e = writer.write_once(std::span(events.data() + off, n), inserted)) {
            std::cerr << "batch failed: " << e->message << "\n";
            return 1;
        }
        inserted_total += inserted;
        ++batches;
    }
    // The derived call state, merged over the batches as the service does within
    // --derive-delay-ms, is applied once at the end (counted in the figures).
    if (auto e = writer.flush_derived()) {
        std::cerr << "applying the derived state failed: " << e->message << "\n";
        return 1;
    }
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double be = proc_cpu_s(pid) - be0;
    const double client = self_cpu_s() - client0;
    const double n = static_cast<double>(events.size());
    std::printf(
        "events=%zu inserted=%ld batches=%zu batch=%zu wall_s=%.2f backend_cpu_us_per_event=%.1f "
        "writer_cpu_us_per_event=%.1f\n",
        events.size(), inserted_total, batches, batch, wall, be * 1e6 / n, client * 1e6 / n);
    return 0;
}
