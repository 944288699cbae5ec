#include "switchboard/http/client.hpp"

#include "switchboard/base/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/system/system_error.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/scheme.hpp>
#include <boost/url/url_view.hpp>

#include <openssl/ssl.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

namespace switchboard::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using boost::system::error_code;
using boost::system::result;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

class category final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "switchboard.http.client"; }
    std::string message(int ev) const override {
        switch (static_cast<client_errc>(ev)) {
            case client_errc::bad_url:
                return "not an absolute http or https URL";
            case client_errc::resolve_failed:
                return "host name lookup failed";
            case client_errc::connect_failed:
                return "could not connect";
            case client_errc::tls_failed:
                return "TLS failed";
            case client_errc::timeout:
                return "deadline passed";
            case client_errc::connection_closed:
                return "connection closed before a complete response";
            case client_errc::protocol_error:
                return "invalid HTTP response";
            case client_errc::body_too_large:
                return "response body too large";
        }
        return "unknown http client error";
    }
};

}  // namespace

const boost::system::error_category& client_category() noexcept {
    static const category instance;
    return instance;
}

struct client::target {
    bool tls = false;
    bool host_is_address = false;
    std::string host;  ///< for DNS, SNI and certificate checks; IPv6 without brackets
    std::uint16_t port = 0;
    std::string host_header;  ///< host[:port] as the URL spells it
    std::string path;         ///< origin-form request target: path and query
    std::string origin;       ///< pool key
};

/// One connection; owned by the pool or by exactly one request, never shared.
struct client::connection {
    std::string origin;
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    beast::flat_buffer buffer;
    clock_type::time_point idle_since{};

    beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
};

namespace {

result<client::target> parse_target(std::string_view url) {
    const auto parsed = boost::urls::parse_uri(url);
    if (!parsed) return client_errc::bad_url;
    const boost::urls::url_view& u = *parsed;
    client::target t;
    if (u.scheme_id() == boost::urls::scheme::https) {
        t.tls = true;
    } else if (u.scheme_id() != boost::urls::scheme::http) {
        return client_errc::bad_url;
    }
    if (u.has_userinfo()) return client_errc::bad_url;
    switch (u.host_type()) {
        case boost::urls::host_type::name:
            t.host = u.host_name();
            break;
        case boost::urls::host_type::ipv4:
            t.host = u.host_ipv4_address().to_string();
            t.host_is_address = true;
            break;
        case boost::urls::host_type::ipv6:
            t.host = u.host_ipv6_address().to_string();
            t.host_is_address = true;
            break;
        default:
            return client_errc::bad_url;
    }
    if (t.host.empty()) return client_errc::bad_url;
    const std::uint16_t default_port = t.tls ? 443 : 80;
    t.port = default_port;
    if (u.has_port() && !u.port().empty()) {
        // Parsed here: url_view::port_number() does not reject values above 65535.
        unsigned long port = 0;
        for (const char c : u.port()) {
            port =
                port * 10 + static_cast<unsigned long>(c - '0');  // the grammar allows digits only
            if (port > 65535) return client_errc::bad_url;
        }
        if (port == 0) return client_errc::bad_url;
        t.port = static_cast<std::uint16_t>(port);
    }
    t.host_header = std::string(u.encoded_host());
    if (t.port != default_port) t.host_header += ":" + std::to_string(t.port);
    t.path = std::string(u.encoded_target());
    if (t.path.empty() || t.path.front() != '/') t.path.insert(0, "/");

    std::string lower = t.host;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    t.origin = (t.tls ? "https://" : "http://") + lower + ":" + std::to_string(t.port);
    return t;
}

bool timed_out(const error_code& ec, clock_type::time_point deadline) {
    return ec == beast::error::timeout || clock_type::now() >= deadline;
}

/// Errors of the write and read steps.
client_errc classify_exchange(const error_code& ec, clock_type::time_point deadline) {
    if (timed_out(ec, deadline)) return client_errc::timeout;
    if (ec == bhttp::error::body_limit) return client_errc::body_too_large;
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
        ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::connection_aborted || ec == asio::error::broken_pipe ||
        ec == ssl::error::stream_truncated) {
        return client_errc::connection_closed;
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category()) {
        return client_errc::protocol_error;
    }
    if (ec.category() == asio::error::get_ssl_category()) return client_errc::tls_failed;
    return client_errc::connection_closed;
}

