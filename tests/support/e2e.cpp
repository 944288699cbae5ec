#include "support/e2e.hpp"

#include <thread>

namespace switchboard::test {

env_list service_env(const std::string& database_url, const env_list& extra) {
    env_list env = {
        {"DATABASE_URL", database_url},
        {"SWITCHBOARD_WEBHOOK_SECRET", k_secret},
        {"SWITCHBOARD_WRITERS", "2"},
        {"SWITCHBOARD_IO_THREADS", "2"},
        {"SWITCHBOARD_ACK_TIMEOUT_MS", "5000"},
        {"SWITCHBOARD_SHUTDOWN_TIMEOUT_S", "10"},
        {"SWITCHBOARD_PG_CONNECT_TIMEOUT_S", "2"},
        {"SWITCHBOARD_PG_RECONNECT_MAX_BACKOFF_MS", "200"},
        {"SWITCHBOARD_PG_STARTUP_WAIT_S", "10"},
    };
    for (const auto& [k, v] : extra) {
        bool replaced = false;
        for (auto& [ek, ev] : env) {
            if (ek == k) {
                ev = v;
                replaced = true;
            }
        }
        if (!replaced) env.emplace_back(k, v);
    }
    return env;
}

unsigned wait_for_status(std::uint16_t port, const std::string& path, unsigned want,
                         std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    unsigned last = 0;
    for (;;) {
        http_client client("127.0.0.1", port, std::chrono::seconds(5));
        last = client.get(path).status;
        if (last == want || std::chrono::steady_clock::now() >= deadline) return last;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

std::string scrape_metrics(std::uint16_t port) {
    http_client client("127.0.0.1", port, std::chrono::seconds(5));
    auto reply = client.get("/metrics");
    return reply.status == 200 ? reply.body : std::string{};
}

}  // namespace switchboard::test
