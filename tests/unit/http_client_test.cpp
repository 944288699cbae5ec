// http::client and send_with_retries against a Beast server inside the test, on 127.0.0.1:0
// (loopback only), with a self-signed certificate made here for the TLS cases.
#include "switchboard/http/client.hpp"
#include "switchboard/http/retry_policy.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <unistd.h>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// --- a self-signed certificate --------------------------------------------------------------

struct test_cert {
    std::string cert_pem;
    std::string key_pem;
};

template <class T, void (*Free)(T*)>
struct openssl_deleter {
    void operator()(T* p) const { Free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509, X509_free>>;
using bio_ptr = std::unique_ptr<BIO, openssl_deleter<BIO, BIO_free_all>>;

std::string bio_string(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return {data, static_cast<std::size_t>(n)};
}

void add_extension(X509* cert, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (ext == nullptr) throw std::runtime_error("X509V3_EXT_conf_nid failed");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

/// A P-256 key and a self-signed X.509 v3 certificate for `common_name` and `alt_names`
/// (an OpenSSL subjectAltName value such as "DNS:localhost,IP:127.0.0.1").
test_cert make_self_signed(const std::string& common_name, const char* alt_names) {
    pkey_ptr key(EVP_EC_gen("P-256"));
    if (!key) throw std::runtime_error("EVP_EC_gen failed");
    x509_ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    static std::atomic<long> serial{1000};
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ++serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24L * 3600);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                               0);
    X509_set_issuer_name(cert.get(), name);
    add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), NID_subject_alt_name, alt_names);
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
        throw std::runtime_error("X509_sign failed");
    }
    test_cert out;
    bio_ptr cert_bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(cert_bio.get(), cert.get());
    out.cert_pem = bio_string(cert_bio.get());
    bio_ptr key_bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    out.key_pem = bio_string(key_bio.get());
    return out;
}

/// A file removed when the object dies.
class temp_file {
  public:
    explicit temp_file(const std::string& contents) {
        static std::atomic<int> counter{0};
        path_ = std::filesystem::temp_directory_path() /
                ("sb_http_client_test_" + std::to_string(::getpid()) + "_" +
                 std::to_string(++counter) + ".pem");
        std::ofstream(path_) << contents;
    }
    ~temp_file() {
        std::error_code ec;
        std::filesystem::remove(path_, ec);
    }
    std::string path() const { return path_.string(); }

  private:
    std::filesystem::path path_;
};

// --- the test server --------------------------------------------------------------------------

/// What the server saw.
struct seen_request {
    int connection = 0;  ///< 1-based accept order
    int index = 0;       ///< 1-based position on its connection
    std::string method;
    std::string target;
    bhttp::fields headers;
    std::string body;
    std::string sni;  ///< the TLS server name, empty without TLS or without SNI
};

/// What the server does with a request.
struct reply {
    enum class action {
        respond,             ///< answer, keep the connection open when the client asked
        respond_then_close,  ///< answer as keep-alive, then close the socket at once
        drop,                ///< close the connection without answering
        hang,                ///< never answer (until the server stops)
    };
    action what = action::respond;
    unsigned status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    bool chunked = false;
    std::chrono::milliseconds delay{0};  ///< wait before answering
};

/// A Beast HTTP/1.1 server on 127.0.0.1:0, on its own io_context thread. `handler` runs on that
/// thread, one request at a time.
class test_server {
  public:
    using handler_fn = std::function<reply(const seen_request&)>;

    explicit test_server(handler_fn handler, ssl::context* tls = nullptr)
        : handler_(std::move(handler)), tls_(tls), acceptor_(ioc_) {
        const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
        acceptor_.open(ep.protocol());
        acceptor_.set_option(asio::socket_base::reuse_address(true));
        acceptor_.bind(ep);
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        asio::co_spawn(ioc_, accept_loop(), asio::detached);
        thread_ = std::thread([this] { ioc_.run(); });
    }

    ~test_server() {
        ioc_.stop();
        thread_.join();
    }

    std::uint16_t port() const { return port_; }
    std::string url(const std::string& path, const std::string& host = "127.0.0.1") const {
        return std::string(tls_ ? "https://" : "http://") + host + ":" + std::to_string(port_) +
               path;
    }
    int accepted() const { return accepted_.load(); }
    std::vector<seen_request> requests() const {
        std::lock_guard lock(mutex_);
        return seen_;
    }
    std::size_t request_count() const {
        std::lock_guard lock(mutex_);
        return seen_.size();
    }

