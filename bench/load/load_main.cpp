// switchboard-load: plays Vapi against a webhook receiver and keeps a ledger.
//
//   switchboard-load --url http://127.0.0.1:8080/receive --secret S --mode open --rate 10000
//                    --duration 60 --database-url postgresql://… --report out.json
//
// Modes: `open` sends at a fixed rate and measures latency from each request's *scheduled* send
// time (a slow server cannot hide behind the client, no coordinated omission); `max` keeps every
// connection busy and measures from the actual send. Every acknowledged (2xx) request is looked
// up in Postgres afterwards (call_events by call id and Vapi timestamp): a run whose ledger does
// not balance is reported as void and exits 3.
#include "call_script.hpp"

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/program_options.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <unordered_map>
#include <unordered_set>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace po = boost::program_options;
using clock_type = std::chrono::steady_clock;
using namespace switchboard::load;

namespace {

struct options {
    std::string url = "http://127.0.0.1:8080/receive";
    std::string mode = "max";
    double rate = 1000;
    double duration_s = 10;
    double warmup_s = 0;  // sent like the rest, latencies reported apart
    unsigned connections = 64;
    unsigned concurrent_calls = 200;
    int turns = 10;
    std::string secret, secret_header = "X-Vapi-Secret", bearer, hmac_secret;
    std::string database_url;
    std::string examples = "../shared/vapi/examples";
    std::string report;
    double progress_s = 5;
    double drain_timeout_s = 30;
    std::uint64_t max_requests = 0;  // 0: no limit
    double repeat = 0;               // fraction of requests that resend an acknowledged one
};

struct job {
    std::uint32_t call;  // index into the ledger's call ids
    std::int64_t vapi_ts;
    clock_type::time_point scheduled;
    std::string body;
    bool repeat = false;   // sent before and acknowledged (--repeat)
    bool retried = false;  // sent again after its connection was closed while idle
};

/// Everything measured; single-threaded (one io_context thread), so no locking.
struct stats {
    std::uint64_t sent = 0, acked = 0, bytes = 0, in_flight = 0;
    std::uint64_t repeats = 0;   // of `sent`: a webhook sent again after its acknowledgement
    std::uint64_t not_sent = 0;  // open loop: scheduled in the window but no connection was free
    clock_type::time_point last_answer{};
    std::map<unsigned, std::uint64_t> refused;      // by status (0: no response)
    std::vector<std::uint32_t> ack_latency_us;      // open loop: from the scheduled time
    std::vector<std::uint32_t> ack_service_us;      // from the actual send
    std::vector<std::uint32_t> refusal_service_us;  // non-2xx answers, from the actual send
    // Acknowledgements of webhooks scheduled (open) or sent (max) in the warm-up (--warmup): in
    // the ledger like the rest, their latencies apart from the measured window's.
    std::vector<std::uint32_t> warmup_latency_us, warmup_service_us;
    std::vector<std::string> call_ids;
    std::vector<std::pair<std::uint32_t, std::int64_t>> acked_keys;  // (call, vapi timestamp)
    std::uint64_t calls_completed = 0;
    // progress window
    std::uint64_t window_acked = 0;
    std::vector<std::uint32_t> window_latency;
};

std::string hmac_hex(const std::string& key, const std::string& payload) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), out, &len);
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string s;
    for (unsigned i = 0; i < len; ++i) s += k_hex[out[i] >> 4], s += k_hex[out[i] & 15];
    return s;
}

