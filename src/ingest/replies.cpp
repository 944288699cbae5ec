#include "switchboard/ingest/replies.hpp"

#include "switchboard/base/log.hpp"
#include "switchboard/http/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <charconv>

namespace switchboard::ingest {
namespace {

using vapi::message_type;

constexpr std::array<const char*, reply_outcome_count> k_outcomes = {
    "routed",       "default",       "unrouted",      "configured", "relayed",
    "relay_failed", "relay_timeout", "relay_invalid", "no_handler", "refused"};

/// The outcomes each type can have (the metric series that exist).
std::vector<reply_outcome> outcomes_of(message_type t) {
    using o = reply_outcome;
    switch (t) {
        case message_type::assistant_request:
            return {o::routed, o::defaulted, o::unrouted};
        case message_type::tool_calls:
        case message_type::transfer_destination_request:
        case message_type::handoff_destination_request:
        case message_type::knowledge_base_request:
            return {o::relayed, o::relay_failed, o::relay_timeout, o::relay_invalid, o::no_handler};
        case message_type::call_endpointing_request:
        case message_type::campaign_predial:
            return {o::configured};
        case message_type::voice_request:
            return {o::refused};
        default:
            return {};
    }
}

/// What the handler of each relayed type is called in error texts.
std::string_view handler_name(message_type t) {
    switch (t) {
        case message_type::tool_calls:
            return "tool";
        case message_type::transfer_destination_request:
            return "transfer destination";
        case message_type::handoff_destination_request:
            return "handoff destination";
        case message_type::knowledge_base_request:
            return "knowledge base";
        default:
            return "reply";
    }
}

}  // namespace

std::string_view to_string(reply_outcome o) noexcept {
    return k_outcomes[static_cast<std::size_t>(o)];
}

bool is_relayed(message_type t) noexcept {
    return t == message_type::tool_calls || t == message_type::transfer_destination_request ||
           t == message_type::handoff_destination_request ||
           t == message_type::knowledge_base_request;
}

namespace reply_body {

std::string routed(const route& r) {
    boost::json::object o;
    o[reply_field(r.what)] = r.id;
    return boost::json::serialize(o);
}

std::string error(std::string_view message) {
    boost::json::object o;
    o["error"] = message;
    return boost::json::serialize(o);
}

std::string tool_calls_error(const std::vector<reply_facts::tool_call>& calls,
                             std::string_view message) {
    boost::json::array results;
    results.reserve(calls.size());
    for (const auto& call : calls) {
        boost::json::object r;
        r["toolCallId"] = call.id;
        r["name"] = call.name;
        r["error"] = message;
        results.emplace_back(std::move(r));
    }
    boost::json::object o;
    const bool none = results.empty();
    o["results"] = std::move(results);
    if (none) o["error"] = message;
    return boost::json::serialize(o);
}

std::string handoff_error(std::string_view message) {
    boost::json::object o;
    o["destination"] = boost::json::object();
    o["error"] = message;
    return boost::json::serialize(o);
}

std::string no_documents() {
    return R"({"documents":[]})";
}

std::string endpointing(double seconds) {
    // Shortest round-trip form ("0.5", not boost::json's "5E-1").
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, seconds);
    if (ec != std::errc{}) end = buf;
    return R"({"timeoutSeconds":)" + std::string(buf, end) + "}";
}

std::string predial(bool eligible) {
    return eligible ? R"({"eligible":true})" : R"({"eligible":false})";
}

}  // namespace reply_body

std::string error_reply(message_type t, const std::vector<reply_facts::tool_call>& calls,
                        std::string_view message) {
    switch (t) {
        case message_type::tool_calls:
            return reply_body::tool_calls_error(calls, message);
        case message_type::handoff_destination_request:
            return reply_body::handoff_error(message);
        case message_type::knowledge_base_request:
            return reply_body::no_documents();
        default:
            return reply_body::error(message);
    }
}