/// True when a pooled connection still looks usable: open, nothing unread, and the server has
/// not closed it (a non-blocking peek would block). Anything readable on an idle HTTP/1.1
/// connection (FIN, a TLS close_notify, stray bytes) makes it unusable.
bool still_open(client::connection& conn) {
    auto& socket = conn.tcp().socket();
    if (!socket.is_open() || conn.buffer.size() != 0) return false;
    error_code ec;
    socket.non_blocking(true, ec);
    if (ec) return false;
    char byte = 0;
    socket.receive(asio::buffer(&byte, 1), tcp::socket::message_peek, ec);
    const bool open = ec == asio::error::would_block;
    socket.non_blocking(false, ec);
    return open;
}

struct exchange_outcome {
    error_code ec;
    bool written = false;    ///< the whole request went out
    bool got_bytes = false;  ///< at least one byte of a response came back
    bool reusable = false;   ///< the connection may serve another request
    client_response response;
};

template <class Stream>
asio::awaitable<exchange_outcome> exchange(Stream& stream, beast::flat_buffer& buffer,
                                           const bhttp::request<bhttp::string_body>& req,
                                           const client_options& options) {
    exchange_outcome out;
    auto [wec, wn] = co_await bhttp::async_write(stream, req, use_tuple);
    if (wec) {
        out.ec = wec;
        co_return out;
    }
    out.written = true;
    for (;;) {
        bhttp::response_parser<bhttp::string_body> parser;
        parser.header_limit(options.max_response_header);
        parser.body_limit(options.max_response_body);
        if (req.method() == bhttp::verb::head) parser.skip(true);
        auto [rec, rn] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
        out.got_bytes = out.got_bytes || parser.got_some() || buffer.size() != 0;
        if (rec) {
            out.ec = rec;
            co_return out;
        }
        const unsigned status = parser.get().result_int();
        // An informational response (e.g. an unsolicited 100 Continue) precedes the real one.
        if (status >= 100 && status < 200 && status != 101) continue;
        out.reusable = parser.keep_alive() && req.keep_alive() && buffer.size() == 0;
        auto msg = parser.release();
        out.response.status = status;
        out.response.body = std::move(msg.body());
        out.response.headers = std::move(msg.base());
        co_return out;
    }
}

}  // namespace

/// Addresses by "host:port", and the lookups in flight with the requests waiting for them.
struct client::dns_cache {
    struct waiter {
        asio::any_io_executor strand;
        std::function<void(error_code, const std::vector<tcp::endpoint>&)> done;
    };
    struct host {
        std::vector<tcp::endpoint> endpoints;
        clock_type::time_point fetched{};
        bool in_flight = false;
        std::vector<waiter> waiters;
    };
    std::mutex mutex;
    std::unordered_map<std::string, host> hosts;
    bool closed = false;  ///< the client is gone: nothing is posted any more
};

namespace {

error_code system_lookup(const std::string& host, std::uint16_t port,
                         std::vector<std::string>& addresses) {
    asio::io_context local;  // a blocking resolve needs no running context
    tcp::resolver resolver(local);
    error_code ec;
    const auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return ec;
    for (const auto& r : results) addresses.push_back(r.endpoint().address().to_string());
    return {};
}

}  // namespace

