#pragma once
/// The real switchboard binary as a child process for end-to-end tests: started on port 0 with
/// a port file, its stderr captured to a file, stopped with a signal.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::test {

class service_process {
  public:
    struct options {
        /// Environment for the child on top of the parent's (DATABASE_URL and SWITCHBOARD_* of
        /// the parent are dropped first). SWITCHBOARD_LISTEN defaults to 127.0.0.1:0.
        std::vector<std::pair<std::string, std::string>> env;
        std::vector<std::string> args;
        bool wait_until_listening = true;
        std::chrono::seconds start_timeout{30};
    };

    explicit service_process(options opts);
    ~service_process();  ///< SIGKILLs the child if it is still running
    service_process(const service_process&) = delete;
    service_process& operator=(const service_process&) = delete;

    std::uint16_t port() const { return port_; }
    pid_t pid() const { return pid_; }

    /// Sends `signo` and waits up to `timeout`; returns the exit status (128+signal when killed
    /// by a signal, -1 on timeout, after which the child is SIGKILLed).
    int stop(int signo, std::chrono::seconds timeout = std::chrono::seconds(60));

    /// Waits for the child to exit by itself; same return values as stop.
    int wait(std::chrono::seconds timeout);

    bool running();
    /// Everything the child wrote to stdout and stderr so far.
    std::string log() const;

  private:
    std::string dir_;
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
    int status_ = -1;
    bool exited_ = false;
};

/// Runs the binary to completion (e.g. --help, a bad flag); returns {exit status, output}.
std::pair<int, std::string> run_binary(const std::vector<std::string>& args,
                                       const std::vector<std::pair<std::string, std::string>>& env);

}  // namespace switchboard::test
