#pragma once
/// POST /receive (and /webhooks/vapi): authenticate, parse, enqueue, wait for the commit, answer.
/// A 2xx is sent only after the event is committed in Postgres. Shared by all connections;
/// per-request state lives in the coroutine frame and the event's ack slot.
///
/// The types that expect a reply (replies.hpp) get it in the 200 body. A reply from memory is
/// computed before the event is queued; a relayed reply runs concurrently with the commit, and
/// the answer waits for both. voice-request is stored, then answered 422 (no audio is made).

#include "switchboard/http/message.hpp"
#include "switchboard/ingest/auth.hpp"
#include "switchboard/ingest/errc.hpp"
#include "switchboard/ingest/event_queue.hpp"
#include "switchboard/ingest/metrics.hpp"
#include "switchboard/ingest/replies.hpp"

namespace switchboard::ingest {

class webhook_handler {
  public:
    /// With `replies` null every committed message is answered `{}`.
    webhook_handler(const authenticator& auth, event_queue& queue, ingest_metrics& metrics,
                    const replier* replies = nullptr);

    boost::asio::awaitable<http::response> handle(http::request& req);

    /// The 401 for a request whose header alone fails the authentication (the router's header
    /// check): its body is then never read. nullopt when the body is needed to decide (HMAC)
    /// or the header passes; handle() checks again either way.
    std::optional<http::response> check_header(const http::request::header_type& header) const;

  private:
    http::response refuse(errc code, std::string_view detail, unsigned version) const;

    const authenticator& auth_;
    event_queue& queue_;
    ingest_metrics& metrics_;
    const replier* replies_;
};

}  // namespace switchboard::ingest