asio::awaitable<result<std::vector<tcp::endpoint>>> client::resolve(
    const target& where, clock_type::time_point deadline) {
    const auto strand = co_await asio::this_coro::executor;
    const std::string key = where.host + ":" + std::to_string(where.port);
    struct lookup_wait {
        explicit lookup_wait(const asio::any_io_executor& on) : wake(on) {}
        asio::steady_timer wake;
        bool done = false;
        error_code ec;
        std::vector<tcp::endpoint> endpoints;
    };
    auto state = std::make_shared<lookup_wait>(strand);
    bool start = false;
    {
        std::lock_guard lock(dns_->mutex);
        auto& h = dns_->hosts[key];
        const bool fresh = clock_type::now() - h.fetched < options_.dns_ttl;
        if (!h.endpoints.empty() && (fresh || h.in_flight)) {
            state->done = true;
            state->endpoints = h.endpoints;
        } else if (!h.endpoints.empty()) {
            start = !h.in_flight;  // stale: used now, looked up again for the next requests
            h.in_flight = true;
            state->done = true;
            state->endpoints = h.endpoints;
        } else {
            // A weak reference: the lookup thread must never be the one to destroy the timer
            // (its io_context may be gone by then).
            h.waiters.push_back(
                {strand, [weak = std::weak_ptr<lookup_wait>(state)](
                             error_code ec, const std::vector<tcp::endpoint>& found) {
                     const auto waiting = weak.lock();
                     if (!waiting) return;  // the request ended (its deadline) before
                     waiting->done = true;
                     waiting->ec = ec;
                     waiting->endpoints = found;
                     waiting->wake.expires_at(clock_type::now());  // wakes a wait, now or later
                 }});
            start = !h.in_flight;
            h.in_flight = true;
        }
    }
    if (start) {
        // getaddrinfo cannot be interrupted: it gets a thread, which may outlive the request
        // (and the client: the cache is shared, and nothing is posted once the client is gone).
        std::thread([cache = dns_, key, host = where.host, port = where.port,
                     lookup = options_.lookup] {
            std::vector<std::string> addresses;
            const error_code ec =
                lookup ? lookup(host, port, addresses) : system_lookup(host, port, addresses);
            std::vector<tcp::endpoint> found;
            for (const auto& a : addresses) {
                error_code bad;
                const auto address = asio::ip::make_address(a, bad);
                if (!bad) found.emplace_back(address, port);
            }
            std::lock_guard lock(cache->mutex);
            auto& h = cache->hosts[key];
            h.in_flight = false;
            if (!ec && !found.empty()) {
                h.endpoints = found;
                h.fetched = clock_type::now();
            } else if (!h.endpoints.empty()) {
                found = h.endpoints;  // the last addresses known, rather than none
            }
            const error_code outcome =
                found.empty() ? (ec ? ec : asio::error::host_not_found) : error_code{};
            std::vector<dns_cache::waiter> waiters;
            waiters.swap(h.waiters);
            if (cache->closed) return;
            for (auto& w : waiters) {
                const asio::any_io_executor on = w.strand;  // before `w` moves into the handler
                asio::post(on,
                           [done = std::move(w.done), outcome, found] { done(outcome, found); });
            }
        }).detach();
    }
    if (!state->done) {
        state->wake.expires_at(deadline);
        co_await state->wake.async_wait(use_tuple);
    }
    if (!state->done) {
        log::debug("msg=\"http client lookup timed out\" origin={}", where.origin);
        co_return client_errc::timeout;
    }
    if (state->ec || state->endpoints.empty()) {
        log::debug("msg=\"http client lookup failed\" origin={} error=\"{}\"", where.origin,
                   state->ec.message());
        co_return clock_type::now() >= deadline ? client_errc::timeout
                                                : client_errc::resolve_failed;
    }
    co_return state->endpoints;
}

