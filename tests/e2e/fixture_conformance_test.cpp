// The synthetic calls the tests and the load generator use (bench/load/call_script) are
// realistic only if they are valid Vapi messages: every body of a long call is checked against
// the official SDK's types with shared/vapi/check-conformance.sh (TypeScript, strict).
#include "load/call_script.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

namespace switchboard::test {
namespace {

namespace fs = std::filesystem;

/// Runs a shell command, returning its exit status and combined output.
std::pair<int, std::string> run(const std::string& command) {
    std::string output;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr) return {-1, "popen failed"};
    char buf[4096];
    while (std::fgets(buf, sizeof buf, pipe) != nullptr) output += buf;
    const int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(FixtureConformance, GeneratedCallsMatchTheSdkTypes) {
    const load::call_templates templates(SWITCHBOARD_EXAMPLES_DIR);
    const fs::path dir = fs::temp_directory_path() / ("sb-fixtures-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);

    // Every message of a 20-turn call, and the two largest messages of a 60-turn one.
    std::set<std::string> types;
    int n = 0;
    auto save = [&](const std::string& body) {
        const auto type = boost::json::parse(body).at("message").at("type").as_string();
        types.emplace(type);
        char name[64];
        std::snprintf(name, sizeof name, "%04d-%s.json", n++, type.c_str());
        std::ofstream(dir / name) << body;
    };
    load::call_script call(templates, "0b6f2c1e-5a4d-4e3b-8c2f-7d6e5f4a3b2c", 20,
                           1'764'000'000'000);
    while (!call.done()) {
        std::string body;
        call.next(body);
        save(body);
    }
    load::call_script longer(templates, "1c7a3d2f-6b5e-4f4c-9d3a-8e7f6a5b4c3d", 60,
                             1'764'000'000'000);
    std::string previous, body;
    while (!longer.done()) {
        previous.swap(body);
        body.clear();
        longer.next(body);
    }
    save(previous);  // status-update ended
    save(body);      // the end-of-call report with the 60-turn conversation
    EXPECT_EQ(types,
              (std::set<std::string>{"status-update", "speech-update", "transcript",
                                     "conversation-update", "tool-calls", "end-of-call-report"}));

    const auto [status, output] =
        run("bash '" SWITCHBOARD_CONFORMANCE_SCRIPT "' '" + dir.string() + "'");
    EXPECT_EQ(status, 0) << output;
    EXPECT_NE(output.find("files match the Vapi SDK"), std::string::npos) << output;
    if (status == 0) fs::remove_all(dir);
}

}  // namespace
}  // namespace switchboard::test
