#include "switchboard/http/server.hpp"

#include "switchboard/base/log.hpp"
#include "switchboard/http/response.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/system_error.hpp>

#include <fstream>

namespace switchboard::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

http_metrics::http_metrics(metrics::registry& reg)
    : connections(prometheus::BuildGauge()
                      .Name("switchboard_http_connections")
                      .Help("Open HTTP connections")
                      .Register(reg.prom())
                      .Add({})),
      connections_refused(prometheus::BuildCounter()
                              .Name("switchboard_http_connections_refused_total")
                              .Help("Connections answered 503 and closed at once: "
                                    "--max-connections were open")
                              .Register(reg.prom())
                              .Add({})),
      body_memory(prometheus::BuildGauge()
                      .Name("switchboard_http_body_memory_bytes")
                      .Help("Bytes of request bodies over 64 KiB being read or handled, by "
                            "their declared length (bounded by --max-body-memory)")
                      .Register(reg.prom())
                      .Add({})),
      body_memory_refused(prometheus::BuildCounter()
                              .Name("switchboard_http_body_memory_refused_total")
                              .Help("Requests answered 503 before their body was read: it "
                                    "would have exceeded --max-body-memory")
                              .Register(reg.prom())
                              .Add({})),
      responses_(prometheus::BuildCounter()
                     .Name("switchboard_http_responses_total")
                     .Help("HTTP responses sent, by status code")
                     .Register(reg.prom())) {
    // The common codes exist from the start, so dashboards see them at zero.
    for (unsigned code : {200u, 400u, 401u, 404u, 405u, 413u, 503u}) {
        by_code_[code - 100] = &responses_.Add({{"code", std::to_string(code)}});
    }
}

void http_metrics::response_sent(unsigned code) {
    if (code < 100 || code > 599) code = 599;
    auto& slot = by_code_[code - 100];
    prometheus::Counter* c = slot.load(std::memory_order_acquire);
    if (c == nullptr) {
        c = &responses_.Add({{"code", std::to_string(code)}});
        slot.store(c, std::memory_order_release);
    }
    c->Increment();
}

/// One client connection. Shared by its coroutine and the server's registry, so `stop()` can
/// close an idle connection from outside; every member is touched only on the connection's
/// executor (its strand, or the io_context run by one thread).
struct server::connection {
    explicit connection(tcp::socket socket) : stream(std::move(socket)) {}
    beast::tcp_stream stream;
    bool idle = true;  ///< waiting for the next request's header
    bool stop_requested = false;
};

server::server(asio::io_context& ioc, const config::http_config& cfg, const router& routes,
               metrics::registry& reg)
    : ioc_(ioc), cfg_(cfg), routes_(routes), metrics_(reg), acceptor_(ioc) {}

server::~server() = default;

tcp::endpoint server::start() {
    const std::string where = cfg_.listen_host + ":" + std::to_string(cfg_.listen_port);
    auto fail = [&where](const boost::system::error_code& ec) {
        throw boost::system::system_error(
            ec, "cannot listen on " + where + " (--listen / SWITCHBOARD_LISTEN)");
    };
    // The configuration accepts host names ("localhost:8080"), not only address literals.
    boost::system::error_code ec;
    tcp::endpoint ep(asio::ip::make_address(cfg_.listen_host, ec), cfg_.listen_port);
    if (ec) {
        tcp::resolver resolver(ioc_);
        const auto found = resolver.resolve(cfg_.listen_host, std::to_string(cfg_.listen_port),
                                            tcp::resolver::passive, ec);
        if (ec) fail(ec);
        if (found.empty()) fail(asio::error::host_not_found);
        ep = found.begin()->endpoint();
    }
    acceptor_.open(ep.protocol(), ec);
    if (ec) fail(ec);
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep, ec);
    if (ec) fail(ec);
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) fail(ec);
    const tcp::endpoint bound = acceptor_.local_endpoint();
    if (!cfg_.port_file.empty()) {
        // Written to a temporary name first so a reader never sees a partial file.
        const std::string tmp = cfg_.port_file + ".tmp";
        std::ofstream(tmp) << bound.port() << '\n';
        std::rename(tmp.c_str(), cfg_.port_file.c_str());
    }
    asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
    return bound;
}