client::client(asio::any_io_executor executor, client_options options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      dns_(std::make_shared<dns_cache>()) {
    tls_ = std::make_unique<ssl::context>(ssl::context::tls_client);
    tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (options_.verify_tls) {
        error_code ec;
        tls_->set_verify_mode(ssl::verify_peer);
        if (options_.ca_file.empty()) {
            tls_->set_default_verify_paths(ec);
            if (ec) throw boost::system::system_error(ec, "cannot load the system CA paths");
        } else {
            tls_->load_verify_file(options_.ca_file, ec);
            if (ec) {
                throw boost::system::system_error(ec, "cannot load CA file " + options_.ca_file);
            }
        }
    } else {
        tls_->set_verify_mode(ssl::verify_none);
    }
}

client::~client() {
    // A lookup still running outlives the client: it must find no executor of ours to post
    // to, or to destroy once the io_context is gone.
    std::lock_guard lock(dns_->mutex);
    dns_->closed = true;
    for (auto& [key, h] : dns_->hosts) h.waiters.clear();
}

std::size_t client::idle_connections() const {
    std::lock_guard lock(pool_mutex_);
    std::size_t n = 0;
    for (const auto& [origin, conns] : idle_) n += conns.size();
    return n;
}

void client::close_idle() {
    decltype(idle_) doomed;
    {
        std::lock_guard lock(pool_mutex_);
        doomed.swap(idle_);
    }
    // The sockets close here, outside the lock.
}

std::unique_ptr<client::connection> client::take_idle(const std::string& origin) {
    const auto now = clock_type::now();
    for (;;) {
        std::unique_ptr<connection> conn;
        {
            std::lock_guard lock(pool_mutex_);
            auto it = idle_.find(origin);
            if (it == idle_.end() || it->second.empty()) return nullptr;
            conn = std::move(it->second.back());
            it->second.pop_back();
        }
        // Checked outside the lock: a failed check closes the socket.
        if (now - conn->idle_since < options_.idle_timeout && still_open(*conn)) return conn;
    }
}

void client::give_back(std::unique_ptr<connection> conn) {
    if (options_.max_idle_per_origin == 0) return;
    const auto now = clock_type::now();
    conn->idle_since = now;
    conn->tcp().expires_never();
    std::vector<std::unique_ptr<connection>> doomed;
    {
        std::lock_guard lock(pool_mutex_);
        // Expired connections of every origin go now, so an origin that is no longer called
        // does not keep its sockets open until the client is destroyed.
        for (auto it = idle_.begin(); it != idle_.end();) {
            auto& conns = it->second;
            auto fresh = std::find_if(conns.begin(), conns.end(), [&](const auto& c) {
                return now - c->idle_since < options_.idle_timeout;
            });
            std::move(conns.begin(), fresh, std::back_inserter(doomed));
            conns.erase(conns.begin(), fresh);
            it = conns.empty() ? idle_.erase(it) : std::next(it);
        }
        auto& conns = idle_[conn->origin];
        if (conns.size() >= options_.max_idle_per_origin) {
            doomed.push_back(std::move(conns.front()));
            conns.erase(conns.begin());
        }
        conns.push_back(std::move(conn));
    }
}

asio::awaitable<result<client_response>> client::send(client_request req,
                                                      clock_type::time_point deadline) {
    // The request runs on a strand of its own: Beast's stream timeouts complete on the
    // coroutine's executor, and must not run concurrently with the coroutine itself, which a
    // caller on a plain multi-threaded io_context executor would allow.
    co_return co_await asio::co_spawn(asio::make_strand(executor_), run(std::move(req), deadline),
                                      asio::use_awaitable);
}

asio::awaitable<result<client_response>> client::run(client_request req,
                                                     clock_type::time_point deadline) {
    auto where = parse_target(req.url);
    if (!where) co_return where.error();
    if (clock_type::now() >= deadline) co_return client_errc::timeout;

    bhttp::request<bhttp::string_body> msg{req.method, where->path, 11};
    for (const auto& field : req.headers) msg.insert(field.name_string(), field.value());
    msg.set(bhttp::field::host, where->host_header);
    if (msg.find(bhttp::field::user_agent) == msg.end()) {
        msg.set(bhttp::field::user_agent, options_.user_agent);
    }
    msg.body() = std::move(req.body);
    msg.prepare_payload();

    const bhttp::verb req_method = req.method;
    bool fresh_only = false;
    for (;;) {
        std::unique_ptr<connection> conn = fresh_only ? nullptr : take_idle(where->origin);
        const bool reused = conn != nullptr;
        if (!conn) {
            auto opened = co_await open(*where, deadline);
            if (!opened) co_return opened.error();
            conn = std::move(*opened);
        }
        conn->tcp().expires_at(deadline);
        // Not a conditional expression: GCC 12 miscompiles co_await inside `?:`.
        exchange_outcome out;
        if (conn->secure) {
            out = co_await exchange(*conn->secure, conn->buffer, msg, options_);
        } else {
            out = co_await exchange(*conn->plain, conn->buffer, msg, options_);
        }
        if (!out.ec) {
            if (out.reusable) give_back(std::move(conn));
            co_return std::move(out.response);
        }
        const client_errc why = classify_exchange(out.ec, deadline);
        // A reused connection the server closed while it sat in the pool is sent again, once,
        // on a new connection: when the write failed (the server cannot have the whole
        // request), or, for an idempotent method only, when the connection ended before the
        // first byte of an answer. A POST or PATCH that was written may have been processed
        // by a server that then failed (a tool run, a number bought), so it is never sent
        // twice (RFC 9110, 9.2.2).
        const bool stale = reused && why != client_errc::timeout &&
                           (!out.written || (idempotent(req_method) && !out.got_bytes &&
                                             why == client_errc::connection_closed));
        log::debug(
            "msg=\"http client exchange failed\" origin={} reused={} written={} error=\"{}\"",
            where->origin, reused, out.written, out.ec.message());
        if (!stale) co_return why;
        fresh_only = true;
    }
}

bool client::idempotent(bhttp::verb method) noexcept {
    switch (method) {
        case bhttp::verb::get:
        case bhttp::verb::head:
        case bhttp::verb::put:
        case bhttp::verb::delete_:
        case bhttp::verb::options:
        case bhttp::verb::trace:
            return true;
        default:
            return false;
    }
}

asio::awaitable<result<std::unique_ptr<client::connection>>> client::open(
    const target& where, clock_type::time_point deadline) {
    const auto strand = co_await asio::this_coro::executor;
    std::vector<tcp::endpoint> endpoints;
    if (where.host_is_address) {
        endpoints.emplace_back(asio::ip::make_address(where.host), where.port);
    } else {
        const auto found = co_await resolve(where, deadline);
        if (!found) co_return found.error();
        endpoints = *found;
    }

    auto conn = std::make_unique<connection>();
    conn->origin = where.origin;
    if (where.tls) {
        conn->secure.emplace(executor_, *tls_);
    } else {
        conn->plain.emplace(executor_);
    }
    beast::tcp_stream& stream = conn->tcp();
    const auto connect_by = std::min(deadline, clock_type::now() + options_.connect_timeout);
    stream.expires_at(connect_by);
    auto [cec, ep] = co_await stream.async_connect(endpoints, use_tuple);
    if (cec) {
        log::debug("msg=\"http client connect failed\" origin={} error=\"{}\"", where.origin,
                   cec.message());
        // Hitting connect_timeout is a connect failure; hitting the request's deadline is not.
        const bool at_deadline = clock_type::now() >= deadline ||
                                 (cec == beast::error::timeout && connect_by == deadline);
        co_return at_deadline ? client_errc::timeout : client_errc::connect_failed;
    }
    error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
    stream.expires_at(deadline);

    if (where.tls) {
        auto& tls = *conn->secure;
        // SNI carries host names only (RFC 6066), never address literals.
        if (!where.host_is_address &&
            SSL_set_tlsext_host_name(tls.native_handle(), where.host.c_str()) != 1) {
            co_return client_errc::tls_failed;
        }
        if (options_.verify_tls) tls.set_verify_callback(ssl::host_name_verification(where.host));
        auto [hec] = co_await tls.async_handshake(ssl::stream_base::client, use_tuple);
        if (hec) {
            log::debug("msg=\"http client TLS handshake failed\" origin={} error=\"{}\"",
                       where.origin, hec.message());
            co_return timed_out(hec, deadline) ? client_errc::timeout : client_errc::tls_failed;
        }
    }
    co_return std::move(conn);
}

}  // namespace switchboard::http
