#pragma once
/// A dedicated PostgreSQL cluster for one test that stops and restarts Postgres under a running
/// service (the shared test server must stay up for the other tests). Driven through
/// scripts/pg.sh, found in SWITCHBOARD_TEST_PG_CTL: the test fails, rather than skips, when the
/// variable is missing. The cluster listens on 127.0.0.1 only and is removed afterwards.

#include <cstdint>
#include <string>

namespace switchboard::test {

class pg_cluster {
  public:
    /// Creates the data folder, picks a free port and starts the server (with a database
    /// `switchboard`), with `server_options` (`-c name=value …`) added at every start.
    /// Failures are reported with ADD_FAILURE; check `started()`.
    explicit pg_cluster(std::string server_options = {});
    ~pg_cluster();  ///< stops the server (immediate mode) and removes its folder
    pg_cluster(const pg_cluster&) = delete;
    pg_cluster& operator=(const pg_cluster&) = delete;

    bool started() const { return running_; }

    /// `pg.sh start`: waits until the server accepts connections. True on success.
    bool start();
    /// `pg.sh stop`; `immediate` is PG_STOP_MODE=immediate (no checkpoint, like a crash).
    bool stop(bool immediate = true);

    /// postgresql://postgres@127.0.0.1:PORT/switchboard
    const std::string& url() const { return url_; }
    std::uint16_t port() const { return port_; }
    /// The server's log (for failure messages).
    std::string log() const;

  private:
    int run(const std::string& command_line);

    std::string ctl_;
    std::string options_;
    std::string dir_;
    std::uint16_t port_ = 0;
    std::string url_;
    bool running_ = false;
};

}  // namespace switchboard::test
