#include "support/service_process.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace switchboard::test {
namespace {

std::string make_temp_dir() {
    std::string tmpl = "/tmp/sbtest-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    return tmpl;
}

std::vector<std::string> child_environment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        std::string_view entry(*e);
        if (entry.starts_with("SWITCHBOARD_") || entry.starts_with("DATABASE_URL=")) continue;
        env.emplace_back(entry);
    }
    for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
    return env;
}

pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env,
            const std::string& log_path) {
    std::vector<char*> argv;
    std::string binary = SWITCHBOARD_BINARY;
    argv.push_back(binary.data());
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        ADD_FAILURE() << "posix_spawn " << binary << " failed: " << rc;
        return -1;
    }
    return pid;
}

int decode(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

}  // namespace

service_process::service_process(options opts) : dir_(make_temp_dir()) {
    bool has_listen = false;
    for (const auto& [k, v] : opts.env) has_listen = has_listen || k == "SWITCHBOARD_LISTEN";
    if (!has_listen) opts.env.emplace_back("SWITCHBOARD_LISTEN", "127.0.0.1:0");
    opts.env.emplace_back("SWITCHBOARD_PORT_FILE", dir_ + "/port");
    pid_ = spawn(opts.args, child_environment(opts.env), dir_ + "/log");
    if (pid_ < 0 || !opts.wait_until_listening) return;

    const auto deadline = std::chrono::steady_clock::now() + opts.start_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        std::ifstream in(dir_ + "/port");
        unsigned port = 0;
        if (in >> port && port != 0) {
            port_ = static_cast<std::uint16_t>(port);
            return;
        }
        if (!running()) {
            ADD_FAILURE() << "switchboard exited during start-up (status " << status_ << "):\n"
                          << log();
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "switchboard did not start listening in time:\n" << log();
}

service_process::~service_process() {
    if (pid_ > 0 && running()) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    std::error_code ignored;
    std::string cmd = "rm -rf '" + dir_ + "'";
    [[maybe_unused]] int rc = std::system(cmd.c_str());
}

bool service_process::running() {
    if (exited_ || pid_ <= 0) return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        exited_ = true;
        status_ = decode(status);
        return false;
    }
    return true;
}

int service_process::wait(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
            exited_ = true;
            status_ = -1;
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return status_;
}

int service_process::stop(int signo, std::chrono::seconds timeout) {
    if (running()) ::kill(pid_, signo);
    return wait(timeout);
}

std::string service_process::log() const {
    std::ifstream in(dir_ + "/log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::pair<int, std::string> run_binary(
    const std::vector<std::string>& args,
    const std::vector<std::pair<std::string, std::string>>& env) {
    const std::string dir = make_temp_dir();
    const pid_t pid = spawn(args, child_environment(env), dir + "/log");
    int status = 0;
    if (pid > 0) ::waitpid(pid, &status, 0);
    std::ifstream in(dir + "/log");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string cmd = "rm -rf '" + dir + "'";
    [[maybe_unused]] int rc = std::system(cmd.c_str());
    return {decode(status), ss.str()};
}

}  // namespace switchboard::test
