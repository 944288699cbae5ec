#pragma once
/// The outbound HTTP/1.1 client (Boost.Beast, C++20 coroutines): http and https URLs, one
/// overall deadline per request, keep-alive connections pooled per origin. Used to relay Vapi
/// webhooks to user handlers and to call the Vapi REST API; it knows nothing about Vapi.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace switchboard::http {

/// Why a request got no response. The category's messages name the failed step; the cause
/// (the system or OpenSSL error) is logged at debug level.
enum class client_errc {
    bad_url = 1,        ///< not an absolute http:// or https:// URL with a host (or has userinfo)
    resolve_failed,     ///< the host name did not resolve
    connect_failed,     ///< no address accepted a TCP connection (refused, unreachable, timeout)
    tls_failed,         ///< TLS handshake or record layer failed (e.g. certificate rejected)
    timeout,            ///< the request's deadline passed
    connection_closed,  ///< the server closed or reset the connection before a full response
    protocol_error,     ///< the response is not valid HTTP/1.1 or its header is too large
    body_too_large,     ///< the response body exceeds client_options::max_response_body
};

const boost::system::error_category& client_category() noexcept;

inline boost::system::error_code make_error_code(client_errc e) noexcept {
    return {static_cast<int>(e), client_category()};
}

/// Settings of a client, fixed at construction.
struct client_options {
    /// Upper bound of the TCP connect step (all addresses of the host together); the request's
    /// deadline still applies when it is sooner. A connect that hits this bound is connect_failed.
    std::chrono::milliseconds connect_timeout{5000};
    /// A pooled connection unused for this long is closed instead of reused.
    std::chrono::milliseconds idle_timeout{30000};
    /// Idle connections kept per origin (scheme, host, port); 0 disables pooling.
    std::size_t max_idle_per_origin = 8;
    /// Verify the server certificate chain and host name (https only).
    bool verify_tls = true;
    /// PEM file of trusted CAs; empty means the system default paths. When set, it replaces them.
    std::string ca_file;
    /// Sent as User-Agent unless the request has its own.
    std::string user_agent = "switchboard/0.1";
    std::uint64_t max_response_body = 16u << 20;
    std::uint32_t max_response_header = 64u << 10;
    /// A host's addresses are reused for this long; after it they are still used while a new
    /// lookup runs (and when it fails).
    std::chrono::seconds dns_ttl{60};
    /// Looks a host name up, blocking (run on a thread of its own). Empty: getaddrinfo. Tests
    /// put a slow or failing DNS here.
    std::function<boost::system::error_code(const std::string& host, std::uint16_t port,
                                            std::vector<std::string>& addresses)>
        lookup;
};

/// An outgoing request. `url` is absolute (http or https); its fragment is not sent. The client
/// sets Host and Content-Length, and User-Agent when `headers` has none.
struct client_request {
    boost::beast::http::verb method = boost::beast::http::verb::get;
    std::string url;
    boost::beast::http::fields headers;
    std::string body;
};

/// A complete response (any status: 4xx and 5xx are responses, not errors).
struct client_response {
    unsigned status = 0;
    boost::beast::http::fields headers;
    std::string body;
};

/// Sends HTTP/1.1 requests with a keep-alive connection pool per origin.
///
/// Lifetime: built at start-up and kept until every `send` has completed and the executor's
/// io_context has stopped (pooled sockets belong to that io_context). Exceptions only from the
/// constructor (an unreadable CA file).
///
/// Threads: `send` may be called concurrently from any thread or strand. Each request runs on a
/// strand of its own made from the client's executor, so callers need not be on a strand; the
/// pool is guarded by a mutex that is never held across a suspension. A connection belongs to
/// exactly one request at a time.
///
/// Nothing blocks a thread: DNS lookups run on threads of their own, one per host at a time, and
/// are raced against the deadline (a lookup that hangs past it is abandoned, not waited for).
/// Asio's resolver would run every lookup on one thread, so a host whose DNS hangs would hold
/// up the lookups of every other host. Addresses are cached (`dns_ttl`, then used stale while a
/// new lookup runs, or when it fails).
///
/// Stale connections: a pooled connection that the server closed is detected when taken from
/// the pool; if the server closes it in the instant after, the request is retried once on a
/// fresh connection when the write failed, or, for an idempotent method (GET, HEAD, PUT,
/// DELETE, OPTIONS, TRACE), when the connection ended before the first byte of a response. A
/// POST or PATCH that was written is never sent again: the server may have acted on it.
class client {
  public:
    client(boost::asio::any_io_executor executor, client_options options = {});
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// Sends `req` and reads the response; DNS, connect, TLS handshake, write and read all
    /// finish before `deadline` or the result is client_errc::timeout. Completes on the
    /// caller's executor.
    boost::asio::awaitable<boost::system::result<client_response>> send(
        client_request req, std::chrono::steady_clock::time_point deadline);

    /// Idle connections in the pool, all origins together (for tests and metrics).
    std::size_t idle_connections() const;

    /// Closes every idle connection (e.g. before the io_context stops).
    void close_idle();

    const client_options& options() const noexcept { return options_; }

    struct connection;  // defined in client.cpp
    struct target;      // a parsed URL, defined in client.cpp

  private:
    boost::asio::awaitable<boost::system::result<client_response>> run(
        client_request req, std::chrono::steady_clock::time_point deadline);
    boost::asio::awaitable<boost::system::result<std::unique_ptr<connection>>> open(
        const target& where, std::chrono::steady_clock::time_point deadline);
    boost::asio::awaitable<boost::system::result<std::vector<boost::asio::ip::tcp::endpoint>>>
    resolve(const target& where, std::chrono::steady_clock::time_point deadline);
    std::unique_ptr<connection> take_idle(const std::string& origin);
    static bool idempotent(boost::beast::http::verb method) noexcept;
    void give_back(std::unique_ptr<connection> conn);

    boost::asio::any_io_executor executor_;
    client_options options_;
    std::unique_ptr<boost::asio::ssl::context> tls_;
    struct dns_cache;  // shared with the lookup threads, which may outlive the client
    std::shared_ptr<dns_cache> dns_;
    mutable std::mutex pool_mutex_;
    /// Per origin, oldest first; the newest is reused first (the most likely to be alive).
    std::unordered_map<std::string, std::vector<std::unique_ptr<connection>>> idle_;
};

}  // namespace switchboard::http

template <>
struct boost::system::is_error_code_enum<switchboard::http::client_errc> : std::true_type {};
