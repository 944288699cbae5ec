#include "support/fake_vapi.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

extern char** environ;

namespace switchboard::test {

fake_vapi::fake_vapi() : fake_vapi(options{}) {}

fake_vapi::fake_vapi(options opts) : api_key_(opts.api_key) {
    std::string tmpl = "/tmp/sbfakevapi-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
        ADD_FAILURE() << "mkdtemp failed";
        return;
    }
    dir_ = tmpl;
    const std::string port_file = dir_ + "/port";
    const std::string log_file = dir_ + "/log";

    std::vector<std::string> args = {SWITCHBOARD_NODE, SWITCHBOARD_FAKE_VAPI_DIR "/server.mjs",
                                     "--port-file",    port_file,
                                     "--api-key",      opts.api_key};
    if (opts.deterministic_ids) args.emplace_back("--deterministic-ids");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        pid_ = -1;
        ADD_FAILURE() << "could not start " << SWITCHBOARD_NODE << ": " << std::strerror(rc);
        return;
    }

    const auto deadline = std::chrono::steady_clock::now() + opts.start_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        std::ifstream in(port_file);
        unsigned port = 0;
        if (in >> port && port != 0) {
            port_ = static_cast<std::uint16_t>(port);
            return;
        }
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            ADD_FAILURE() << "the fake Vapi exited during start-up:\n" << log();
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "the fake Vapi did not start listening in time:\n" << log();
}

fake_vapi::~fake_vapi() {
    if (pid_ > 0) {
        ::kill(pid_, SIGTERM);
        int status = 0;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (::waitpid(pid_, &status, WNOHANG) != pid_) {
            if (std::chrono::steady_clock::now() > deadline) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    if (!dir_.empty()) {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
}

std::string fake_vapi::base_url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
}

boost::json::value fake_vapi::control(const std::string& method, const std::string& target,
                                      const std::string& body) {
    http_client client("127.0.0.1", port_, std::chrono::seconds(10));
    const header_list headers = {{"Content-Type", "application/json"}};
    const http_reply reply = client.request(method, target, body, headers);
    if (reply.status < 200 || reply.status >= 300) {
        ADD_FAILURE() << "fake Vapi " << method << " " << target << " answered " << reply.status
                      << " " << reply.error << ": " << reply.body;
        return nullptr;
    }
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(reply.body, ec);
    if (ec) ADD_FAILURE() << "fake Vapi " << target << " sent no JSON: " << reply.body;
    return v;
}

boost::json::value fake_vapi::requests() {
    return control("GET", "/__fake/requests");
}

void fake_vapi::clear_requests() {
    control("DELETE", "/__fake/requests");
}

void fake_vapi::add_faults(const boost::json::value& rules) {
    control("POST", "/__fake/faults", boost::json::serialize(rules));
}

void fake_vapi::clear_faults() {
    control("DELETE", "/__fake/faults");
}

void fake_vapi::reset(bool deterministic_ids) {
    control("POST", "/__fake/reset",
            deterministic_ids ? R"({"deterministicIds":true})" : R"({"deterministicIds":false})");
}

boost::json::value fake_vapi::state() {
    return control("GET", "/__fake/state");
}

std::string fake_vapi::log() const {
    std::ifstream in(dir_ + "/log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace switchboard::test