  private:
    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
            if (ec) co_return;
            const int n = ++accepted_;
            if (tls_ != nullptr) {
                asio::co_spawn(ioc_, serve_tls(std::move(socket), n), asio::detached);
            } else {
                asio::co_spawn(ioc_, serve_plain(std::move(socket), n), asio::detached);
            }
        }
    }

    asio::awaitable<void> serve_plain(tcp::socket socket, int connection) {
        beast::tcp_stream stream(std::move(socket));
        co_await serve(stream, connection, {});
    }

    asio::awaitable<void> serve_tls(tcp::socket socket, int connection) {
        beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls_);
        auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
        if (ec) co_return;
        const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
        co_await serve(stream, connection, sni != nullptr ? sni : "");
    }

    template <class Stream>
    asio::awaitable<void> serve(Stream& stream, int connection, std::string sni) {
        beast::flat_buffer buffer;
        for (int index = 1;; ++index) {
            bhttp::request<bhttp::string_body> req;
            auto [ec, n] = co_await bhttp::async_read(stream, buffer, req, use_tuple);
            if (ec) co_return;
            seen_request seen{connection,
                              index,
                              std::string(req.method_string()),
                              std::string(req.target()),
                              static_cast<const bhttp::fields&>(req),
                              req.body(),
                              sni};
            const reply r = handler_(seen);
            {
                std::lock_guard lock(mutex_);
                seen_.push_back(std::move(seen));
            }
            if (r.what == reply::action::drop) co_return;
            asio::steady_timer timer(co_await asio::this_coro::executor);
            if (r.what == reply::action::hang) {
                timer.expires_after(1h);
                co_await timer.async_wait(use_tuple);
                co_return;
            }
            if (r.delay.count() > 0) {
                timer.expires_after(r.delay);
                co_await timer.async_wait(use_tuple);
            }
            bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), 11};
            for (const auto& [name, value] : r.headers) res.insert(name, value);
            res.body() = r.body;
            if (r.chunked) {
                res.chunked(true);
            } else {
                res.prepare_payload();
            }
            res.keep_alive(req.keep_alive());
            auto [wec, wn] = co_await bhttp::async_write(stream, res, use_tuple);
            if (wec || r.what == reply::action::respond_then_close || !req.keep_alive()) {
                co_return;
            }
        }
    }

    handler_fn handler_;
    ssl::context* tls_;
    asio::io_context ioc_;
    tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::atomic<int> accepted_{0};
    mutable std::mutex mutex_;
    std::vector<seen_request> seen_;
    std::thread thread_;
};

reply ok(std::string body) {
    reply r;
    r.body = std::move(body);
    return r;
}

reply with_status(unsigned status, std::vector<std::pair<std::string, std::string>> headers = {}) {
    reply r;
    r.status = status;
    r.headers = std::move(headers);
    r.body = "status " + std::to_string(status);
    return r;
}

/// Echoes where the request was served: "c<connection>r<index> <method> <target>".
reply echo(const seen_request& req) {
    return ok("c" + std::to_string(req.connection) + "r" + std::to_string(req.index) + " " +
              req.method + " " + req.target);
}

// --- running coroutines -------------------------------------------------------------------------

/// Runs `work` to completion on `ioc` (on this thread) and returns its result.
template <class T>
T run(asio::io_context& ioc, asio::awaitable<T> work) {
    std::optional<T> out;
    std::exception_ptr error;
    asio::co_spawn(ioc, std::move(work), [&](std::exception_ptr e, T value) {
        error = std::move(e);
        out = std::move(value);
    });
    ioc.restart();
    ioc.run();
    if (error) std::rethrow_exception(error);
    if (!out) throw std::logic_error("the coroutine did not complete");
    return std::move(*out);
}

using send_result = boost::system::result<client_response>;

client_request get(std::string url) {
    client_request req;
    req.url = std::move(url);
    return req;
}

/// One request with a deadline `budget` from now.
send_result fetch(asio::io_context& ioc, client& c, client_request req,
                  std::chrono::milliseconds budget = 5s) {
    return run(ioc, c.send(std::move(req), steady::now() + budget));
}

std::chrono::milliseconds since(steady::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
}

/// A loopback port nobody listens on: bound, then closed.
std::uint16_t closed_port() {
    asio::io_context ioc;
    tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = a.local_endpoint().port();
    a.close();
    return port;
}

// --- plain HTTP ------------------------------------------------------------------------------

TEST(HttpClient, GetRoundTripWithHeaders) {
    test_server server([](const seen_request&) {
        reply r = ok("hello");
        r.status = 203;
        r.headers = {{"X-Reply", "yes"}, {"Content-Type", "text/plain"}};
        return r;
    });
    asio::io_context ioc;
    client c(ioc.get_executor());
    client_request req = get(server.url("/path/x?a=1&b=%20"));
    req.headers.set("X-Test", "42");
    const auto res = fetch(ioc, c, std::move(req));

    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_EQ(res->status, 203u);
    EXPECT_EQ(res->body, "hello");
    EXPECT_EQ(res->headers["X-Reply"], "yes");
    EXPECT_EQ(res->headers[bhttp::field::content_type], "text/plain");

    const auto seen = server.requests();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "GET");
    EXPECT_EQ(seen[0].target, "/path/x?a=1&b=%20");
    EXPECT_EQ(seen[0].headers["X-Test"], "42");
    EXPECT_EQ(seen[0].headers[bhttp::field::host], "127.0.0.1:" + std::to_string(server.port()));
    EXPECT_EQ(seen[0].headers[bhttp::field::user_agent], "switchboard/0.1");
    EXPECT_EQ(seen[0].body, "");
}