double percentile(std::vector<std::uint32_t>& v, double p) {
    if (v.empty()) return 0;
    const auto k =
        static_cast<std::size_t>(std::min<double>(v.size() - 1, std::floor(p * v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}

/// Produces the next message of the run: round-robin over `concurrent` live calls.
class call_pool {
  public:
    call_pool(const call_templates& t, const options& o, stats& s) : t_(t), o_(o), s_(s) {
        std::random_device rd;
        run_id_ = static_cast<std::uint32_t>(rd());
        char buf[16];
        std::snprintf(buf, sizeof buf, "%08x", run_id_);
        prefix_ = buf;
    }

    const std::string& prefix() const { return prefix_; }

    job next(clock_type::time_point scheduled) {
        if (live_.size() < o_.concurrent_calls) start_call();
        const std::size_t i = cursor_++ % live_.size();
        auto& [index, script] = live_[i];
        job j{index, 0, scheduled, {}};
        j.vapi_ts = script->next(j.body);
        if (script->done()) {
            live_.erase(live_.begin() + static_cast<std::ptrdiff_t>(i));
            ++s_.calls_completed;
        }
        return j;
    }

  private:
    void start_call() {
        char id[40];
        const auto n = static_cast<unsigned long long>(s_.call_ids.size());
        std::snprintf(id, sizeof id, "%s-%04llx-4000-8000-%012llx", prefix_.c_str(),
                      (n >> 48) & 0xffff, n & 0xffffffffffffULL);
        s_.call_ids.emplace_back(id);
        const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
        live_.emplace_back(static_cast<std::uint32_t>(s_.call_ids.size() - 1),
                           std::make_unique<call_script>(t_, id, o_.turns, now_ms));
    }

    const call_templates& t_;
    const options& o_;
    stats& s_;
    std::uint32_t run_id_;
    std::string prefix_;
    std::vector<std::pair<std::uint32_t, std::unique_ptr<call_script>>> live_;
    std::size_t cursor_ = 0;
};

class driver {
  public:
    driver(asio::io_context& ioc, const options& o, call_pool& pool, stats& s)
        : ioc_(ioc), o_(o), pool_(pool), s_(s) {
        auto u = boost::urls::parse_uri(o.url);
        if (!u || u->scheme() != "http")
            throw std::runtime_error("--url must be http://host:port/path");
        host_ = std::string(u->host());
        port_ = u->has_port() ? std::string(u->port()) : "80";
        target_ = std::string(u->encoded_path());
        if (target_.empty()) target_ = "/";
    }

    void start() {
        start_ = clock_type::now();
        measured_from_ = start_ + std::chrono::duration_cast<clock_type::duration>(
                                      std::chrono::duration<double>(o_.warmup_s));
        end_ = measured_from_ + std::chrono::duration_cast<clock_type::duration>(
                                    std::chrono::duration<double>(o_.duration_s));
        for (unsigned i = 0; i < o_.connections; ++i) {
            conns_.push_back(std::make_unique<connection>(ioc_));
            asio::co_spawn(ioc_, run(*conns_.back()), asio::detached);
        }
        if (o_.mode == "open") asio::co_spawn(ioc_, produce(), asio::detached);
        if (o_.progress_s > 0) asio::co_spawn(ioc_, progress(), asio::detached);
    }

    /// From the first send to the last answer (to the window's end at least, unless
    /// --max-requests ended the sending before it).
    double elapsed_s() const {
        const auto last = limit_reached() ? s_.last_answer : std::max(s_.last_answer, end_);
        return std::chrono::duration<double>(last - start_).count();
    }

  private:
    struct connection {
        explicit connection(asio::io_context& ioc) : stream(ioc), wake(ioc) {}
        // A plain socket: no per-operation timers (the whole run is bounded by run_for in
        // main), so the generator spends its CPU on requests, not on timer bookkeeping.
        asio::ip::tcp::socket stream;
        asio::steady_timer wake;
        std::optional<clock_type::time_point> next;
        bool connected = false;
    };

    bool producing() const { return clock_type::now() < end_ && !limit_reached(); }
    /// --max-requests: that many jobs made (scheduled in open mode, taken in max mode).
    bool limit_reached() const { return o_.max_requests != 0 && made_ >= o_.max_requests; }

    // Open loop: schedule `rate` jobs per second; hand each to an idle connection or the backlog.
    // Every job due before the window's end is scheduled, also when the last tick wakes after it.
    asio::awaitable<void> produce() {
        asio::steady_timer tick(ioc_);
        for (;;) {
            const auto now = clock_type::now();
            const double due =
                std::chrono::duration<double>(std::min(now, end_) - start_).count() * o_.rate;
            while (static_cast<double>(made_) < due && !limit_reached()) {
                const auto at = start_ + std::chrono::duration_cast<clock_type::duration>(
                                             std::chrono::duration<double>(made_ / o_.rate));
                dispatch(at);
                ++made_;
            }
            if (now >= end_ || limit_reached()) break;
            tick.expires_after(std::chrono::microseconds(200));
            co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        done_producing_ = true;
        // Sending stops with the window: what is still scheduled was never sent (not_sent).
        s_.not_sent += backlog_.size();
        backlog_.clear();
        for (auto* c : idle_) c->wake.cancel();
    }

    // The body is rendered only when a connection is free to send it: under overload the
    // backlog holds send times, not megabytes of bodies.
    void dispatch(clock_type::time_point at) {
        if (!idle_.empty()) {
            connection* c = idle_.back();
            idle_.pop_back();
            c->next = at;
            c->wake.cancel();
        } else {
            backlog_.push_back(at);
        }
    }

    std::optional<job> take(connection& c) {
        if (o_.mode == "max") {
            if (!producing()) return std::nullopt;
            ++made_;
            return next_job(clock_type::now());
        }
        // A job handed to this connection is sent even when the window closed meanwhile.
        if (c.next) {
            const auto at = *c.next;
            c.next.reset();
            return next_job(at);
        }
        if (done_producing_) return std::nullopt;
        if (!backlog_.empty()) {
            const auto at = backlog_.front();
            backlog_.pop_front();
            return next_job(at);
        }
        return std::nullopt;
    }

    /// The next message, or (--repeat) one already acknowledged, sent again as a sender that
    /// retries would: the same body, byte for byte.
    job next_job(clock_type::time_point at) {
        if (!resend_.empty() && repeat_draw_(rng_) < o_.repeat) {
            job j = std::move(resend_.front());
            resend_.pop_front();
            j.scheduled = at;
            j.repeat = true;
            return j;
        }
        return pool_.next(at);
    }

    static void disconnect(connection& c) {
        beast::error_code ignored;
        c.stream.close(ignored);
        c.connected = false;
    }

    asio::awaitable<void> run(connection& c) {
        // The request head up to the Content-Length value, formatted once; each request is that,
        // its length, the HMAC headers if any, and the body, sent in one gather write.
        std::string head_prefix = "POST " + target_ + " HTTP/1.1\r\nHost: " + host_ + ":" + port_ +
                                  "\r\nContent-Type: application/json\r\n";
        if (!o_.secret.empty()) head_prefix += o_.secret_header + ": " + o_.secret + "\r\n";
        if (!o_.bearer.empty()) head_prefix += "Authorization: Bearer " + o_.bearer + "\r\n";
        head_prefix += "Content-Length: ";
        std::string head;
        std::string body;
        beast::flat_buffer buffer;
        std::uint64_t answered = 0;  // on the current connection
        // A request that met the server's close of an idle keep-alive connection (its idle
        // timeout) before any answer: sent once more on a new connection, as an HTTP client does.
        std::optional<job> again;
        for (;;) {
            std::optional<job> j = again ? std::exchange(again, std::nullopt) : take(c);
            if (!j) {
                if (o_.mode == "max" || done_producing_) break;
                idle_.push_back(&c);
                c.wake.expires_at(clock_type::time_point::max());
                co_await c.wake.async_wait(asio::as_tuple(asio::use_awaitable));
                continue;
            }
            if (!c.connected) {
                asio::ip::tcp::resolver resolver(ioc_);
                auto [rec, eps] = co_await resolver.async_resolve(
                    host_, port_, asio::as_tuple(asio::use_awaitable));
                beast::error_code cec = rec;
                if (!rec) {
                    auto [e, ep] = co_await asio::async_connect(
                        c.stream, eps, asio::as_tuple(asio::use_awaitable));
                    cec = e;
                }
                if (cec) {
                    ++s_.sent;  // attempted: for the sender a refusal without an answer
                    record_failure(0);
                    disconnect(c);
                    asio::steady_timer pause(ioc_, std::chrono::milliseconds(100));
                    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
                    continue;
                }
                c.stream.set_option(asio::ip::tcp::no_delay(true));
                c.connected = true;
                answered = 0;
                buffer.clear();
            }
            head = head_prefix;
            head += std::to_string(j->body.size());
            head += "\r\n";
            if (!o_.hmac_secret.empty()) {
                const std::string ts =
                    std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
                head += "x-timestamp: " + ts +
                        "\r\nx-signature: " + hmac_hex(o_.hmac_secret, ts + "." + j->body) + "\r\n";
            }
            head += "\r\n";
            s_.bytes += j->body.size();
            if (j->repeat) ++s_.repeats;
            body = std::move(j->body);
            const auto sent_at = clock_type::now();
            ++s_.sent;
            ++s_.in_flight;
            const std::array<asio::const_buffer, 2> request{asio::buffer(head), asio::buffer(body)};
            auto [wec, wn] =
                co_await asio::async_write(c.stream, request, asio::as_tuple(asio::use_awaitable));
            bhttp::response<bhttp::string_body> res;
            beast::error_code rec2 = wec;
            if (!wec) {
                auto [rec, rn] = co_await bhttp::async_read(c.stream, buffer, res,
                                                            asio::as_tuple(asio::use_awaitable));
                rec2 = rec;
            }
            --s_.in_flight;
            s_.last_answer = clock_type::now();
            if (rec2) {
                const bool closed_while_idle =
                    answered != 0 && !j->retried && buffer.size() == 0 &&
                    (rec2 == asio::error::eof || rec2 == asio::error::connection_reset ||
                     rec2 == asio::error::broken_pipe || rec2 == bhttp::error::end_of_stream);
                disconnect(c);
                if (closed_while_idle) {
                    --s_.sent;  // counted once, when sent again
                    s_.bytes -= body.size();
                    if (j->repeat) --s_.repeats;
                    j->body = std::move(body);
                    j->retried = true;
                    again = std::move(j);
                    continue;
                }
                record_failure(0);
                continue;
            }
            ++answered;
            const auto now = clock_type::now();
            const auto origin = o_.mode == "open" ? j->scheduled : sent_at;
            const auto us =
                std::chrono::duration_cast<std::chrono::microseconds>(now - origin).count();
            const auto service_us = static_cast<std::uint32_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(now - sent_at).count());
            const unsigned code = res.result_int();
            if (code >= 200 && code < 300) {
                const auto latency_us =
                    static_cast<std::uint32_t>(std::min<long long>(us, UINT32_MAX));
                ++s_.acked;
                ++s_.window_acked;
                if (origin < measured_from_) {
                    s_.warmup_latency_us.push_back(latency_us);
                    s_.warmup_service_us.push_back(service_us);
                } else {
                    s_.ack_latency_us.push_back(latency_us);
                    s_.ack_service_us.push_back(service_us);
                }
                s_.window_latency.push_back(latency_us);
                s_.acked_keys.emplace_back(j->call, j->vapi_ts);
                if (o_.repeat > 0 && !j->repeat && resend_.size() < k_resend_limit)
                    resend_.push_back(job{j->call, j->vapi_ts, {}, body});
            } else {
                record_failure(code);
                s_.refusal_service_us.push_back(service_us);
            }
            if (!res.keep_alive()) {
                disconnect(c);
            }
        }
        beast::error_code ignored;
        c.stream.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        c.stream.close(ignored);
        ++closed_;
    }

    void record_failure(unsigned code) { ++s_.refused[code]; }

    asio::awaitable<void> progress() {
        asio::steady_timer t(ioc_);
        auto last = clock_type::now();
        while (closed_ < conns_.size()) {
            t.expires_after(std::chrono::duration_cast<clock_type::duration>(
                std::chrono::duration<double>(o_.progress_s)));
            co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
            const auto now = clock_type::now();
            const double dt = std::chrono::duration<double>(now - last).count();
            last = now;
            std::uint64_t refused = 0;
            for (auto& [k, v] : s_.refused) refused += v;
            std::fprintf(
                stderr,
                "[%6.1fs] acked %8.0f/s  p99 %8.2f ms  sent %llu  refused %llu  backlog %zu\n",
                std::chrono::duration<double>(now - start_).count(), s_.window_acked / dt,
                percentile(s_.window_latency, 0.99) / 1000.0,
                static_cast<unsigned long long>(s_.sent), static_cast<unsigned long long>(refused),
                backlog_.size());
            s_.window_acked = 0;
            s_.window_latency.clear();
        }
    }

    asio::io_context& ioc_;
    const options& o_;
    call_pool& pool_;
    stats& s_;
    std::string host_, port_, target_;
    clock_type::time_point start_, measured_from_, end_;  ///< warm-up from start_
    std::vector<std::unique_ptr<connection>> conns_;
    std::vector<connection*> idle_;
    std::deque<clock_type::time_point> backlog_;
    bool done_producing_ = false;
    static constexpr std::size_t k_resend_limit = 4096;  ///< acknowledged bodies kept to resend
    std::deque<job> resend_;
    std::mt19937_64 rng_{12345};
    std::uniform_real_distribution<double> repeat_draw_{0.0, 1.0};
    std::uint64_t made_ = 0;  ///< jobs scheduled (open) or taken (max)
    std::size_t closed_ = 0;
};

struct ledger_result {
    bool checked = false;
    std::uint64_t found = 0, missing = 0;
    std::string error;
};

/// Looks every acknowledged (call id, Vapi timestamp) up in call_events.
ledger_result verify(const options& o, const stats& s, const std::string& prefix) {
    ledger_result r;
    if (o.database_url.empty()) return r;
    PGconn* conn = PQconnectdb(o.database_url.c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
        r.error = PQerrorMessage(conn);
        PQfinish(conn);
        return r;
    }
    const std::string sql =
        "SELECT call_id, vapi_timestamp FROM call_events WHERE call_id LIKE '" + prefix + "-%'";
    PGresult* res = PQexec(conn, sql.c_str());
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        r.error = PQresultErrorMessage(res);
    } else {
        std::unordered_map<std::string, std::uint32_t> index;
        for (std::uint32_t i = 0; i < s.call_ids.size(); ++i) index.emplace(s.call_ids[i], i);
        std::unordered_set<std::uint64_t> stored;
        auto key = [](std::uint32_t call, std::int64_t ts) {
            return (static_cast<std::uint64_t>(call) << 40) ^ static_cast<std::uint64_t>(ts);
        };
        for (int i = 0; i < PQntuples(res); ++i) {
            auto it = index.find(PQgetvalue(res, i, 0));
            if (it == index.end() || PQgetisnull(res, i, 1)) continue;
            stored.insert(key(it->second, std::strtoll(PQgetvalue(res, i, 1), nullptr, 10)));
        }
        for (const auto& [call, ts] : s.acked_keys) {
            if (stored.count(key(call, ts)) != 0u) {
                ++r.found;
            } else {
                ++r.missing;
            }
        }
        r.checked = true;
    }
    PQclear(res);
    PQfinish(conn);
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    po::options_description desc("switchboard-load options", 120, 60);
    desc.add_options()("help,h", "Print this help.")("url", po::value(&o.url)->default_value(o.url),
                                                     "Webhook URL (http only).")(
        "mode", po::value(&o.mode)->default_value(o.mode),
        "open (fixed rate) or max (closed loop).")(
        "rate", po::value(&o.rate)->default_value(o.rate), "open mode: webhooks per second.")(
        "duration", po::value(&o.duration_s)->default_value(o.duration_s),
        "Seconds of sending, measured (after the warm-up).")(
        "warmup", po::value(&o.warmup_s)->default_value(o.warmup_s),
        "Seconds of sending before the measured window, at the same rate: in the ledger and the "
        "counts like the rest, their latencies reported apart (warmup_latency_ms).")(
        "connections", po::value(&o.connections)->default_value(o.connections),
        "Keep-alive connections.")(
        "calls", po::value(&o.concurrent_calls)->default_value(o.concurrent_calls),
        "Calls in progress at once.")("turns", po::value(&o.turns)->default_value(o.turns),
                                      "Conversation turns per call.")(
        "secret", po::value(&o.secret), "Shared secret header value.")(
        "secret-header", po::value(&o.secret_header)->default_value(o.secret_header),
        "Shared secret header name.")("bearer", po::value(&o.bearer), "Bearer token.")(
        "hmac-secret", po::value(&o.hmac_secret),
        "Sign with Vapi's HMAC plan (sha256, hex, {timestamp}.{body}).")(
        "database-url", po::value(&o.database_url),
        "Postgres to verify the ledger against (required for a valid run).")(
        "examples", po::value(&o.examples)->default_value(o.examples),
        "Folder of the Vapi example bodies.")("report", po::value(&o.report),
                                              "Write the JSON report here.")(
        "progress", po::value(&o.progress_s)->default_value(o.progress_s),
        "Seconds between progress lines; 0 prints none.")(
        "drain-timeout", po::value(&o.drain_timeout_s)->default_value(o.drain_timeout_s),
        "Seconds to wait for answers after sending stops.")(
        "max-requests", po::value(&o.max_requests)->default_value(0),
        "Stop after this many requests (0: no limit).")(
        "repeat", po::value(&o.repeat)->default_value(0),
        "Fraction of requests (0-1) that send an acknowledged webhook again, byte for byte, as a "
        "sender that retries would.");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        po::notify(vm);
    } catch (const std::exception& e) {
        std::cerr << "switchboard-load: " << e.what() << "\n";
        return 2;
    }
    if (vm.count("help") != 0u) {
        std::cout << desc;
        return 0;
    }
    if (o.mode != "open" && o.mode != "max") {
        std::cerr << "switchboard-load: --mode must be open or max\n";
        return 2;
    }
    const auto invalid = [](const char* what) {
        std::cerr << "switchboard-load: " << what << "\n";
        return 2;
    };
    if (o.progress_s < 0) return invalid("--progress must be 0 (none) or a number of seconds");
    if (o.mode == "open" && !(o.rate > 0)) return invalid("--rate must be above 0");
    if (!(o.duration_s > 0)) return invalid("--duration must be above 0");
    if (!(o.warmup_s >= 0)) return invalid("--warmup must be 0 or more");
    if (!(o.drain_timeout_s >= 0)) return invalid("--drain-timeout must be 0 or more");
    if (o.connections == 0) return invalid("--connections must be at least 1");
    if (o.concurrent_calls == 0) return invalid("--calls must be at least 1");
    if (o.turns < 1) return invalid("--turns must be at least 1");
    if (!(o.repeat >= 0 && o.repeat <= 1)) return invalid("--repeat must be between 0 and 1");

    const call_templates templates(o.examples);
    stats s;
    call_pool pool(templates, o, s);
    asio::io_context ioc(1);
    driver d(ioc, o, pool, s);
    d.start();
    // Bounded: sending time plus the drain timeout, whatever the server does.
    ioc.run_for(std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(o.warmup_s + o.duration_s + o.drain_timeout_s + 1)));
    const std::uint64_t unanswered = s.in_flight;

    const ledger_result ledger = verify(o, s, pool.prefix());
    std::uint64_t refused = 0;
    for (auto& [k, v] : s.refused) refused += v;
    // Requests still in flight at the deadline were never acknowledged: they count like refusals
    // for the sender. The run is void only if the counts disagree or an ack is missing.
    const bool balanced = s.sent == s.acked + refused + unanswered;
    // A run that sent nothing proves nothing.
    const bool valid = balanced && ledger.checked && ledger.missing == 0 && s.sent != 0;
    const double secs = d.elapsed_s() > 0 ? d.elapsed_s() : o.warmup_s + o.duration_s;

    auto lat = s.ack_latency_us;
    double mean = 0;
    for (auto v : lat) mean += v;
    mean = lat.empty() ? 0 : mean / static_cast<double>(lat.size());
    auto warm = s.warmup_latency_us;
    boost::json::object report{
        {"mode", o.mode},
        {"target_rate",
         o.mode == "open" ? boost::json::value(o.rate) : boost::json::value(nullptr)},
        {"duration_s", secs},
        {"warmup_s", o.warmup_s},
        {"connections", o.connections},
        {"calls_started", s.call_ids.size()},
        {"calls_completed", s.calls_completed},
        {"sent", s.sent},
        {"repeats_sent", s.repeats},
        {"acked", s.acked},
        {"refused", refused},
        {"unanswered", unanswered},
        {"not_sent", s.not_sent},
        {"bytes_sent", s.bytes},
        {"acked_per_s", static_cast<double>(s.acked) / secs},
        {"latency_ms",
         {{"p50", percentile(lat, 0.50) / 1000.0},
          {"p90", percentile(lat, 0.90) / 1000.0},
          {"p99", percentile(lat, 0.99) / 1000.0},
          {"p999", percentile(lat, 0.999) / 1000.0},
          {"max", lat.empty() ? 0.0 : *std::max_element(lat.begin(), lat.end()) / 1000.0},
          {"mean", mean / 1000.0}}},
        {"ack_service_ms",
         {{"p50", percentile(s.ack_service_us, 0.50) / 1000.0},
          {"p99", percentile(s.ack_service_us, 0.99) / 1000.0}}},
        {"warmup_acked", s.warmup_latency_us.size()},
        {"warmup_latency_ms",
         {{"p50", percentile(warm, 0.50) / 1000.0},
          {"p99", percentile(warm, 0.99) / 1000.0},
          {"p999", percentile(warm, 0.999) / 1000.0},
          {"max", warm.empty() ? 0.0 : *std::max_element(warm.begin(), warm.end()) / 1000.0},
          {"service_p99", percentile(s.warmup_service_us, 0.99) / 1000.0}}},
        {"refusal_service_ms",
         {{"p50", percentile(s.refusal_service_us, 0.50) / 1000.0},
          {"p99", percentile(s.refusal_service_us, 0.99) / 1000.0}}},
        {"ledger",
         {{"balanced", balanced},
          {"checked_in_postgres", ledger.checked},
          {"acked_found", ledger.found},
          {"acked_missing", ledger.missing},
          {"error", ledger.error},
          {"valid", valid}}}};
    boost::json::object by_status;
    for (auto& [k, v] : s.refused) by_status[k == 0 ? "no_response" : std::to_string(k)] = v;
    report["refused_by_status"] = by_status;
    const std::string text = boost::json::serialize(report);
    if (!o.report.empty()) std::ofstream(o.report) << text << "\n";

    std::printf(
        "\n%s %s: %llu sent, %llu acked (%.0f/s), %llu refused, %llu unanswered in %.1f s\n",
        o.mode.c_str(),
        o.mode == "open" ? (std::to_string(static_cast<long>(o.rate)) + "/s").c_str() : "",
        static_cast<unsigned long long>(s.sent), static_cast<unsigned long long>(s.acked),
        static_cast<double>(s.acked) / secs, static_cast<unsigned long long>(refused),
        static_cast<unsigned long long>(unanswered), secs);
    if (s.not_sent != 0)
        std::printf(
            "not sent: %llu scheduled webhooks found no free connection before the window "
            "closed; their latency is in no percentile\n",
            static_cast<unsigned long long>(s.not_sent));
    if (s.repeats != 0)
        std::printf("of those sent, %llu were repeats of acknowledged webhooks\n",
                    static_cast<unsigned long long>(s.repeats));
    std::printf(
        "ack latency ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
        report["latency_ms"].at("p50").as_double(), report["latency_ms"].at("p90").as_double(),
        report["latency_ms"].at("p99").as_double(), report["latency_ms"].at("p999").as_double(),
        report["latency_ms"].at("max").as_double());
    if (o.warmup_s > 0) {
        std::printf(
            "  (not in the above, the %.0f s warm-up before it: %llu acked, p50 %.2f  p99 %.2f  "
            "p99.9 %.2f  max %.2f)\n",
            o.warmup_s, static_cast<unsigned long long>(s.warmup_latency_us.size()),
            report["warmup_latency_ms"].at("p50").as_double(),
            report["warmup_latency_ms"].at("p99").as_double(),
            report["warmup_latency_ms"].at("p999").as_double(),
            report["warmup_latency_ms"].at("max").as_double());
    }
    if (!s.refusal_service_us.empty()) {
        std::printf("refusals answered in ms (from send): p50 %.2f  p99 %.2f\n",
                    report["refusal_service_ms"].at("p50").as_double(),
                    report["refusal_service_ms"].at("p99").as_double());
    }
    for (auto& [k, v] : s.refused)
        std::printf("refused %s: %llu\n", k == 0 ? "no response" : std::to_string(k).c_str(),
                    static_cast<unsigned long long>(v));
    if (ledger.checked) {
        std::printf("ledger: %s (acked found in Postgres %llu, missing %llu)\n",
                    valid ? "BALANCED" : "VOID", static_cast<unsigned long long>(ledger.found),
                    static_cast<unsigned long long>(ledger.missing));
    } else {
        std::printf("ledger: VOID (not checked in Postgres%s%s)\n",
                    ledger.error.empty() ? "" : ": ", ledger.error.c_str());
    }
    return valid ? 0 : 3;
}
