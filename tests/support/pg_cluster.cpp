#include "support/pg_cluster.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

namespace switchboard::test {
namespace {

bool port_is_free(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

std::uint16_t pick_port() {
    const auto base = static_cast<std::uint16_t>(55600 + ::getpid() % 100);
    for (std::uint16_t p = base; p < base + 200; ++p) {
        if (port_is_free(p)) return p;
    }
    return 0;
}

}  // namespace

pg_cluster::pg_cluster(std::string server_options) : options_(std::move(server_options)) {
    const char* ctl = std::getenv("SWITCHBOARD_TEST_PG_CTL");
    if (ctl == nullptr || *ctl == '\0') {
        ADD_FAILURE() << "SWITCHBOARD_TEST_PG_CTL is not set (scripts/pg.sh): run the tests with "
                         "scripts/test.sh";
        return;
    }
    ctl_ = ctl;
    std::string tmpl = "/tmp/sbtest-pg-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
        ADD_FAILURE() << "mkdtemp failed";
        return;
    }
    dir_ = tmpl;
    port_ = pick_port();
    if (port_ == 0) {
        ADD_FAILURE() << "no free port for a dedicated Postgres";
        return;
    }
    url_ = "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/switchboard";
    if (!start())
        ADD_FAILURE() << "cannot start a dedicated Postgres in " << dir_ << ":\n" << log();
}

pg_cluster::~pg_cluster() {
    if (dir_.empty()) return;
    if (!ctl_.empty()) stop(true);
    run("rm -rf '" + dir_ + "'");
}

int pg_cluster::run(const std::string& command_line) {
    const int status = std::system(command_line.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool pg_cluster::start() {
    if (ctl_.empty() || port_ == 0) return false;
    const int rc = run("PG_EXTRA_OPTS='" + options_ + "' '" + ctl_ + "' start '" + dir_ +
                       "/data' " + std::to_string(port_) + " >>'" + dir_ + "/pg.sh.log' 2>&1");
    running_ = rc == 0;
    return running_;
}

bool pg_cluster::stop(bool immediate) {
    if (ctl_.empty() || port_ == 0) return false;
    const int rc =
        run(std::string(immediate ? "PG_STOP_MODE=immediate " : "") + "'" + ctl_ + "' stop '" +
            dir_ + "/data' " + std::to_string(port_) + " >>'" + dir_ + "/pg.sh.log' 2>&1");
    running_ = false;
    return rc == 0;
}

std::string pg_cluster::log() const {
    std::string out;
    for (const char* name : {"/pg.sh.log", "/data/server.log"}) {
        std::ifstream in(dir_ + name);
        std::stringstream ss;
        ss << in.rdbuf();
        out += ss.str();
    }
    return out;
}

}  // namespace switchboard::test