void server::stop() {
    if (stopping_.exchange(true)) return;
    asio::post(acceptor_.get_executor(), [this] {
        beast::error_code ignored;
        acceptor_.close(ignored);
    });
    std::lock_guard lock(connections_mutex_);
    for (const auto& conn : connections_) {
        asio::post(conn->stream.get_executor(), [conn] {
            conn->stop_requested = true;
            if (conn->idle) conn->stream.cancel();
        });
    }
}

std::size_t server::connection_count() const {
    std::lock_guard lock(connections_mutex_);
    return connections_.size();
}

void server::forget(connection* conn) {
    std::lock_guard lock(connections_mutex_);
    for (auto it = connections_.begin(); it != connections_.end(); ++it) {
        if (it->get() == conn) {
            connections_.erase(it);
            break;
        }
    }
}

bool server::reserve_body(std::uint64_t bytes) {
    std::uint64_t held = body_memory_.load(std::memory_order_relaxed);
    do {
        if (bytes > cfg_.max_body_memory - std::min<std::uint64_t>(held, cfg_.max_body_memory)) {
            return false;
        }
    } while (!body_memory_.compare_exchange_weak(held, held + bytes, std::memory_order_relaxed));
    metrics_.body_memory.Increment(static_cast<double>(bytes));
    return true;
}

void server::release_body(std::uint64_t bytes) {
    body_memory_.fetch_sub(bytes, std::memory_order_relaxed);
    metrics_.body_memory.Decrement(static_cast<double>(bytes));
}

asio::awaitable<void> server::accept_loop() {
    // Each connection runs on a strand when several threads run the io_context. With one
    // (--io-threads 1, the default on two cores) its handlers are serialized already, and a
    // strand would only add its queue, its lock and a type-erased dispatch to every operation.
    const auto executor = [this]() -> asio::any_io_executor {
        if (cfg_.io_threads > 1) return asio::make_strand(ioc_);
        return ioc_.get_executor();
    };
    while (!stopping_.load()) {
        auto [ec, socket] = co_await acceptor_.async_accept(executor(), use_tuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
            // E.g. EMFILE: out of descriptors. Pause instead of spinning; idle connections time
            // out and free descriptors meanwhile.
            log::warn("msg=\"accept failed\" error=\"{}\"", ec.message());
            asio::steady_timer pause(acceptor_.get_executor(), std::chrono::milliseconds(50));
            co_await pause.async_wait(use_tuple);
            continue;
        }
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        socket.non_blocking(true, ignored);  // responses are first written synchronously
        if (connection_count() >= cfg_.max_connections) {
            // Each connection may hold a request body: their number bounds the memory. One
            // write that the kernel takes whole (or not at all), then the close.
            static constexpr std::string_view k_busy =
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                "Retry-After: 1\r\nConnection: close\r\nContent-Length: 38\r\n\r\n"
                "{\"error\":\"too many open connections\"}\n";
            // Counted first: once the client reads the answer, a scrape must show it.
            metrics_.connections_refused.Increment();
            metrics_.response_sent(503);
            socket.write_some(asio::buffer(k_busy), ignored);
            socket.shutdown(tcp::socket::shutdown_both, ignored);
            socket.close(ignored);
            continue;
        }
        auto conn = std::make_shared<connection>(std::move(socket));
        {
            std::lock_guard lock(connections_mutex_);
            connections_.insert(conn);
        }
        if (stopping_.load()) conn->stop_requested = true;
        asio::co_spawn(conn->stream.get_executor(), run_connection(conn), asio::detached);
    }
}