namespace {

namespace json = boost::json;

bool is_string_or_absent(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v == nullptr || v->is_string();
}
bool is_object_or_absent(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v == nullptr || v->is_object();
}

/// ToolCallResult: toolCallId and name (strings, required), result and error (strings: other
/// JSON is sent as its text, as the SDK asks), message (object), metadata; nothing else. Every
/// call of `calls` gets a result: one the handler left out is answered with an error.
std::optional<std::string> conform_tool_results(json::object& reply,
                                                const std::vector<reply_facts::tool_call>& calls,
                                                bool& changed) {
    json::value* results = reply.if_contains("results");
    if (results == nullptr) {
        const json::value* error = reply.if_contains("error");
        if (error == nullptr || !error->is_string()) {
            return std::string("a tool-calls reply needs a \"results\" array");
        }
        return std::nullopt;
    }
    if (!results->is_array()) return std::string("\"results\" is not an array");
    std::vector<std::string_view> answered;
    for (json::value& item : results->get_array()) {
        if (!item.is_object()) return std::string("a result is not an object");
        json::object& r = item.get_object();
        const json::value* id = r.if_contains("toolCallId");
        if (id == nullptr || !id->is_string()) {
            return std::string("a result has no string \"toolCallId\"");
        }
        answered.push_back(id->get_string());
        if (const json::value* name = r.if_contains("name");
            name == nullptr || !name->is_string()) {
            const auto call = std::find_if(calls.begin(), calls.end(),
                                           [&](const auto& c) { return c.id == id->get_string(); });
            if (call == calls.end()) {
                return "the result of " + std::string(id->get_string()) + " has no string \"name\"";
            }
            r["name"] = call->name;
            changed = true;
        }
        for (const char* key : {"result", "error"}) {
            if (json::value* v = r.if_contains(key); v != nullptr && !v->is_string()) {
                *v = json::string(json::serialize(*v));
                changed = true;
            }
        }
        if (!is_object_or_absent(r, "message"))
            return std::string("a result's \"message\" is not an object");
        for (auto it = r.begin(); it != r.end();) {
            const std::string_view key = it->key();
            if (key == "toolCallId" || key == "name" || key == "result" || key == "error" ||
                key == "message" || key == "metadata") {
                ++it;
            } else {
                it = r.erase(it);
                changed = true;
            }
        }
    }
    json::array& list = results->get_array();
    for (const auto& call : calls) {
        if (std::find(answered.begin(), answered.end(), call.id) != answered.end()) continue;
        list.push_back(
            json::object{{"toolCallId", call.id},
                         {"name", call.name},
                         {"error", "the tool-calls handler returned no result for this call"}});
        changed = true;
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> conform_handler_reply(message_type t, std::string& body,
                                                 const std::vector<reply_facts::tool_call>& calls) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec) return "the reply is not JSON (" + ec.message() + ")";
    if (!v.is_object()) return std::string("the reply is not a JSON object");
    json::object& o = v.get_object();
    bool changed = false;
    switch (t) {
        case message_type::tool_calls:
            if (auto why = conform_tool_results(o, calls, changed)) return why;
            if (!is_string_or_absent(o, "error")) return std::string("\"error\" is not a string");
            break;
        case message_type::handoff_destination_request: {
            const json::value* d = o.if_contains("destination");
            if (d == nullptr || !d->is_object()) {
                return std::string("a handoff reply needs a \"destination\" object");
            }
            if (!is_string_or_absent(o, "result") || !is_string_or_absent(o, "error")) {
                return std::string("\"result\" and \"error\" must be strings");
            }
            break;
        }
        case message_type::transfer_destination_request: {
            if (const json::value* d = o.if_contains("destination")) {
                const json::value* type =
                    d->is_object() ? d->get_object().if_contains("type") : nullptr;
                if (type == nullptr || !type->is_string()) {
                    return std::string("\"destination\" needs a string \"type\"");
                }
            }
            if (!is_object_or_absent(o, "message") || !is_string_or_absent(o, "error")) {
                return std::string("\"message\" must be an object and \"error\" a string");
            }
            break;
        }
        case message_type::knowledge_base_request: {
            if (const json::value* docs = o.if_contains("documents")) {
                if (!docs->is_array()) return std::string("\"documents\" is not an array");
                for (const json::value& d : docs->get_array()) {
                    const json::object* doc = d.if_object();
                    const json::value* content =
                        doc != nullptr ? doc->if_contains("content") : nullptr;
                    const json::value* similarity =
                        doc != nullptr ? doc->if_contains("similarity") : nullptr;
                    if (content == nullptr || !content->is_string() || similarity == nullptr ||
                        !similarity->is_number()) {
                        return std::string(
                            "a document needs a string \"content\" and a number \"similarity\"");
                    }
                }
            }
            if (!is_object_or_absent(o, "message"))
                return std::string("\"message\" is not an object");
            break;
        }
        default:
            break;
    }
    if (changed) body = json::serialize(v);
    return std::nullopt;
}

std::optional<std::string> check_handler_reply(message_type t, std::string_view body) {
    std::string copy(body);
    return conform_handler_reply(t, copy, {});
}

reply_metrics::reply_metrics(metrics::registry& reg) {
    auto& replies = prometheus::BuildCounter()
                        .Name("switchboard_replies_total")
                        .Help("Reply bodies sent to Vapi, by message type and how each was made")
                        .Register(reg.prom());
    auto& latency = prometheus::BuildHistogram()
                        .Name("switchboard_relay_latency_seconds")
                        .Help("One relay to the handler: request sent to reply read (or failure)")
                        .Register(reg.prom());
    for (std::size_t i = 0; i < vapi::message_type_count; ++i) {
        const auto t = static_cast<message_type>(i);
        const std::string type(vapi::to_string(t));
        for (reply_outcome o : outcomes_of(t)) {
            by_type_[i][static_cast<std::size_t>(o)] =
                &replies.Add({{"type", type}, {"outcome", std::string(to_string(o))}});
        }
        if (is_relayed(t)) {
            relay_latency_[i] = &latency.Add({{"type", type}}, metrics::latency_buckets());
        }
    }
}

void reply_metrics::count(message_type t, reply_outcome o) const {
    if (auto* c = by_type_[static_cast<std::size_t>(t)][static_cast<std::size_t>(o)]) {
        c->Increment();
    }
}

void reply_metrics::relay_latency(message_type t, double seconds) const {
    if (auto* h = relay_latency_[static_cast<std::size_t>(t)]) h->Observe(seconds);
}

replier::replier(const config::replies_config& cfg, const routing_table& routes,
                 http::client* relay_client, metrics::registry& reg)
    : cfg_(cfg),
      routes_(routes),
      client_(relay_client),
      metrics_(reg),
      repeats_(&prometheus::BuildCounter()
                    .Name("switchboard_relay_repeats_total")
                    .Help("Deliveries of a relayed message answered with the reply to an earlier "
                          "delivery of the same message, without calling the handler again")
                    .Register(reg.prom())
                    .Add({})) {
    if (!cfg.default_assistant_id.empty()) {
        default_route_ = route{route::kind::assistant, cfg.default_assistant_id};
    } else if (!cfg.default_workflow_id.empty()) {
        default_route_ = route{route::kind::workflow, cfg.default_workflow_id};
    } else if (!cfg.default_squad_id.empty()) {
        default_route_ = route{route::kind::squad, cfg.default_squad_id};
    }
}

const std::string& replier::url_for(message_type t) const {
    const std::string* specific = nullptr;
    switch (t) {
        case message_type::tool_calls:
            specific = &cfg_.tool_calls_url;
            break;
        case message_type::transfer_destination_request:
            specific = &cfg_.transfer_destination_url;
            break;
        case message_type::handoff_destination_request:
            specific = &cfg_.handoff_destination_url;
            break;
        case message_type::knowledge_base_request:
            specific = &cfg_.knowledge_base_url;
            break;
        default:
            return cfg_.relay_url;
    }
    return specific->empty() ? cfg_.relay_url : *specific;
}

bool replier::relays(message_type t) const {
    return is_relayed(t) && client_ != nullptr && !url_for(t).empty();
}

reply replier::immediate(const event& ev) const {
    const message_type t = ev.type;
    reply out;
    switch (t) {
        case message_type::assistant_request: {
            // call.phoneNumberId, else the message's phoneNumber: its id, then its number. A
            // known number without a route has none (the default applies): another row of the
            // same number never answers for it.
            const auto found = routes_.lookup(
                {ev.call.get(fact::phone_number_id).value_or(""), ev.reply.phone_number_id},
                ev.reply.phone_number);
            if (found) {
                out = {reply_body::routed(*found), reply_outcome::routed};
            } else if (default_route_) {
                out = {reply_body::routed(*default_route_), reply_outcome::defaulted};
            } else {
                out = {reply_body::error(cfg_.unrouted_message), reply_outcome::unrouted};
            }
            break;
        }
        case message_type::call_endpointing_request:
            out = {reply_body::endpointing(cfg_.endpointing_timeout_seconds),
                   reply_outcome::configured};
            break;
        case message_type::campaign_predial:
            out = {reply_body::predial(cfg_.predial_eligible), reply_outcome::configured};
            break;
        case message_type::voice_request:
            out = {reply_body::error(
                       "voice-request is not supported: switchboard does not synthesize audio "
                       "(point assistant.voice.server at a custom-voice TTS server); the message "
                       "was stored"),
                   reply_outcome::refused};
            break;
        default:
            if (is_relayed(t)) {
                const std::string message = "no " + std::string(handler_name(t)) +
                                            " handler is configured for " +
                                            std::string(vapi::to_string(t));
                out = {error_reply(t, ev.reply.tool_calls, message), reply_outcome::no_handler};
            } else {
                out = {"{}", reply_outcome::configured};
            }
    }
    return out;
}

namespace {
constexpr auto k_memo_ttl = std::chrono::minutes(10);
constexpr std::size_t k_memo_bytes = std::size_t{16} << 20;
constexpr std::size_t k_memo_max_reply = std::size_t{256} << 10;
}  // namespace

void replier::forget_old_relays(std::chrono::steady_clock::time_point now) const {
    while (!memo_.order.empty() &&
           (memo_.order.front().first < now - k_memo_ttl || memo_.bytes > k_memo_bytes)) {
        const auto& [at, key] = memo_.order.front();
        if (const auto it = memo_.by_key.find(key);
            it != memo_.by_key.end() && it->second->at == at) {
            if (it->second->now == relayed_message::state::done) {
                memo_.bytes -= key.size() + it->second->answer.body.size();
            }
            memo_.by_key.erase(it);
        }
        memo_.order.pop_front();
    }
}

boost::asio::awaitable<reply> replier::relay_once(message_type t, std::string key, std::string body,
                                                  std::vector<reply_facts::tool_call> calls) const {
    if (key.empty()) co_return co_await relay(t, std::move(body), std::move(calls));
    using clock = std::chrono::steady_clock;
    std::shared_ptr<relayed_message> message;
    bool first = false;
    {
        std::lock_guard lock(memo_.mutex);
        const auto now = clock::now();
        forget_old_relays(now);
        auto [it, inserted] = memo_.by_key.try_emplace(key);
        if (inserted) {
            it->second = std::make_shared<relayed_message>();
            it->second->at = now;
            memo_.order.emplace_back(now, key);
            first = true;
        }
        message = it->second;
    }
    if (!first) {
        // Another delivery of this message: its reply, once its relay is done (polled: such
        // overlaps are rare, and a wait across threads would need a post per waiter).
        const auto give_up = clock::now() + cfg_.relay_timeout + std::chrono::seconds(1);
        boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
        for (;;) {
            {
                std::lock_guard lock(memo_.mutex);
                if (message->now == relayed_message::state::done) {
                    repeats_->Increment();
                    log::info(
                        "msg=\"relayed message delivered again: the first reply sent\" "
                        "type={}",
                        vapi::to_string(t));
                    co_return message->answer;
                }
                if (message->now == relayed_message::state::failed) break;
            }
            if (clock::now() >= give_up) break;
            timer.expires_after(std::chrono::milliseconds(10));
            co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        }
        // The first relay failed (or never ended): this delivery is relayed itself.
        co_return co_await relay(t, std::move(body), std::move(calls));
    }
    reply out = co_await relay(t, std::move(body), std::move(calls));
    std::lock_guard lock(memo_.mutex);
    const auto it = memo_.by_key.find(key);
    const bool held = it != memo_.by_key.end() && it->second == message;  // not evicted since
    if (out.outcome == reply_outcome::relayed && out.body.size() <= k_memo_max_reply) {
        message->answer = out;
        message->now = relayed_message::state::done;
        if (held) memo_.bytes += key.size() + out.body.size();
    } else {
        message->now = relayed_message::state::failed;
        if (held) memo_.by_key.erase(it);
    }
    co_return out;
}

void replier::sent(message_type t, reply_outcome o) const {
    metrics_.count(t, o);
}

boost::asio::awaitable<reply> replier::relay(message_type t, std::string body,
                                             std::vector<reply_facts::tool_call> calls) const {
    http::client_request req;
    req.method = boost::beast::http::verb::post;
    req.url = url_for(t);
    req.headers.set(boost::beast::http::field::content_type, "application/json");
    if (!cfg_.relay_secret.empty()) req.headers.set(cfg_.relay_secret_header, cfg_.relay_secret);
    req.body = std::move(body);

    const auto start = std::chrono::steady_clock::now();
    auto res = co_await client_->send(std::move(req), start + cfg_.relay_timeout);
    metrics_.relay_latency(
        t, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());

    reply out;
    std::string problem;
    if (!res) {
        const bool timed_out = res.error() == http::client_errc::timeout;
        out.outcome = timed_out ? reply_outcome::relay_timeout : reply_outcome::relay_failed;
        problem = timed_out
                      ? "no answer within " + std::to_string(cfg_.relay_timeout.count()) + " ms"
                      : res.error().message();
    } else if (res->status < 200 || res->status > 299) {
        out.outcome = reply_outcome::relay_failed;
        problem = "it answered HTTP " + std::to_string(res->status);
    } else if (auto why = conform_handler_reply(t, res->body, calls)) {
        out.outcome = reply_outcome::relay_invalid;
        problem = *why;
    } else {
        out = {std::move(res->body), reply_outcome::relayed};
        co_return out;
    }
    log::warn("msg=\"relay failed, sending an error reply\" type={} outcome={} error=\"{}\"",
              vapi::to_string(t), to_string(out.outcome), problem);
    out.body = error_reply(t, calls,
                           "the " + std::string(handler_name(t)) + " handler failed: " + problem);
    co_return out;
}

}  // namespace switchboard::ingest