TEST(HttpClient, PostRoundTripWithBody) {
    test_server server([](const seen_request& req) {
        reply r = ok("got " + std::to_string(req.body.size()) + " bytes: " + req.body);
        r.status = 201;
        return r;
    });
    asio::io_context ioc;
    client_options opts;
    opts.user_agent = "custom-agent/1";
    client c(ioc.get_executor(), opts);
    client_request req;
    req.method = bhttp::verb::post;
    req.url = server.url("");  // no path: the target is "/"
    req.headers.set(bhttp::field::content_type, "application/json");
    req.body = R"({"message":{"type":"tool-calls"}})";
    const auto res = fetch(ioc, c, req);

    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_EQ(res->status, 201u);
    EXPECT_EQ(res->body, "got 33 bytes: " + req.body);
    const auto seen = server.requests();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "POST");
    EXPECT_EQ(seen[0].target, "/");
    EXPECT_EQ(seen[0].body, req.body);
    EXPECT_EQ(seen[0].headers[bhttp::field::content_length], "33");
    EXPECT_EQ(seen[0].headers[bhttp::field::content_type], "application/json");
    EXPECT_EQ(seen[0].headers[bhttp::field::user_agent], "custom-agent/1");
}

TEST(HttpClient, RequestUserAgentWinsOverTheDefault) {
    test_server server([](const seen_request&) { return ok("x"); });
    asio::io_context ioc;
    client c(ioc.get_executor());
    client_request req = get(server.url("/"));
    req.headers.set(bhttp::field::user_agent, "mine");
    ASSERT_TRUE(fetch(ioc, c, std::move(req)).has_value());
    EXPECT_EQ(server.requests().at(0).headers[bhttp::field::user_agent], "mine");
}

TEST(HttpClient, ErrorStatusesAreResponsesNotErrors) {
    test_server server([](const seen_request&) { return with_status(503); });
    asio::io_context ioc;
    client c(ioc.get_executor());
    const auto res = fetch(ioc, c, get(server.url("/")));
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->status, 503u);
    EXPECT_EQ(res->body, "status 503");
}

TEST(HttpClient, ChunkedResponseIsReassembled) {
    test_server server([](const seen_request&) {
        reply r = ok(std::string(5000, 'z'));
        r.chunked = true;
        return r;
    });
    asio::io_context ioc;
    client c(ioc.get_executor());
    const auto res = fetch(ioc, c, get(server.url("/")));
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_EQ(res->body, std::string(5000, 'z'));
}

TEST(HttpClient, BadUrlsAreRejectedWithoutConnecting) {
    asio::io_context ioc;
    client c(ioc.get_executor());
    for (const char* url :
         {"", "not a url", "/relative/path", "ftp://127.0.0.1/x", "http://user:pw@127.0.0.1/",
          "http://127.0.0.1:99999/", "http:///x", "mailto:someone@example.com"}) {
        SCOPED_TRACE(url);
        const auto res = fetch(ioc, c, get(url));
        ASSERT_FALSE(res.has_value());
        EXPECT_EQ(res.error(), client_errc::bad_url);
    }
}

TEST(HttpClient, KeepAliveReusesOneConnection) {
    test_server server(echo);
    asio::io_context ioc;
    client c(ioc.get_executor());
    const auto first = fetch(ioc, c, get(server.url("/one")));
    const auto second = fetch(ioc, c, get(server.url("/two")));
    ASSERT_TRUE(first.has_value() && second.has_value());
    EXPECT_EQ(first->body, "c1r1 GET /one");
    EXPECT_EQ(second->body, "c1r2 GET /two");
    EXPECT_EQ(server.accepted(), 1);
    EXPECT_EQ(c.idle_connections(), 1u);

    c.close_idle();
    EXPECT_EQ(c.idle_connections(), 0u);
    const auto third = fetch(ioc, c, get(server.url("/three")));
    ASSERT_TRUE(third.has_value());
    EXPECT_EQ(third->body, "c2r1 GET /three");
    EXPECT_EQ(server.accepted(), 2);
}

TEST(HttpClient, PoolingDisabledOpensAConnectionPerRequest) {
    test_server server(echo);
    asio::io_context ioc;
    client_options opts;
    opts.max_idle_per_origin = 0;
    client c(ioc.get_executor(), opts);
    ASSERT_TRUE(fetch(ioc, c, get(server.url("/a"))).has_value());
    const auto second = fetch(ioc, c, get(server.url("/b")));
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->body, "c2r1 GET /b");
    EXPECT_EQ(server.accepted(), 2);
    EXPECT_EQ(c.idle_connections(), 0u);
}

TEST(HttpClient, ConnectionCloseFromRequestIsNotPooled) {
    test_server server(echo);
    asio::io_context ioc;
    client c(ioc.get_executor());
    client_request req = get(server.url("/a"));
    req.headers.set(bhttp::field::connection, "close");
    ASSERT_TRUE(fetch(ioc, c, std::move(req)).has_value());
    EXPECT_EQ(c.idle_connections(), 0u);
    ASSERT_TRUE(fetch(ioc, c, get(server.url("/b"))).has_value());
    EXPECT_EQ(server.accepted(), 2);
}

TEST(HttpClient, IdleTimeoutRetiresPooledConnections) {
    test_server server(echo);
    asio::io_context ioc;
    client_options opts;
    opts.idle_timeout = 50ms;
    client c(ioc.get_executor(), opts);
    ASSERT_TRUE(fetch(ioc, c, get(server.url("/a"))).has_value());
    std::this_thread::sleep_for(120ms);
    const auto second = fetch(ioc, c, get(server.url("/b")));
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->body, "c2r1 GET /b");
    EXPECT_EQ(server.accepted(), 2);
}

