#pragma once
/// The HTTP/1.1 listener (Boost.Beast, C++20 coroutines). One coroutine per connection runs on
/// its own strand (or, with one I/O thread, on the io_context itself): read a request (with
/// header/body limits and deadlines), dispatch it through the router, write the response, repeat
/// while keep-alive. The server knows nothing about Vapi.
///
/// Lifetime: constructed and started by main on an io_context run by the I/O threads; `stop()`
/// closes the acceptor and lets every connection finish the request it is serving, then close.
/// Once all connections are gone the server holds no more work, so io_context::run returns.

#include "switchboard/config/config.hpp"
#include "switchboard/http/router.hpp"
#include "switchboard/metrics/registry.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_set>

namespace switchboard::http {

/// Prometheus series of the listener, resolved once.
class http_metrics {
  public:
    explicit http_metrics(metrics::registry& reg);
    void response_sent(unsigned code);
    prometheus::Gauge& connections;
    prometheus::Counter& connections_refused;  ///< beyond --max-connections
    prometheus::Gauge& body_memory;            ///< large bodies' bytes reserved
    prometheus::Counter& body_memory_refused;  ///< beyond --max-body-memory

  private:
    prometheus::Family<prometheus::Counter>& responses_;
    // Series per status code 100–599, added on first use (Family::Add is locked), then cached.
    std::array<std::atomic<prometheus::Counter*>, 500> by_code_{};
};

class server {
  public:
    server(boost::asio::io_context& ioc, const config::http_config& cfg, const router& routes,
           metrics::registry& reg);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds, listens and starts accepting. Returns the bound endpoint (useful with port 0).
    /// Throws boost::system::system_error when the address cannot be bound.
    boost::asio::ip::tcp::endpoint start();

    /// Stops accepting; idle keep-alive connections are closed, busy ones after their response.
    /// Safe to call from any thread, more than once.
    void stop();

    /// Open connections (for logs and tests).
    std::size_t connection_count() const;

    struct connection;  // defined in server.cpp

  private:
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> run_connection(std::shared_ptr<connection> conn);
    void forget(connection* conn);
    /// Counts `bytes` of a request body against --max-body-memory; false when they do not fit.
    bool reserve_body(std::uint64_t bytes);
    void release_body(std::uint64_t bytes);

    boost::asio::io_context& ioc_;
    const config::http_config& cfg_;
    const router& routes_;
    http_metrics metrics_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> body_memory_{0};  ///< reserved by reserve_body
    mutable std::mutex connections_mutex_;
    std::unordered_set<std::shared_ptr<connection>> connections_;
};

}  // namespace switchboard::http
