#include "switchboard/ingest/webhook_handler.hpp"

#include "switchboard/base/clock.hpp"
#include "switchboard/base/log.hpp"
#include "switchboard/http/response.hpp"
#include "switchboard/ingest/parse.hpp"

#include <boost/asio/this_coro.hpp>

namespace switchboard::ingest {

webhook_handler::webhook_handler(const authenticator& auth, event_queue& queue,
                                 ingest_metrics& metrics)
    : auth_(auth), queue_(queue), metrics_(metrics) {}

http::response webhook_handler::refuse(errc code, std::string_view detail, unsigned version) const {
    auto res = http::json_error(static_cast<http::status>(http_status(code)), detail, version);
    if (http_status(code) == 503) {
        res.set(boost::beast::http::field::retry_after,
                std::to_string(queue_.config().retry_after.count()));
    }
    return res;
}

boost::asio::awaitable<http::response> webhook_handler::handle(http::request& req) {
    const std::int64_t received_us = base::unix_micros();
    const unsigned version = req.version();

    if (auto failure = auth_.check(req, received_us / 1000)) {
        metrics_.auth_failed(*failure);
        metrics_.count(vapi::message_type::unknown, outcome::unauthorized);
        co_return refuse(errc::unauthenticated, "unauthorized: " + std::string(to_string(*failure)),
                         version);
    }

    event ev;
    if (auto parsed = parse_webhook(req.body(), ev); !parsed) {
        metrics_.count(vapi::message_type::unknown, outcome::invalid);
        co_return refuse(parsed.error().code, parsed.error().detail, version);
    }
    ev.body = std::move(req.body());  // message_offset is relative: still valid
    ev.received_us = received_us;
    const vapi::message_type type = ev.type;

    auto slot = std::make_shared<ack_slot>(co_await boost::asio::this_coro::executor);
    slot->arm();
    ev.ack = slot;
    if (!queue_.try_push(ev)) {
        metrics_.count(type, outcome::queue_full);
        co_return refuse(errc::queue_full, "ingest queue is full, retry later", version);
    }

    const ack_status status = co_await slot->wait(queue_.config().ack_timeout);
    metrics_.acked(static_cast<double>(base::unix_micros() - received_us) / 1e6);
    if (status == ack_status::committed) {
        metrics_.count(type, outcome::stored);
        co_return http::json_response(http::status::ok, "{}", version);
    }
    if (status == ack_status::rejected) {
        metrics_.count(type, outcome::rejected);
        co_return refuse(errc::store_rejected,
                         "the database refused this message: " + slot->detail(), version);
    }
    metrics_.count(type, outcome::timeout);
    co_return refuse(errc::commit_timeout,
                     "the message could not be committed in time, retry later", version);
}

}  // namespace switchboard::ingest