TEST(HttpClient, ServerClosedIdleConnectionIsReplaced) {
    // The server answers as keep-alive, then closes: the client pools a dead connection.
    test_server server([](const seen_request& req) {
        reply r = echo(req);
        if (req.connection == 1) r.what = reply::action::respond_then_close;
        return r;
    });
    asio::io_context ioc;
    client c(ioc.get_executor());
    ASSERT_TRUE(fetch(ioc, c, get(server.url("/a"))).has_value());
    EXPECT_EQ(c.idle_connections(), 1u);
    std::this_thread::sleep_for(100ms);  // the FIN arrives

    const auto second = fetch(ioc, c, get(server.url("/b")));
    ASSERT_TRUE(second.has_value()) << second.error().message();
    EXPECT_EQ(second->body, "c2r1 GET /b");
    EXPECT_EQ(server.accepted(), 2);
    EXPECT_EQ(server.request_count(), 2u);
}

/// Sends a GET, then `method` /b with a body on the same pooled connection, to a server that
/// reads that second request and closes without a byte of answer, as a server closing an idle
/// connection at that instant, or one that acted on the request and then failed, would.
struct after_a_drop {
    send_result result;
    int accepted = 0;
    std::vector<seen_request> seen;
};
after_a_drop send_into_a_drop(bhttp::verb method) {
    test_server server([](const seen_request& req) {
        reply r = echo(req);
        if (req.connection == 1 && req.index == 2) r.what = reply::action::drop;
        return r;
    });
    asio::io_context ioc;
    client c(ioc.get_executor());
    EXPECT_TRUE(fetch(ioc, c, get(server.url("/a"))).has_value());
    client_request req;
    req.method = method;
    req.url = server.url("/b");
    req.body = "payload";
    auto result = fetch(ioc, c, req);
    return {std::move(result), server.accepted(), server.requests()};
}

TEST(HttpClient, ReusedConnectionDroppedBeforeAnswerIsRetriedOnce) {
    const auto out = send_into_a_drop(bhttp::verb::put);
    ASSERT_TRUE(out.result.has_value()) << out.result.error().message();
    EXPECT_EQ(out.result->body, "c2r1 PUT /b");
    EXPECT_EQ(out.accepted, 2);
    ASSERT_EQ(out.seen.size(), 3u);
    EXPECT_EQ(out.seen[1].connection, 1);
    EXPECT_EQ(out.seen[1].body, "payload");
    EXPECT_EQ(out.seen[2].connection, 2);
    EXPECT_EQ(out.seen[2].body, "payload");
}

// The server may have acted on a POST or PATCH it read (run a tool, bought a number) before it
// failed: such a request is not sent a second time.
TEST(HttpClient, AWrittenPostOrPatchIsNeverSentTwice) {
    for (const auto method : {bhttp::verb::post, bhttp::verb::patch}) {
        const auto out = send_into_a_drop(method);
        ASSERT_FALSE(out.result.has_value());
        EXPECT_EQ(out.result.error(), client_errc::connection_closed);
        EXPECT_EQ(out.seen.size(), 2u);
        EXPECT_EQ(out.accepted, 1);
    }
}

TEST(HttpClient, RetryHappensOnlyOnce) {
    // Every connection's second request is dropped; the fresh connection's first succeeds, so
    // one retry suffices; but a fresh connection that drops is never retried.
    test_server server([](const seen_request& req) {
        reply r = echo(req);
        if (req.index == 2 || req.target == "/drop") r.what = reply::action::drop;
        return r;
    });
    asio::io_context ioc;
    client c(ioc.get_executor());
    ASSERT_TRUE(fetch(ioc, c, get(server.url("/a"))).has_value());
    const auto res = fetch(ioc, c, get(server.url("/drop")));
    ASSERT_FALSE(res.has_value());
    EXPECT_EQ(res.error(), client_errc::connection_closed);
    // /drop was sent on the pooled connection (index 2: dropped), then once more on a fresh
    // one, where it is dropped again: no third attempt.
    EXPECT_EQ(server.request_count(), 3u);
    EXPECT_EQ(server.accepted(), 2);
}

TEST(HttpClient, FreshConnectionClosedBeforeAnswerIsNotRetried) {
    test_server server([](const seen_request&) {
        reply r;
        r.what = reply::action::drop;
        return r;
    });
    asio::io_context ioc;
    client c(ioc.get_executor());
    const auto res = fetch(ioc, c, get(server.url("/")));
    ASSERT_FALSE(res.has_value());
    EXPECT_EQ(res.error(), client_errc::connection_closed);
    EXPECT_EQ(server.request_count(), 1u);
    EXPECT_EQ(server.accepted(), 1);
}

