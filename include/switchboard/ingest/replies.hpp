#pragma once
/// Replies to the Vapi messages whose sender waits for a body (shared/vapi/spec.md §1.4), sent
/// once the message is committed (the webhook handler waits for both):
///
/// - assistant-request: the phone-number routing table (in memory, routing.hpp), else the
///   configured default, else {"error": <spoken message>};
/// - tool-calls, transfer-destination-request, handoff-destination-request,
///   knowledge-base-request: relayed to the configured handler (one attempt with a deadline); its
///   2xx JSON reply is passed through, anything else becomes a well-formed error reply of the
///   type; with no handler configured, a "no handler" reply of the same shape;
/// - call.endpointing.request, campaign.predial: from configuration;
/// - voice-request: refused (switchboard does not synthesize audio).
///
/// No reply waits on a Postgres query. Every shape is checked against the SDK types by the tests
/// (../shared/vapi/check-conformance.sh).
///
/// `replier` is built once at start-up and shared by every connection (const, thread-safe).

#include "switchboard/config/config.hpp"
#include "switchboard/ingest/event.hpp"
#include "switchboard/ingest/routing.hpp"
#include "switchboard/metrics/registry.hpp"
#include "switchboard/vapi/message_type.hpp"

#include <boost/asio/awaitable.hpp>

#include <array>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace prometheus {
class Counter;
}  // namespace prometheus

namespace switchboard::http {
class client;
}  // namespace switchboard::http

namespace switchboard::ingest {

enum class reply_outcome : std::uint8_t {
    routed,         ///< assistant-request: the number's route
    defaulted,      ///< assistant-request: the configured default
    unrouted,       ///< assistant-request: nothing routes; the spoken error
    configured,     ///< call.endpointing.request, campaign.predial
    relayed,        ///< the handler's reply, passed through
    relay_failed,   ///< the handler was unreachable or answered non-2xx
    relay_timeout,  ///< no answer within the relay deadline
    relay_invalid,  ///< a 2xx answer that is not a valid reply of the type
    no_handler,     ///< no handler configured for the type
    refused,        ///< voice-request
};
inline constexpr std::size_t reply_outcome_count = 10;

/// The metric label: "routed", "default", "unrouted", …
std::string_view to_string(reply_outcome o) noexcept;

struct reply {
    std::string body;  ///< serialized JSON
    reply_outcome outcome = reply_outcome::configured;
};

/// The four types relayed to a handler.
bool is_relayed(vapi::message_type t) noexcept;

/// Reply bodies (serialized JSON), one builder per shape.
namespace reply_body {
/// {"assistantId"|"workflowId"|"squadId": id}
std::string routed(const route& r);
/// {"error": message}: assistant-request (spoken to the caller), transfer-destination-request.
std::string error(std::string_view message);
/// {"results": [{"toolCallId", "name", "error"}…]} answering every call; with no call,
/// {"results": [], "error": message}.
std::string tool_calls_error(const std::vector<reply_facts::tool_call>& calls,
                             std::string_view message);
/// {"destination": {}, "error": message}: the SDK requires `destination`; `error` says the
/// handoff is not made.
std::string handoff_error(std::string_view message);
/// {"documents": []}: the model answers without documents.
std::string no_documents();
/// {"timeoutSeconds": seconds}
std::string endpointing(double seconds);
/// {"eligible": eligible}
std::string predial(bool eligible);
}  // namespace reply_body

/// The error reply of type `t` (a relayed type) carrying `message`.
std::string error_reply(vapi::message_type t, const std::vector<reply_facts::tool_call>& calls,
                        std::string_view message);

/// Makes a handler's 2xx body for type `t` what the SDK's reply type allows, or says why it
/// cannot be: a JSON object; tool-calls: `results` (or a string `error` alone), each result an
/// object with a string `toolCallId` and `name` (taken from `calls` when missing), `result` and
/// `error` sent as strings (other JSON as its text), unknown members dropped, and a call of
/// `calls` left unanswered answered with an error; handoff: a `destination` object; transfer:
/// a `destination` with a string `type`, if any; knowledge base: documents with a string
/// `content` and a number `similarity`. `body` is rewritten only when something changed.
/// Returns why the reply is not acceptable (then the error reply is sent), nullopt when it is.
std::optional<std::string> conform_handler_reply(vapi::message_type t, std::string& body,
                                                 const std::vector<reply_facts::tool_call>& calls);
/// conform_handler_reply on a copy, with no calls to answer.
std::optional<std::string> check_handler_reply(vapi::message_type t, std::string_view body);

/// Prometheus series of the replies, resolved once.
class reply_metrics {
  public:
    explicit reply_metrics(metrics::registry& reg);

