#pragma once
/// A raw TCP connection to the service (Boost.Asio), for tests that must misbehave: stall in
/// the middle of a request, send garbage, use `Expect: 100-continue` by hand, or watch when the
/// server closes an idle connection. Every operation has a deadline.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard::test {

class raw_connection {
  public:
    /// Connects to 127.0.0.1:port; check `connected()`.
    explicit raw_connection(std::uint16_t port);

    bool connected() const { return connected_; }

    /// Writes all of `bytes` within `timeout`. False on error or timeout.
    bool send(std::string_view bytes, std::chrono::milliseconds timeout = std::chrono::seconds(10));

    struct read_result {
        std::string data;        ///< everything received by this call
        bool closed = false;     ///< the peer closed (EOF) or reset the connection
        bool timed_out = false;  ///< the deadline passed first
        std::string error;
    };

    /// Reads until the peer closes the connection or `timeout` passes.
    read_result read_until_closed(std::chrono::milliseconds timeout);

    /// Reads until what was received contains `marker`, the peer closes, or `timeout` passes.
    read_result read_until(std::string_view marker, std::chrono::milliseconds timeout);

    void close();

  private:
    template <class Done>
    read_result read(Done done, std::chrono::milliseconds timeout);

    boost::asio::io_context ioc_;
    boost::asio::ip::tcp::socket socket_;
    bool connected_ = false;
};

}  // namespace switchboard::test
