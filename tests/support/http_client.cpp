#include "support/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cctype>
#include <optional>

namespace switchboard::test {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

struct http_client::impl {
    std::string host;
    std::uint16_t port;
    std::chrono::milliseconds timeout;
    asio::io_context ioc;
    std::optional<beast::tcp_stream> stream;
    beast::flat_buffer buffer;

    beast::error_code connect() {
        stream.emplace(ioc);
        stream->expires_after(timeout);
        beast::error_code ec;
        stream->connect(asio::ip::tcp::endpoint(asio::ip::make_address(host), port), ec);
        buffer.clear();
        return ec;
    }
};

http_client::http_client(std::string host, std::uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<impl>()) {
    impl_->host = std::move(host);
    impl_->port = port;
    impl_->timeout = timeout;
}

http_client::~http_client() = default;
http_client::http_client(http_client&&) noexcept = default;

http_reply http_client::request(const std::string& method, const std::string& target,
                                const std::string& body, const header_list& headers) {
    http_reply reply;
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, impl_->host + ":" + std::to_string(impl_->port));
    bool has_type = false;
    for (const auto& [k, v] : headers) {
        req.set(k, v);
        has_type = has_type || beast::iequals(k, "content-type");
    }
    if (!body.empty() && !has_type) req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();

    // One retry on a fresh connection: the server may have closed an idle keep-alive one.
    for (int attempt = 0; attempt < 2; ++attempt) {
        beast::error_code ec;
        if (!impl_->stream || !impl_->stream->socket().is_open()) {
            if ((ec = impl_->connect())) {
                reply.error = "connect: " + ec.message();
                return reply;
            }
        }
        impl_->stream->expires_after(impl_->timeout);
        bhttp::write(*impl_->stream, req, ec);
        if (ec) {
            impl_->stream.reset();
            reply.error = "write: " + ec.message();
            if (attempt == 0) continue;
            return reply;
        }
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(64u << 20);
        bhttp::read(*impl_->stream, impl_->buffer, parser, ec);
        if (ec) {
            impl_->stream.reset();
            reply.error = "read: " + ec.message();
            if (attempt == 0 &&
                (ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset)) {
                continue;
            }
            return reply;
        }
        auto res = parser.release();
        reply.status = res.result_int();
        reply.body = std::move(res.body());
        reply.keep_alive = res.keep_alive();
        for (const auto& f : res) {
            std::string name(f.name_string());
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            reply.headers[name] = std::string(f.value());
        }
        reply.error.clear();
        if (!res.keep_alive()) impl_->stream.reset();
        return reply;
    }
    return reply;
}

}  // namespace switchboard::test