    void count(vapi::message_type t, reply_outcome o) const;
    void relay_latency(vapi::message_type t, double seconds) const;

  private:
    /// nullptr where the type never has the outcome.
    std::array<std::array<prometheus::Counter*, reply_outcome_count>, vapi::message_type_count>
        by_type_{};
    std::array<prometheus::Histogram*, vapi::message_type_count> relay_latency_{};
};

class replier {
  public:
    /// `relay_client` may be null when no handler URL is configured. Everything passed must
    /// outlive the replier.
    replier(const config::replies_config& cfg, const routing_table& routes,
            http::client* relay_client, metrics::registry& reg);

    /// True when the reply of `t` comes from a handler over HTTP (`relay`), false when
    /// `immediate` computes it.
    bool relays(vapi::message_type t) const;

    /// Computes the reply from memory, for every type that needs one except the relayed types
    /// with a handler. `ev` is the parsed message (before it is queued).
    reply immediate(const event& ev) const;

    /// POSTs `body` (the webhook body as received) to the handler of `t` and returns its reply,
    /// or the type's error reply when the handler fails, times out or answers badly. Never
    /// takes longer than the relay deadline. Runs on the caller's executor.
    boost::asio::awaitable<reply> relay(vapi::message_type t, std::string body,
                                        std::vector<reply_facts::tool_call> calls) const;

    /// `relay`, once per message: `key` names the message (its call and its dedupe key). A
    /// delivery of a message whose relay succeeded within the last ten minutes gets that reply
    /// again, and one that comes while the first is being relayed waits for it: a retry by
    /// Vapi (a backoffPlan) or by a proxy, or a replayed request, does not run the handler's
    /// tool again. A failed relay is not remembered: a retry relays again. An empty key relays.
    boost::asio::awaitable<reply> relay_once(vapi::message_type t, std::string key,
                                             std::string body,
                                             std::vector<reply_facts::tool_call> calls) const;

    /// Counts a reply actually sent (a reply whose message was not committed is not sent).
    void sent(vapi::message_type t, reply_outcome o) const;

    /// The relay deadline.
    std::chrono::milliseconds relay_timeout() const { return cfg_.relay_timeout; }
    /// Longest a reply waits for its message's commit (replies_config::commit_wait).
    std::chrono::milliseconds commit_wait() const { return cfg_.commit_wait; }

  private:
    const std::string& url_for(vapi::message_type t) const;

    /// A message's relay: in progress, done (its reply remembered) or failed (forgotten).
    struct relayed_message {
        enum class state { relaying, done, failed } now = state::relaying;
        reply answer;
        std::chrono::steady_clock::time_point at;
    };
    /// The relays of the last ten minutes by message, oldest first in `order`; at most
    /// k_memo_bytes of keys and replies (a larger reply is not remembered). Guarded by `mutex`.
    struct relay_memo {
        std::mutex mutex;
        std::unordered_map<std::string, std::shared_ptr<relayed_message>> by_key;
        std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>> order;
        std::size_t bytes = 0;
    };
    void forget_old_relays(std::chrono::steady_clock::time_point now) const;

    const config::replies_config& cfg_;
    const routing_table& routes_;
    http::client* client_;
    reply_metrics metrics_;
    std::optional<route> default_route_;
    mutable relay_memo memo_;
    prometheus::Counter* repeats_ = nullptr;
};

}  // namespace switchboard::ingest
