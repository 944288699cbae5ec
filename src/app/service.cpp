#include "switchboard/app/service.hpp"

#include "switchboard/base/clock.hpp"
#include "switchboard/base/log.hpp"
#include "switchboard/base/thread_name.hpp"
#include "switchboard/http/client.hpp"
#include "switchboard/http/padded_body.hpp"
#include "switchboard/http/response.hpp"
#include "switchboard/http/router.hpp"
#include "switchboard/http/server.hpp"
#include "switchboard/ingest/auth.hpp"
#include "switchboard/ingest/event_queue.hpp"
#include "switchboard/ingest/metrics.hpp"
#include "switchboard/ingest/parse.hpp"
#include "switchboard/ingest/replies.hpp"
#include "switchboard/ingest/routing.hpp"
#include "switchboard/ingest/webhook_handler.hpp"
#include "switchboard/manage/api.hpp"
#include "switchboard/metrics/registry.hpp"
#include "switchboard/store/export.hpp"
#include "switchboard/store/migrations.hpp"
#include "switchboard/store/routing_listener.hpp"
#include "switchboard/store/spool.hpp"
#include "switchboard/store/writer_pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace switchboard::app {
namespace asio = boost::asio;
namespace {

/// Connects for the migration, waiting up to `wait` for Postgres to come up (a replica may
/// start before its database).
store::pg_connection connect_for_migration(const config::store_config& cfg,
                                           std::chrono::seconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (int attempt = 1;; ++attempt) {
        std::string error;
        if (auto c = store::pg_connection::connect(cfg.database_url, cfg.connect_timeout, error)) {
            return std::move(*c);
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            throw std::runtime_error("cannot connect to Postgres: " + error);
        }
        if (attempt == 1) log::warn("msg=\"waiting for Postgres\" error=\"{}\"", error);
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
}

void apply_migrations(const config::service_config& cfg) {
    auto conn = connect_for_migration(cfg.store, cfg.store.startup_wait);
    // A migration that meets a long transaction on its table tries again for as long as
    // start-up waits for Postgres, without stalling the table's other users meanwhile.
    const auto applied = store::migrate(conn, store::embedded_migrations(),
                                        {.give_up_after = cfg.store.startup_wait});
    for (const auto& name : applied) log::info("msg=\"migration applied\" name={}", name);
    log::info("msg=\"schema up to date\" migrations={} applied_now={}",
              store::embedded_migrations().size(), applied.size());
}

asio::awaitable<http::response> healthz(http::request& req) {
    co_return http::json_response(http::status::ok, R"({"status":"ok"})", req.version());
}

/// POST /oauth/token. Routed as a prefix so that the listener applies its body limit (a larger
/// body gets 413, before it is read when its length is declared, and holds no body memory): what
/// is not exactly the path, or not a POST, is answered here as the router would.
asio::awaitable<http::response> token_endpoint(const ingest::oauth_tokens* oauth,
                                               http::request& req) {
    const std::string_view path = http::router::path_of(req.target());
    if (path != ingest::oauth_tokens::path) {
        co_return http::json_error(http::status::not_found, "no route for " + std::string(path),
                                   req.version());
    }
    if (req.method() != http::verb::post) {
        auto res = http::json_error(http::status::method_not_allowed,
                                    std::string(req.method_string()) + " is not allowed on " +
                                        std::string(path) + " (allowed: POST)",
                                    req.version());
        res.set(boost::beast::http::field::allow, "POST");
        co_return res;
    }
    co_return oauth->token_request(req, base::unix_micros() / 1'000'000);
}

struct readiness {
    const store::writer_pool* writers;
    const ingest::event_queue* queue;
    const std::atomic<bool>* stopping;
};

asio::awaitable<http::response> readyz(readiness r, http::request& req) {
    const unsigned connected = r.writers->connected();
    const bool saturated = r.queue->saturated();
    const bool stopping = r.stopping->load();
    boost::json::object body;
    body["status"] = connected > 0 && !saturated && !stopping ? "ready" : "not ready";
    body["postgres_writers_connected"] = connected;
    body["queue_depth"] = r.queue->depth();
    body["queue_saturated"] = saturated;
    body["commit_stalled_seconds"] = std::chrono::duration<double>(r.queue->stalled_for()).count();
    body["shutting_down"] = stopping;
    const auto code = connected > 0 && !saturated && !stopping ? http::status::ok
                                                               : http::status::service_unavailable;
    co_return http::json_response(code, boost::json::serialize(body), req.version());
}

asio::awaitable<http::response> metrics_page(metrics::registry* reg, http::request& req) {
    http::response res{http::status::ok, req.version()};
    res.set(boost::beast::http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = reg->serialize();
    co_return res;
}

/// Writes again what the last stop spooled (store/spool): each event as if just received, with
/// its original receive time; the spool's file goes once all are committed (a repeat of what is
/// stored already is too), rejected for good, or given up again (and so spooled again). A stop
/// ends the wait: what is still queued then is written or spooled by the writers' stop, and the
/// file stays, to be written again at the next start (as repeats, where it was stored).
asio::awaitable<void> replay_spool(store::spool& spool, std::vector<store::spool::record> records,
                                   ingest::event_queue& queue, const std::atomic<bool>& stopping) {
    const auto executor = co_await asio::this_coro::executor;
    std::vector<std::shared_ptr<ingest::ack_slot>> slots;
    std::size_t unreadable = 0;
    for (auto& r : records) {
        ingest::event ev;
        r.body.reserve(r.body.size() + http::body_padding);  // what the parse reads past the end
        if (auto parsed = ingest::parse_webhook(r.body, ev); !parsed) {
            ++unreadable;  // it was read once: a damaged file
            log::error("msg=\"spool: a record no longer parses\" error=\"{}\"",
                       parsed.error().detail);
            continue;
        }
        if (ev.body.empty()) ev.body = std::move(r.body);
        ev.received_us = r.received_us;
        auto slot = std::make_shared<ingest::ack_slot>(executor);
        slot->arm();
        ev.ack = slot;
        while (!queue.try_push(ev)) {
            asio::steady_timer pause(executor, std::chrono::milliseconds(20));
            co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        slots.push_back(std::move(slot));
    }
    log::info("msg=\"spool: writing what the last stop kept\" events={}", slots.size());
    std::size_t committed = 0, unsettled = 0;
    for (const auto& slot : slots) {
        auto status = ingest::ack_status::pending;
        while ((status = co_await slot->wait(std::chrono::milliseconds(200))) ==
                   ingest::ack_status::timed_out &&
               !stopping.load()) {
        }
        if (status == ingest::ack_status::committed) ++committed;
        if (status == ingest::ack_status::timed_out || status == ingest::ack_status::pending) {
            ++unsettled;
        }
    }
    log::info("msg=\"spool: replayed\" committed={} other={} unreadable={} kept={}", committed,
              slots.size() - committed, unreadable, unsettled);
    // A record that does not parse stays in the file, for whoever looks into it.
    if (unsettled == 0 && unreadable == 0) spool.replayed();
}

/// Calls `on_timeout` unless `disarm` is called within `timeout` of `arm`.
class watchdog {
  public:
    void arm(std::chrono::seconds timeout, std::function<void()> on_timeout) {
        thread_ = std::thread([this, timeout, f = std::move(on_timeout)] {
            std::unique_lock lock(mutex_);
            if (!cv_.wait_for(lock, timeout, [this] { return disarmed_; })) f();
        });
    }
    ~watchdog() {
        {
            std::lock_guard lock(mutex_);
            disarmed_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

  private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool disarmed_ = false;
    std::thread thread_;
};

}  // namespace

int run_migrate(const config::service_config& cfg) {
    apply_migrations(cfg);
    return 0;
}

int run_export_call(const config::service_config& cfg) {
    std::string error;
    auto conn =
        store::pg_connection::connect(cfg.store.database_url, cfg.store.connect_timeout, error);
    if (!conn) throw std::runtime_error("cannot connect to Postgres: " + error);
    std::vector<std::string> messages;
    if (auto e = store::export_call(*conn, cfg.call_id, messages)) {
        throw std::runtime_error("export failed: " + e->message);
    }
    if (messages.empty()) {
        log::error("msg=\"no stored messages for this call\" call={}", cfg.call_id);
        return 3;
    }
    for (const auto& m : messages) std::printf("%s\n", m.c_str());
    return 0;
}

int run_service(const config::service_config& cfg) {
    apply_migrations(cfg);

    metrics::registry registry;
    ingest::event_queue queue(cfg.queue, cfg.store.writers);
    store::spool given_up(cfg.store.spool_dir);
    std::vector<store::spool::record> spooled = given_up.take();
    store::writer_pool writers(cfg.store, queue, registry, &given_up);
    writers.start();

    const ingest::authenticator auth(cfg.auth, &registry);
    if (!auth.enabled()) {
        log::warn("msg=\"webhook authentication is disabled (SWITCHBOARD_ALLOW_UNAUTHENTICATED)\"");
    }
    ingest::ingest_metrics ingest_metrics(registry, queue);

    // Replies: the routing table is loaded before the listener opens, the relay client runs on
    // the I/O threads' io_context.
    asio::io_context ioc(static_cast<int>(cfg.http.io_threads));
    ingest::routing_table routing;
    store::routing_listener routing_sync(cfg.store, routing, registry);
    if (!routing_sync.start()) {
        log::warn("msg=\"routing table not loaded yet: assistant-request gets the default\"");
    }
    http::client relay_client(ioc.get_executor());
    ingest::replier replies(cfg.replies, routing, &relay_client, registry);
    ingest::webhook_handler webhooks(auth, queue, ingest_metrics, &replies);
    std::atomic<bool> stopping{false};

    http::router routes;
    auto receive = [&webhooks](http::request& req) { return webhooks.handle(req); };
    auto authenticated = [&webhooks](const http::request::header_type& header) {
        return webhooks.check_header(header);
    };
    routes.add(http::verb::post, "/receive", receive, authenticated);
    routes.add(http::verb::post, "/webhooks/vapi", receive, authenticated);
    if (const ingest::oauth_tokens* oauth = auth.oauth()) {
        // The OAuth2 plan's token endpoint: Vapi's requests for the tokens it then presents.
        routes.add_prefix(std::string(ingest::oauth_tokens::path),
                          [oauth](http::request& req) { return token_endpoint(oauth, req); },
                          {.body_limit = ingest::oauth_tokens::max_request_bytes});
    }
    routes.add(http::verb::get, "/healthz", healthz);
    routes.add(http::verb::get, "/readyz",
               [r = readiness{&writers, &queue, &stopping}](http::request& req) {
                   return readyz(r, req);
               });
    routes.add(http::verb::get, "/metrics",
               [reg = &registry](http::request& req) { return metrics_page(reg, req); });

    // The management API: its own threads, Postgres connections and Vapi client.
    manage::api management(cfg, registry);
    management.register_routes(routes);

    http::server server(ioc, cfg.http, routes, registry);
    const auto endpoint = server.start();
    log::info(
        "msg=\"listening\" addr={}:{} io_threads={} writers={} batch_max_rows={} "
        "batch_max_delay_us={} queue_capacity={} spool=\"{}\"",
        endpoint.address().to_string(), endpoint.port(), cfg.http.io_threads, cfg.store.writers,
        cfg.store.batch_max_rows, cfg.store.batch_max_delay.count(), cfg.queue.capacity,
        cfg.store.spool_dir.empty() ? "off (a stop that cannot write loses its queue)"
                                    : cfg.store.spool_dir);

    if (!spooled.empty()) {
        asio::co_spawn(ioc, replay_spool(given_up, std::move(spooled), queue, stopping),
                       asio::detached);
    }

    // After the signal (SIGHUP too: a terminal that closes must not lose the queue), unready for
    // --shutdown-delay-ms while still serving; then one deadline from the listener's close for
    // the connections' drain and the writers' (what they cannot write by then is spooled).
    watchdog dog;
    std::chrono::steady_clock::time_point stop_deadline{};
    asio::signal_set signals(ioc, SIGINT, SIGTERM, SIGHUP);
    asio::steady_timer unready_for(ioc);
    const auto close_and_drain = [&] {
        log::info("msg=\"closing the listener\" open_connections={} queue_depth={}",
                  server.connection_count(), queue.depth());
        stop_deadline = std::chrono::steady_clock::now() + cfg.shutdown_timeout;
        server.stop();
        // In-flight requests end within the ack/read/write timeouts; this is the backstop.
        dog.arm(cfg.shutdown_timeout, [&ioc, &server] {
            log::warn("msg=\"shutdown timeout: abandoning open connections\" open_connections={}",
                      server.connection_count());
            ioc.stop();
        });
    };
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
        if (ec) return;
        log::info(
            "msg=\"shutting down\" signal={} open_connections={} queue_depth={} "
            "unready_ms={}",
            signo, server.connection_count(), queue.depth(), cfg.shutdown_delay.count());
        stopping = true;  // /readyz: 503 from now on
        if (cfg.shutdown_delay.count() == 0) {
            close_and_drain();
            return;
        }
        // Still serving, unready: a second signal cuts the wait short.
        unready_for.expires_after(cfg.shutdown_delay);
        unready_for.async_wait([&](const boost::system::error_code&) { close_and_drain(); });
        signals.async_wait([&](const boost::system::error_code& again, int) {
            if (!again) unready_for.cancel();
        });
    });

    std::vector<std::thread> io_threads;
    for (unsigned i = 1; i < cfg.http.io_threads; ++i)
        io_threads.emplace_back([&ioc, i] {
            base::name_this_thread("sb-io-" + std::to_string(i));
            ioc.run();
        });
    ioc.run();  // the main thread is the first I/O thread; it keeps the process' name
    for (auto& t : io_threads) t.join();
    relay_client.close_idle();
    management.stop();
    routing_sync.stop();

    // The writers get what is left of the stop's deadline, and at least a second to hand
    // what they hold to the spool.
    const auto left = stop_deadline == std::chrono::steady_clock::time_point{}
                          ? std::chrono::steady_clock::duration(cfg.shutdown_timeout)
                          : stop_deadline - std::chrono::steady_clock::now();
    const std::size_t lost =
        writers.stop(std::max<std::chrono::steady_clock::duration>(left, std::chrono::seconds(1)));
    if (lost != 0) {
        // Answered 503, or not at all, except messages that expect a reply: those got it after
        // --reply-commit-wait-ms (outcome="replied_uncommitted").
        log::error("msg=\"stopped with unwritten events, lost ({})\" events={}",
                   given_up.enabled() ? "the spool could not take them" : "no --spool-dir", lost);
        return 1;
    }
    log::info("msg=\"stopped cleanly\" queue_depth={}", queue.depth());
    return 0;
}

}  // namespace switchboard::app
