#include "switchboard/ingest/webhook_handler.hpp"

#include "switchboard/base/clock.hpp"
#include "switchboard/base/log.hpp"
#include "switchboard/http/response.hpp"
#include "switchboard/ingest/parse.hpp"

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>

namespace switchboard::ingest {

webhook_handler::webhook_handler(const authenticator& auth, event_queue& queue,
                                 ingest_metrics& metrics, const replier* replies)
    : auth_(auth), queue_(queue), metrics_(metrics), replies_(replies) {}

http::response webhook_handler::refuse(errc code, std::string_view detail, unsigned version) const {
    auto res = http::json_error(static_cast<http::status>(http_status(code)), detail, version);
    if (http_status(code) == 503) {
        res.set(boost::beast::http::field::retry_after,
                std::to_string(queue_.config().retry_after.count()));
    }
    return res;
}

std::optional<http::response> webhook_handler::check_header(
    const http::request::header_type& header) const {
    auto failure = auth_.check_header(header, base::unix_micros() / 1000);
    if (!failure) return std::nullopt;
    metrics_.auth_failed(*failure);
    metrics_.count(vapi::message_type::unknown, outcome::unauthorized);
    return refuse(errc::unauthenticated, "unauthorized: " + std::string(to_string(*failure)),
                  header.version());
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
    // message_offset is relative: still valid. A body with U+0000 was kept by the parse, escaped.
    const bool escaped = !ev.body.empty();
    if (!escaped) ev.body = std::move(req.body());
    ev.received_us = received_us;
    const vapi::message_type type = ev.type;

    // The reply: from memory now, or relayed below while the commit happens.
    const bool wants_reply = replies_ != nullptr && vapi::needs_reply(type);
    const bool relayed = wants_reply && replies_->relays(type);
    std::optional<reply> answer;
    std::string relay_body;
    std::string relay_key;
    std::vector<reply_facts::tool_call> tool_calls;
    if (relayed) {
        // The handler gets the body unchanged; the event keeps its own.
        relay_body = escaped ? std::move(req.body()) : ev.body;
        tool_calls = std::move(ev.reply.tool_calls);
        // The message, as the store tells deliveries apart: another delivery of it is not
        // relayed again (replier::relay_once).
        relay_key = ev.call_id;
        relay_key += '\n';
        relay_key += ev.dedupe_key;
    } else if (wants_reply) {
        answer = replies_->immediate(ev);
    }

    auto slot = std::make_shared<ack_slot>(co_await boost::asio::this_coro::executor);
    slot->arm();
    ev.ack = slot;
    if (!queue_.try_push(ev, wants_reply)) {
        metrics_.count(type, outcome::queue_full);
        co_return refuse(errc::queue_full, "ingest queue is full, retry later", version);
    }

    // A message that expects a reply has a caller waiting on the line: its commit is waited
    // for at most commit_wait, then the reply goes out anyway (the message stays queued).
    const auto wait = wants_reply ? std::min(queue_.config().ack_timeout, replies_->commit_wait())
                                  : queue_.config().ack_timeout;
    ack_status status = ack_status::pending;
    if (relayed) {
        using namespace boost::asio::experimental::awaitable_operators;
        auto [committed, relay_reply] = co_await (
            slot->wait(wait) && replies_->relay_once(type, std::move(relay_key),
                                                     std::move(relay_body), std::move(tool_calls)));
        status = committed;
        answer = std::move(relay_reply);
    } else {
        status = co_await slot->wait(wait);
    }
    metrics_.acked(static_cast<double>(base::unix_micros() - received_us) / 1e6);
    if (status == ack_status::committed) {
        metrics_.count(type, outcome::stored);
        if (!answer) co_return http::json_response(http::status::ok, "{}", version);
        replies_->sent(type, answer->outcome);
        // voice-request wants raw PCM, which switchboard does not make: stored, then refused.
        const auto code = answer->outcome == reply_outcome::refused
                              ? http::status::unprocessable_entity
                              : http::status::ok;
        co_return http::json_response(code, std::move(answer->body), version);
    }
    if (status == ack_status::timed_out && answer && answer->outcome != reply_outcome::refused) {
        metrics_.count(type, outcome::replied);
        replies_->sent(type, answer->outcome);
        co_return http::json_response(http::status::ok, std::move(answer->body), version);
    }
    if (status == ack_status::rejected) {
        // Postgres refused the message's data (the writer logged why): it is not stored. A
        // reply made meanwhile is sent all the same: the handler may have acted on it already
        // (a tool run), and the caller on the line needs it more than the record.
        metrics_.count(type, outcome::rejected);
        if (answer && answer->outcome != reply_outcome::refused) {
            log::warn("msg=\"message refused by Postgres, its reply sent\" type={}",
                      vapi::to_string(type));
            replies_->sent(type, answer->outcome);
            co_return http::json_response(http::status::ok, std::move(answer->body), version);
        }
        co_return refuse(errc::store_rejected,
                         "the database refused this message's data (the service's log says why)",
                         version);
    }
    metrics_.count(type, outcome::timeout);
    co_return refuse(errc::commit_timeout,
                     "the message could not be committed in time, retry later", version);
}

}  // namespace switchboard::ingest