// A host whose DNS hangs holds up its own requests only: another host's lookup runs beside it
// (Asio's resolver would queue it behind), and a host looked up once is not looked up again
// within the TTL.
TEST(HttpClient, AHostWhoseDnsHangsDoesNotHoldUpAnother) {
    test_server server(echo);
    asio::io_context ioc;
    std::atomic<int> fast_lookups{0};
    client_options options;
    options.lookup = [&](const std::string& host, std::uint16_t,
                         std::vector<std::string>& addresses) -> boost::system::error_code {
        if (host == "slow.test") {
            std::this_thread::sleep_for(2s);
            return asio::error::host_not_found;
        }
        ++fast_lookups;
        addresses.push_back("127.0.0.1");
        return {};
    };
    client c(ioc.get_executor(), options);
    std::optional<send_result> slow, fast;
    std::optional<std::chrono::milliseconds> fast_took;
    const auto start = steady::now();
    asio::co_spawn(ioc, c.send(get(server.url("/s", "slow.test")), steady::now() + 1s),
                   [&](std::exception_ptr, send_result r) { slow = std::move(r); });
    asio::co_spawn(ioc, c.send(get(server.url("/f", "fast.test")), steady::now() + 5s),
                   [&](std::exception_ptr, send_result r) {
                       fast = std::move(r);
                       fast_took = since(start);
                   });
    ioc.run();
    ASSERT_TRUE(fast && slow);
    ASSERT_TRUE(fast->has_value()) << fast->error().message();
    EXPECT_LT(*fast_took, 500ms);
    ASSERT_FALSE(slow->has_value());
    EXPECT_EQ(slow->error(), client_errc::timeout);
    ASSERT_TRUE(fetch(ioc, c, get(server.url("/again", "fast.test"))).has_value());
    EXPECT_EQ(fast_lookups.load(), 1);
}

TEST(HttpClient, DeadlineCoversAServerThatNeverAnswers) {
    test_server server([](const seen_request&) {
        reply r;
        r.what = reply::action::hang;
        return r;
    });
    asio::io_context ioc;
    client c(ioc.get_executor());
    const auto start = steady::now();
    const auto res = fetch(ioc, c, get(server.url("/")), 300ms);
    const auto took = since(start);
    ASSERT_FALSE(res.has_value());
    EXPECT_EQ(res.error(), client_errc::timeout);
    EXPECT_GE(took, 295ms);
    EXPECT_LT(took, 800ms);
    EXPECT_EQ(server.request_count(), 1u);
    EXPECT_EQ(c.idle_connections(), 0u);
}

TEST(HttpClient, DeadlineCoversASlowBody) {
    // The answer starts in time but its delay pushes it past the deadline.
    test_server server([](const seen_request&) {
        reply r = ok("late");
        r.delay = 1s;
        return r;
    });
    asio::io_context ioc;
    client c(ioc.get_executor());
    const auto start = steady::now();
    const auto res = fetch(ioc, c, get(server.url("/")), 200ms);
    ASSERT_FALSE(res.has_value());
    EXPECT_EQ(res.error(), client_errc::timeout);
    EXPECT_LT(since(start), 700ms);
}

TEST(HttpClient, PassedDeadlineFailsWithoutConnecting) {
    test_server server(echo);
    asio::io_context ioc;
    client c(ioc.get_executor());
    const auto res = run(ioc, c.send(get(server.url("/")), steady::now() - 1ms));
    ASSERT_FALSE(res.has_value());
    EXPECT_EQ(res.error(), client_errc::timeout);
    EXPECT_EQ(server.accepted(), 0);
}

TEST(HttpClient, ConnectRefusedFailsQuickly) {
    asio::io_context ioc;
    client c(ioc.get_executor());
    const auto start = steady::now();
    const auto res =
        fetch(ioc, c, get("http://127.0.0.1:" + std::to_string(closed_port()) + "/"), 5s);
    ASSERT_FALSE(res.has_value());
    EXPECT_EQ(res.error(), client_errc::connect_failed);
    EXPECT_LT(since(start), 1s);
}

TEST(HttpClient, UnknownHostFailsToResolve) {
    asio::io_context ioc;
    client c(ioc.get_executor());
    // .invalid never resolves (RFC 6761). Where DNS is unreachable the lookup may hang instead:
    // then the deadline must cut it off.
    const auto start = steady::now();
    const auto res = fetch(ioc, c, get("http://no-such-host.invalid/"), 3s);
    ASSERT_FALSE(res.has_value());
    EXPECT_THAT(res.error(),
                ::testing::AnyOf(boost::system::error_code(client_errc::resolve_failed),
                                 boost::system::error_code(client_errc::timeout)));
    EXPECT_LT(since(start), 3500ms);
}

