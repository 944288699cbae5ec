#include "support/raw_connection.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>

#include <array>

namespace switchboard::test {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

raw_connection::raw_connection(std::uint16_t port) : socket_(ioc_) {
    boost::system::error_code ec;
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    connected_ = !ec;
}

bool raw_connection::send(std::string_view bytes, std::chrono::milliseconds timeout) {
    bool done = false;
    boost::system::error_code result;
    asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()),
                      [&](const boost::system::error_code& ec, std::size_t) {
                          result = ec;
                          done = true;
                      });
    ioc_.restart();
    ioc_.run_for(timeout);
    if (!done) {
        boost::system::error_code ignored;
        socket_.cancel(ignored);
        ioc_.restart();
        ioc_.run();
        return false;
    }
    return !result;
}

template <class Done>
raw_connection::read_result raw_connection::read(Done done, std::chrono::milliseconds timeout) {
    read_result r;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::array<char, 65536> buf{};
    while (!done(r.data)) {
        const auto left = deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::steady_clock::duration::zero()) {
            r.timed_out = true;
            return r;
        }
        bool finished = false;
        boost::system::error_code ec;
        std::size_t n = 0;
        socket_.async_read_some(asio::buffer(buf),
                                [&](const boost::system::error_code& e, std::size_t k) {
                                    ec = e;
                                    n = k;
                                    finished = true;
                                });
        ioc_.restart();
        ioc_.run_for(left);
        if (!finished) {
            boost::system::error_code ignored;
            socket_.cancel(ignored);
            ioc_.restart();
            ioc_.run();
        }
        r.data.append(buf.data(), n);
        if (!finished || ec == asio::error::operation_aborted) {
            r.timed_out = true;
            return r;
        }
        if (ec) {
            r.closed = ec == asio::error::eof || ec == asio::error::connection_reset;
            r.error = ec.message();
            return r;
        }
    }
    return r;
}

raw_connection::read_result raw_connection::read_until_closed(std::chrono::milliseconds timeout) {
    return read([](const std::string&) { return false; }, timeout);
}

raw_connection::read_result raw_connection::read_until(std::string_view marker,
                                                       std::chrono::milliseconds timeout) {
    return read(
        [marker](const std::string& data) { return data.find(marker) != std::string::npos; },
        timeout);
}

void raw_connection::close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
    connected_ = false;
}

}  // namespace switchboard::test
