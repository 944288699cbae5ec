// bench/load, the load generator behind BENCHMARKS.md, against the real service: what it counts
// must be what happened, since its ledger decides whether a run is valid
// (bench/analysis.md, session 14: the defects these tests guard against).
#include "support/e2e.hpp"
#include "support/service_process.hpp"
#include "support/test_db.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#ifdef SWITCHBOARD_LOAD_BINARY

namespace switchboard::test {
namespace {

using namespace std::chrono_literals;

struct load_run {
    int exit_code = -1;
    std::string output;
    boost::json::object report;  ///< empty when the run wrote none
};

/// Runs switchboard-load against the service on `port` with `args` after the common ones.
load_run run_load(std::uint16_t port, const std::string& database_url, const std::string& args) {
    std::string dir = "/tmp/sbload-XXXXXX";
    if (::mkdtemp(dir.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    const std::string report = dir + "/report.json";
    const std::string out = dir + "/out.txt";
    const std::string cmd =
        std::string(SWITCHBOARD_LOAD_BINARY) + " --url http://127.0.0.1:" + std::to_string(port) +
        "/receive --secret " + k_secret +
        " --examples '" SWITCHBOARD_EXAMPLES_DIR "' --database-url '" + database_url +
        "' --progress 0 --report " + report + " " + args + " > " + out + " 2>&1";
    const int status = std::system(cmd.c_str());
    load_run r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::stringstream text;
    text << std::ifstream(out).rdbuf();
    r.output = text.str();
    if (std::ifstream in(report); in) {
        std::stringstream json;
        json << in.rdbuf();
        r.report = boost::json::parse(json.str()).as_object();
    }
    std::filesystem::remove_all(dir);
    return r;
}

std::int64_t count(const boost::json::object& report, const char* field) {
    return report.at(field).to_number<std::int64_t>();
}

TEST(LoadGenerator, SendsAgainWhatMeetsTheServersCloseOfAnIdleConnection) {
    // Two webhooks a second and a 300 ms idle timeout: the connection freed last (the one the
    // generator reuses first) is closed by the server before every request after the first.
    // Each of those requests must be sent again on a new connection, not counted refused.
    test_db db;
    service_process svc({.env = service_env(db.url(), {{"SWITCHBOARD_IDLE_TIMEOUT_MS", "300"}})});
    ASSERT_NE(svc.port(), 0) << svc.log();
    const load_run r =
        run_load(svc.port(), db.url(), "--mode open --rate 2 --duration 4 --connections 2");
    ASSERT_FALSE(r.report.empty()) << r.output;
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(count(r.report, "sent"), 8) << r.output;
    EXPECT_EQ(count(r.report, "acked"), 8) << r.output;
    EXPECT_EQ(count(r.report, "refused"), 0) << r.output;
    EXPECT_TRUE(r.report.at("ledger").at("valid").as_bool()) << r.output;
    EXPECT_EQ(db.scalar("SELECT count(*) FROM call_events"), "8");
}

TEST(LoadGenerator, MaxRequestsInOpenModeSendsExactlyThatManyAndTimesTheRunToItsLastAnswer) {
    test_db db;
    service_process svc({.env = service_env(db.url())});
    ASSERT_NE(svc.port(), 0) << svc.log();
    const load_run r = run_load(svc.port(), db.url(),
                                "--mode open --rate 200 --duration 20 --connections 8 "
                                "--max-requests 150");
    ASSERT_FALSE(r.report.empty()) << r.output;
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(count(r.report, "sent"), 150) << r.output;
    EXPECT_EQ(count(r.report, "acked"), 150) << r.output;
    EXPECT_EQ(count(r.report, "not_sent"), 0) << r.output;
    // 150 at 200/s take 0.75 s, not the 20 s window.
    EXPECT_LT(r.report.at("duration_s").to_number<double>(), 10.0) << r.output;
    EXPECT_TRUE(r.report.at("ledger").at("valid").as_bool()) << r.output;
}

TEST(LoadGenerator, RefusesOptionsThatMakeARunMeaningless) {
    for (const std::string args :
         {"--calls 0", "--connections 0", "--mode open --rate 0", "--duration 0", "--repeat 1.5",
          "--warmup -1", "--turns 0", "--progress -1"}) {
        // No service needed: the options are checked before anything is sent.
        const load_run r = run_load(1, "postgresql://nowhere", args);
        EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
        const std::string option =
            args.substr(args.rfind("--"), args.find(' ', args.rfind("--")) - args.rfind("--"));
        EXPECT_NE(r.output.find(option), std::string::npos) << args << ": " << r.output;
        EXPECT_TRUE(r.report.empty()) << args;
    }
}

}  // namespace
}  // namespace switchboard::test

#endif  // SWITCHBOARD_LOAD_BINARY