TEST(HttpClient, ConnectTimeoutIsConnectFailedAndDeadlineIsTimeout) {
    // A listener whose backlog is full and never accepts: the kernel drops further SYNs, so
    // a connect hangs until the client's connect_timeout.
    asio::io_context server_ioc;
    tcp::acceptor acceptor(server_ioc);
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor.open(ep.protocol());
    acceptor.bind(ep);
    acceptor.listen(0);
    const auto port = acceptor.local_endpoint().port();
    std::vector<std::unique_ptr<tcp::socket>> fillers;
    for (int i = 0; i < 8; ++i) {
        // async_connect sends the SYN at once; server_ioc never runs, so nothing completes.
        fillers.push_back(std::make_unique<tcp::socket>(server_ioc));
        fillers.back()->async_connect(tcp::endpoint(ep.address(), port),
                                      [](const boost::system::error_code&) {});
    }
    std::this_thread::sleep_for(50ms);

    asio::io_context ioc;
    client_options opts;
    opts.connect_timeout = 300ms;
    client c(ioc.get_executor(), opts);
    const auto start = steady::now();
    const auto res = fetch(ioc, c, get("http://127.0.0.1:" + std::to_string(port) + "/"), 5s);
    const auto took = since(start);
    ASSERT_FALSE(res.has_value());
    EXPECT_EQ(res.error(), client_errc::connect_failed);
    EXPECT_GE(took, 290ms);
    EXPECT_LT(took, 1500ms);

    // When the request's deadline comes before connect_timeout, it is a timeout.
    client_options patient;
    patient.connect_timeout = 10s;
    client c2(ioc.get_executor(), patient);
    const auto start2 = steady::now();
    const auto res2 = fetch(ioc, c2, get("http://127.0.0.1:" + std::to_string(port) + "/"), 300ms);
    const auto took2 = since(start2);
    ASSERT_FALSE(res2.has_value());
    EXPECT_EQ(res2.error(), client_errc::timeout);
    EXPECT_GE(took2, 290ms);
    EXPECT_LT(took2, 1500ms);
}

TEST(HttpClient, HostNamesResolve) {
    test_server server(echo);
    asio::io_context ioc;
    client c(ioc.get_executor());
    const auto res = fetch(ioc, c, get(server.url("/n", "localhost")));
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_EQ(res->body, "c1r1 GET /n");
    EXPECT_EQ(server.requests().at(0).headers[bhttp::field::host],
              "localhost:" + std::to_string(server.port()));
}

TEST(HttpClient, BodyOverTheLimitIsAnError) {
    test_server server([](const seen_request& req) {
        reply r = ok(std::string(req.target == "/big" ? 1001 : 1000, 'b'));
        r.chunked = req.target == "/chunked-big";
        if (r.chunked) r.body = std::string(1001, 'c');
        return r;
    });
    asio::io_context ioc;
    client_options opts;
    opts.max_response_body = 1000;
    client c(ioc.get_executor(), opts);

    const auto fits = fetch(ioc, c, get(server.url("/fits")));
    ASSERT_TRUE(fits.has_value());
    EXPECT_EQ(fits->body.size(), 1000u);

    const auto big = fetch(ioc, c, get(server.url("/big")));
    ASSERT_FALSE(big.has_value());
    EXPECT_EQ(big.error(), client_errc::body_too_large);

    const auto chunked = fetch(ioc, c, get(server.url("/chunked-big")));
    ASSERT_FALSE(chunked.has_value());
    EXPECT_EQ(chunked.error(), client_errc::body_too_large);
}

TEST(HttpClient, DefaultBodyLimitIs16MiB) {
    asio::io_context ioc;
    const client c(ioc.get_executor());
    EXPECT_EQ(c.options().max_response_body, 16u * 1024 * 1024);
}

/// Sends GET `paths` one after the other; counts the answers that echo their path.
asio::awaitable<void> fetch_in_order(client* c, std::vector<std::string> urls,
                                     std::vector<std::string> paths, std::atomic<int>* correct) {
    for (std::size_t i = 0; i < urls.size(); ++i) {
        auto res = co_await c->send(get(urls[i]), steady::now() + 5s);
        if (res && res->status == 200 && res->body == paths[i]) ++*correct;
    }
}

TEST(HttpClient, ConcurrentRequestsFromTwoThreads) {
    test_server server([](const seen_request& req) {
        reply r = ok(req.target);
        r.delay = 1ms;  // keeps requests in flight long enough to overlap
        return r;
    });
    asio::io_context ioc;
    client c(ioc.get_executor());
    constexpr int per_worker = 25;
    std::atomic<int> correct{0};
    for (int worker = 1; worker <= 2; ++worker) {
        std::vector<std::string> urls, paths;
        for (int i = 0; i < per_worker; ++i) {
            paths.push_back("/w" + std::to_string(worker) + "/" + std::to_string(i));
            urls.push_back(server.url(paths.back()));
        }
        asio::co_spawn(ioc, fetch_in_order(&c, std::move(urls), std::move(paths), &correct),
                       asio::detached);
    }
    // Two threads run the io_context, as the service's I/O threads do.
    std::thread other([&ioc] { ioc.run(); });
    ioc.run();
    other.join();

    EXPECT_EQ(correct.load(), 2 * per_worker);
    EXPECT_EQ(server.request_count(), 2u * per_worker);
    // Never more than two requests in flight, so never more than two connections.
    EXPECT_GE(server.accepted(), 1);
    EXPECT_LE(server.accepted(), 2);
    EXPECT_LE(c.idle_connections(), 2u);
    EXPECT_GE(c.idle_connections(), 1u);
}

TEST(HttpClient, BurstOfConcurrentRequestsKeepsAtMostMaxIdle) {
    test_server server([](const seen_request& req) {
        reply r = ok(req.target);
        r.delay = 50ms;
        return r;
    });
    asio::io_context ioc;
    client_options opts;
    opts.max_idle_per_origin = 3;
    client c(ioc.get_executor(), opts);
    constexpr int n = 12;
    std::atomic<int> correct{0};
    for (int i = 0; i < n; ++i) {
        const std::string path = "/b" + std::to_string(i);
        asio::co_spawn(ioc, fetch_in_order(&c, {server.url(path)}, {path}, &correct),
                       asio::detached);
    }
    std::thread other([&ioc] { ioc.run(); });
    ioc.run();
    other.join();
    EXPECT_EQ(correct.load(), n);
    EXPECT_EQ(server.accepted(), n);  // all were in flight together: one connection each
    EXPECT_EQ(c.idle_connections(), 3u);
}