namespace {

bool is_timeout_or_close(const beast::error_code& ec) {
    return ec == beast::error::timeout || ec == beast::http::error::end_of_stream ||
           ec == asio::error::eof || ec == asio::error::operation_aborted ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

// After refusing a request whose body we did not read, keep reading (and discarding) for a
// moment before closing: closing a socket with unread data makes the kernel send RST, and the
// client may then never see our error response.
asio::awaitable<void> linger_and_close(beast::tcp_stream& stream) {
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    std::array<char, 16384> scratch{};
    std::size_t drained = 0;
    stream.expires_after(std::chrono::seconds(2));
    while (drained < (64u << 20)) {
        auto [rec, n] = co_await stream.async_read_some(asio::buffer(scratch), use_tuple);
        if (rec) break;
        drained += n;
    }
    stream.socket().close(ec);
}

/// Bytes a connection's reads ask for: a webhook of a few kB (most of Vapi's are 3–8 kB, an
/// end-of-call report often more) then comes in one read instead of 4 kB at a time. Each
/// connection's buffer keeps that capacity (16 kB per open connection). On the wrk mix, 4 kB
/// reads measured about 10 % more service CPU per webhook (bench/analysis.md, session 13).
constexpr std::size_t k_read_size = 16384;
/// The most one read asks for (a body in flight is read up to 64 kB at a time).
constexpr std::size_t k_max_read_size = 65536;

/// Beast's async_read_header (`header_only`) or async_read, with what the buffer already holds
/// parsed inline: Beast's composed operations post their completion even when no read is needed
/// (usually the whole request came with its first bytes), at ~10k instructions per request.
/// The same loop as Beast's read_op/read_some_op, with the same errors, and one more:
/// header_limit when `max_pending` bytes are buffered and the parser still wants more. The
/// parser takes body bytes as they come, so what stays in the buffer is an unfinished header
/// block, chunk header or trailer; Beast bounds the first (header_limit) but not a chunk
/// extension or a trailer line, which would otherwise grow the buffer without end.
asio::awaitable<beast::error_code> read_request(beast::tcp_stream& stream,
                                                beast::flat_buffer& buffer,
                                                beast_http::request_parser<padded_body>& parser,
                                                bool header_only, std::size_t max_pending) {
    parser.eager(!header_only);
    const auto done = [&] { return header_only ? parser.is_header_done() : parser.is_done(); };
    beast::error_code ec;
    while (!done()) {
        if (buffer.size() != 0) {
            buffer.consume(parser.put(buffer.data(), ec));
            if (ec != beast_http::error::need_more) {
                if (ec) co_return ec;
                continue;
            }
            ec = {};
        }
        if (buffer.size() >= max_pending) co_return beast_http::error::header_limit;
        auto [rec, n] = co_await stream.async_read_some(
            buffer.prepare(std::max(k_read_size, beast::read_size(buffer, k_max_read_size))),
            use_tuple);
        buffer.commit(n);
        if (rec == asio::error::eof) {
            if (!parser.got_some()) co_return beast_http::error::end_of_stream;
            parser.put_eof(ec);  // a message delimited by the end of the stream
            co_return ec;
        }
        if (rec) co_return rec;
    }
    co_return ec;
}

/// The response's status line and header block, as Beast's serializer writes them, into `out`
/// (reused per connection). One contiguous header plus the body go out in one gathered write:
/// Beast's generic serializer costs several times the bytes it copies on these small responses.
void serialize_header(const response& res, std::string& out) {
    out.clear();
    const unsigned version = res.version();
    const unsigned code = res.result_int();
    char start[] = "HTTP/x.y ### ";
    start[5] = static_cast<char>('0' + version / 10);
    start[7] = static_cast<char>('0' + version % 10);
    start[9] = static_cast<char>('0' + code / 100);
    start[10] = static_cast<char>('0' + (code / 10) % 10);
    start[11] = static_cast<char>('0' + code % 10);
    out.append(start, sizeof start - 1);
    const beast::string_view reason = res.reason();
    out.append(reason.empty() ? beast_http::obsolete_reason(res.result()) : reason);
    out.append("\r\n");
    for (const auto& field : res) {
        out.append(field.name_string());
        out.append(": ");
        out.append(field.value());
        out.append("\r\n");
    }
    out.append("\r\n");
}

}  // namespace

asio::awaitable<void> server::run_connection(std::shared_ptr<connection> conn) {
    metrics_.connections.Increment();
    beast::tcp_stream& stream = conn->stream;
    beast::flat_buffer buffer;
    std::string head;  // the response header block, reused
    bool close_gracefully = false;

    for (;;) {
        if (conn->stop_requested && buffer.size() == 0) break;
        beast_http::request_parser<padded_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(cfg_.max_header_bytes));
        // Until the path is known, the largest limit of any route applies; then the route's.
        std::uint64_t body_limit = routes_.max_body_limit(cfg_.max_body_bytes);
        parser.body_limit(body_limit);

        // The idle timeout covers the wait for a request to begin; from its first byte on, the
        // read timeout applies, so a client that stalls or dribbles its header cannot hold the
        // connection for the (longer) idle timeout.
        conn->idle = true;
        if (buffer.size() == 0) {
            stream.expires_after(cfg_.idle_timeout);
            auto [iec, in] =
                co_await stream.async_read_some(buffer.prepare(k_read_size), use_tuple);
            if (iec) break;  // idle timeout, peer closed, or stop(): nothing to answer
            buffer.commit(in);
        }
        conn->idle = false;
        // One deadline for the whole request, header and body (a 100 Continue between them
        // has its own write deadline).
        const auto request_deadline = std::chrono::steady_clock::now() + cfg_.read_timeout;
        stream.expires_at(request_deadline);
        const std::size_t max_pending = cfg_.max_header_bytes + k_max_read_size;
        const beast::error_code hec =
            co_await read_request(stream, buffer, parser, true, max_pending);

        std::optional<response> refusal;
        body_terms terms{body_limit, 1};
        if (!hec || hec == beast_http::error::body_limit) {
            terms = routes_.body_terms_of(parser.get(), cfg_.max_body_bytes);
            body_limit = terms.limit;
            const auto length = parser.content_length();
            if (hec || (length && *length > body_limit)) {
                refusal =
                    json_error(status::payload_too_large,
                               "request body exceeds " + std::to_string(body_limit) + " bytes");
            } else {
                parser.body_limit(body_limit);
            }
        }
        if (hec == beast_http::error::body_limit) {
            // Refused above.
        } else if (hec == beast_http::error::header_limit) {
            refusal = json_error(
                status::request_header_fields_too_large,
                "request header exceeds " + std::to_string(cfg_.max_header_bytes) + " bytes");
        } else if (hec) {
            if (!is_timeout_or_close(hec)) {
                refusal =
                    json_error(status::bad_request, "malformed HTTP request: " + hec.message());
            }
            if (!refusal) break;
        }

        // A refusal from the header alone (e.g. no valid credential) comes before a large body
        // is read or invited: an unauthenticated client cannot make the server hold its body. A
        // small one (a known length of at most one read, not awaiting 100 Continue) is read and
        // dropped instead, so that the connection stays usable.
        std::optional<response> early;
        if (!refusal) {
            early = routes_.check_header(parser.get());
            const auto length = parser.content_length();
            const bool awaits_continue =
                beast::iequals(parser.get()[beast_http::field::expect], "100-continue");
            if (early && (!length || *length > k_max_read_size || awaits_continue)) {
                refusal = std::move(early);
                early.reset();
            }
        }
        // Bodies larger than one read are counted against --max-body-memory, by the length
        // they declare (a chunked one by its limit) times the copies its route makes of it,
        // from before they are read until their handler is done: the connection cap alone would let
        // every connection hold the largest body at once. Smaller ones are bounded by the cap times
        // one read.
        struct body_reservation {
            server* owner = nullptr;
            std::uint64_t bytes = 0;
            void release() {
                if (bytes != 0) owner->release_body(bytes);
                bytes = 0;
            }
            ~body_reservation() { release(); }
        } reserved{this};
        if (!refusal) {
            const auto length = parser.content_length();
            const std::uint64_t declared = length ? *length : parser.chunked() ? body_limit : 0;
            if (declared > k_max_read_size) {
                const std::uint64_t held =
                    declared > UINT64_MAX / terms.copies ? UINT64_MAX : declared * terms.copies;
                if (reserve_body(held)) {
                    reserved.bytes = held;
                } else {
                    refusal = json_error(status::service_unavailable,
                                         "too many large request bodies in progress");
                    refusal->set(beast_http::field::retry_after, "1");
                    metrics_.body_memory_refused.Increment();
                }
            }
        }
        if (!refusal) {
            auto& header = parser.get();
            if (!early && header.version() >= 11 &&
                beast::iequals(header[beast_http::field::expect], "100-continue")) {
                beast_http::response<beast_http::empty_body> cont{status::continue_,
                                                                  header.version()};
                stream.expires_after(cfg_.write_timeout);
                auto [cec, cn] = co_await beast_http::async_write(stream, cont, use_tuple);
                if (cec) break;
            }
            stream.expires_at(request_deadline);
            const beast::error_code bec =
                co_await read_request(stream, buffer, parser, false, max_pending);
            if (bec == beast_http::error::body_limit) {
                refusal =
                    json_error(status::payload_too_large,
                               "request body exceeds " + std::to_string(body_limit) + " bytes");
            } else if (bec == beast_http::error::header_limit) {
                refusal = json_error(status::bad_request,
                                     "a chunk header or trailer exceeds " +
                                         std::to_string(cfg_.max_header_bytes) + " bytes");
            } else if (bec) {
                // A timeout included: the stream has closed the socket, so nothing can be sent.
                if (!is_timeout_or_close(bec)) {
                    refusal =
                        json_error(status::bad_request, "malformed HTTP request: " + bec.message());
                }
                if (!refusal) break;
            }
        }

        response res;
        bool keep_alive = false;
        const bool head_request = parser.get().method() == beast_http::verb::head;
        if (refusal) {
            // The rest of the request was not read: the connection cannot be reused.
            res = std::move(*refusal);
            routes_.decorate(parser.get(), res);
            res.keep_alive(false);
            close_gracefully = true;
        } else {
            request req = parser.release();
            bool failed = false;
            if (early) {
                res = std::move(*early);
            } else {
                try {
                    res = co_await routes_.dispatch(req);
                } catch (const std::exception& e) {
                    log::error("msg=\"handler failed\" target=\"{}\" error=\"{}\"",
                               std::string(req.target()), e.what());
                    failed = true;
                }
            }
            if (failed) res = json_error(status::internal_server_error, "internal error");
            reserved.release();  // the handler is done with the body
            keep_alive = req.keep_alive() && !conn->stop_requested && !stopping_.load();
            res.version(req.version());
            res.keep_alive(keep_alive);
        }
        res.prepare_payload();
        beast::error_code wec;
        if (res.chunked() && !head_request) {
            stream.expires_after(cfg_.write_timeout);
            std::tie(wec, std::ignore) = co_await beast_http::async_write(stream, res, use_tuple);
        } else {
            serialize_header(res, head);
            // A response to HEAD has its header only (its Content-Length: the body's size).
            beast::buffers_suffix<std::array<asio::const_buffer, 2>> out(
                std::array<asio::const_buffer, 2>{
                    asio::buffer(head),
                    head_request ? asio::const_buffer() : asio::buffer(res.body())});
            // The socket is non-blocking: the kernel usually takes the whole response at once,
            // without a reactor operation, a timer and a posted completion. What it does not
            // take (a slow reader) goes out asynchronously, under the write timeout.
            const std::size_t sent = stream.socket().write_some(out, wec);
            if (wec == asio::error::would_block || wec == asio::error::try_again) wec = {};
            out.consume(sent);
            if (!wec && beast::buffer_bytes(out) != 0) {
                stream.expires_after(cfg_.write_timeout);
                std::tie(wec, std::ignore) = co_await asio::async_write(stream, out, use_tuple);
            }
        }
        if (wec) break;
        metrics_.response_sent(res.result_int());
        if (close_gracefully) {
            co_await linger_and_close(stream);
            break;
        }
        if (!keep_alive) {
            beast::error_code ec;
            stream.socket().shutdown(tcp::socket::shutdown_send, ec);
            break;
        }
    }

    beast::error_code ec;
    stream.socket().close(ec);
    metrics_.connections.Decrement();
    forget(conn.get());
}

}  // namespace switchboard::http