// --- TLS -------------------------------------------------------------------------------------

/// A TLS test server with a certificate for localhost / 127.0.0.1 and the CA file to trust it.
struct tls_fixture {
    explicit tls_fixture(const std::string& cn = "localhost",
                         const char* alt_names = "DNS:localhost,IP:127.0.0.1")
        : cert(make_self_signed(cn, alt_names)),
          ca_file(cert.cert_pem),
          server_ctx(ssl::context::tls_server) {
        server_ctx.use_certificate(asio::buffer(cert.cert_pem), ssl::context::pem);
        server_ctx.use_private_key(asio::buffer(cert.key_pem), ssl::context::pem);
    }
    test_cert cert;
    temp_file ca_file;
    ssl::context server_ctx;
};

TEST(HttpClient, TlsWithoutVerification) {
    tls_fixture tls;
    test_server server(echo, &tls.server_ctx);
    asio::io_context ioc;
    client_options opts;
    opts.verify_tls = false;
    client c(ioc.get_executor(), opts);
    const auto res = fetch(ioc, c, get(server.url("/secure?x=1")));
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_EQ(res->status, 200u);
    EXPECT_EQ(res->body, "c1r1 GET /secure?x=1");
    EXPECT_EQ(server.requests().at(0).sni, "");  // no SNI for an address literal
}

TEST(HttpClient, TlsVerifiedWithTheCertificateAsCa) {
    tls_fixture tls;
    test_server server(echo, &tls.server_ctx);
    asio::io_context ioc;
    client_options opts;
    opts.ca_file = tls.ca_file.path();
    client c(ioc.get_executor(), opts);

    // By name: the DNS subjectAltName matches, and the name goes out as SNI.
    const auto by_name = fetch(ioc, c, get(server.url("/n", "localhost")));
    ASSERT_TRUE(by_name.has_value()) << by_name.error().message();
    EXPECT_EQ(by_name->body, "c1r1 GET /n");
    EXPECT_EQ(server.requests().at(0).sni, "localhost");

    // By address: the IP subjectAltName matches. Another origin, so another connection.
    const auto by_ip = fetch(ioc, c, get(server.url("/i")));
    ASSERT_TRUE(by_ip.has_value()) << by_ip.error().message();
    EXPECT_EQ(by_ip->body, "c2r1 GET /i");

    // Keep-alive over TLS.
    const auto again = fetch(ioc, c, get(server.url("/j")));
    ASSERT_TRUE(again.has_value()) << again.error().message();
    EXPECT_EQ(again->body, "c2r2 GET /j");
    EXPECT_EQ(server.accepted(), 2);
}

TEST(HttpClient, TlsRejectsAnUntrustedCertificate) {
    tls_fixture tls;
    test_server server(echo, &tls.server_ctx);
    asio::io_context ioc;
    client c(ioc.get_executor());  // verification on, system CAs only
    const auto res = fetch(ioc, c, get(server.url("/", "localhost")));
    ASSERT_FALSE(res.has_value());
    EXPECT_EQ(res.error(), client_errc::tls_failed);
    EXPECT_EQ(server.request_count(), 0u);
}

TEST(HttpClient, TlsRejectsAHostNameMismatch) {
    // Trusted, but issued for another name.
    tls_fixture tls("other.example", "DNS:other.example");
    test_server server(echo, &tls.server_ctx);
    asio::io_context ioc;
    client_options opts;
    opts.ca_file = tls.ca_file.path();
    client c(ioc.get_executor(), opts);
    for (const char* host : {"localhost", "127.0.0.1"}) {
        SCOPED_TRACE(host);
        const auto res = fetch(ioc, c, get(server.url("/", host)));
        ASSERT_FALSE(res.has_value());
        EXPECT_EQ(res.error(), client_errc::tls_failed);
    }
    EXPECT_EQ(server.request_count(), 0u);
}

TEST(HttpClient, TlsServerClosedIdleConnectionIsReplaced) {
    tls_fixture tls;
    test_server server(
        [](const seen_request& req) {
            reply r = echo(req);
            if (req.connection == 1) r.what = reply::action::respond_then_close;
            return r;
        },
        &tls.server_ctx);
    asio::io_context ioc;
    client_options opts;
    opts.ca_file = tls.ca_file.path();
    client c(ioc.get_executor(), opts);
    ASSERT_TRUE(fetch(ioc, c, get(server.url("/a"))).has_value());
    std::this_thread::sleep_for(100ms);
    const auto second = fetch(ioc, c, get(server.url("/b")));
    ASSERT_TRUE(second.has_value()) << second.error().message();
    EXPECT_EQ(second->body, "c2r1 GET /b");
}

TEST(HttpClient, UnreadableCaFileThrowsAtConstruction) {
    asio::io_context ioc;
    client_options opts;
    opts.ca_file = "/nonexistent/ca.pem";
    EXPECT_THROW({ client c(ioc.get_executor(), opts); }, boost::system::system_error);
}

TEST(HttpClient, ErrorCategoryNamesEachError) {
    const boost::system::error_code ec = client_errc::body_too_large;
    EXPECT_STREQ(ec.category().name(), "switchboard.http.client");
    EXPECT_EQ(ec.message(), "response body too large");
    EXPECT_EQ(boost::system::error_code(client_errc::timeout).message(), "deadline passed");
    EXPECT_NE(ec, boost::system::error_code(client_errc::timeout));
}

// --- send_with_retries against the server ----------------------------------------------------

/// Answers the statuses in order, then 200 for ever.
test_server::handler_fn statuses(std::vector<reply> replies) {
    auto shared = std::make_shared<std::vector<reply>>(std::move(replies));
    auto next = std::make_shared<std::size_t>(0);
    return [shared, next](const seen_request&) {
        if (*next < shared->size()) return (*shared)[(*next)++];
        return ok("finally");
    };
}

retry_policy fast_policy(std::chrono::milliseconds base) {
    retry_policy::options o;
    o.base_delay = base;
    return retry_policy(o, [] { return 0.5; });  // no jitter: exactly base·2^n
}

TEST(RetryPolicy, SendRetries503ThenSucceeds) {
    test_server server(statuses({with_status(503)}));
    asio::io_context ioc;
    client c(ioc.get_executor());
    const auto policy = fast_policy(50ms);
    const auto start = steady::now();
    const auto res =
        run(ioc, send_with_retries(c, get(server.url("/r")), steady::now() + 5s, policy));
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_EQ(res->status, 200u);
    EXPECT_EQ(res->body, "finally");
    EXPECT_EQ(server.request_count(), 2u);
    EXPECT_GE(since(start), 50ms);
}

TEST(RetryPolicy, SendHonoursRetryAfterSeconds) {
    test_server server(statuses({with_status(429, {{"Retry-After", "1"}})}));
    asio::io_context ioc;
    client c(ioc.get_executor());
    const retry_policy policy;
    const auto start = steady::now();
    const auto res =
        run(ioc, send_with_retries(c, get(server.url("/r")), steady::now() + 5s, policy));
    const auto took = since(start);
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_EQ(res->status, 200u);
    EXPECT_EQ(server.request_count(), 2u);
    EXPECT_GE(took, 1000ms);
    EXPECT_LT(took, 2500ms);
}

TEST(RetryPolicy, SendGivesUpAfterMaxRetriesWithTheLastResponse) {
    test_server server([](const seen_request&) { return with_status(502); });
    asio::io_context ioc;
    client c(ioc.get_executor());
    const auto policy = fast_policy(20ms);
    const auto start = steady::now();
    const auto res =
        run(ioc, send_with_retries(c, get(server.url("/r")), steady::now() + 5s, policy));
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->status, 502u);
    EXPECT_EQ(server.request_count(), 3u);  // the first attempt and 2 retries
    EXPECT_GE(since(start), 60ms);          // 20 ms, then 40 ms
}

TEST(RetryPolicy, SendWithZeroRetriesTriesOnce) {
    test_server server([](const seen_request&) { return with_status(500); });
    asio::io_context ioc;
    client c(ioc.get_executor());
    const auto policy = fast_policy(10ms);
    const auto res =
        run(ioc, send_with_retries(c, get(server.url("/r")), steady::now() + 5s, policy, 0));
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->status, 500u);
    EXPECT_EQ(server.request_count(), 1u);
}

TEST(RetryPolicy, SendDoesNotRetryClientErrors) {
    for (unsigned status : {400u, 404u}) {
        SCOPED_TRACE(status);
        test_server server([status](const seen_request&) { return with_status(status); });
        asio::io_context ioc;
        client c(ioc.get_executor());
        const auto policy = fast_policy(10ms);
        const auto res =
            run(ioc, send_with_retries(c, get(server.url("/r")), steady::now() + 5s, policy));
        ASSERT_TRUE(res.has_value());
        EXPECT_EQ(res->status, status);
        EXPECT_EQ(server.request_count(), 1u);
    }
}

TEST(RetryPolicy, SendGivesUpWhenTheWaitWouldPassTheDeadline) {
    test_server server([](const seen_request&) {
        return with_status(503, {{"Retry-After", "5"}});
    });
    asio::io_context ioc;
    client c(ioc.get_executor());
    const retry_policy policy;
    const auto start = steady::now();
    const auto res =
        run(ioc, send_with_retries(c, get(server.url("/r")), steady::now() + 1s, policy));
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->status, 503u);
    EXPECT_EQ(server.request_count(), 1u);
    EXPECT_LT(since(start), 500ms);  // returned at once instead of sleeping
}

TEST(RetryPolicy, SendReturnsTransportErrorsWithoutRetrying) {
    asio::io_context ioc;
    client c(ioc.get_executor());
    const auto policy = fast_policy(10ms);
    const auto res = run(
        ioc, send_with_retries(c, get("http://127.0.0.1:" + std::to_string(closed_port()) + "/"),
                               steady::now() + 5s, policy));
    ASSERT_FALSE(res.has_value());
    EXPECT_EQ(res.error(), client_errc::connect_failed);
}

}  // namespace
}  // namespace switchboard::http
