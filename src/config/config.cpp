#include "switchboard/config/config.hpp"

#include <boost/program_options.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>
#include <thread>
#include <tuple>
#include <unordered_map>

extern char** environ;

namespace switchboard::config {
namespace po = boost::program_options;
namespace {

/// Environment variable of a flag: database-url → DATABASE_URL, foo-bar → SWITCHBOARD_FOO_BAR.
std::string env_name(const std::string& flag) {
    if (flag == "database-url") return "DATABASE_URL";
    // Names fixed by issue 5: the Supabase project's and the Vapi account's settings keep the
    // names those platforms use.
    if (flag.starts_with("supabase-") || flag.starts_with("vapi-")) {
        std::string out;
        for (char c : flag) out += c == '-' ? '_' : static_cast<char>(std::toupper(c));
        return out;
    }
    std::string out = "SWITCHBOARD_";
    for (char c : flag) out += c == '-' ? '_' : static_cast<char>(std::toupper(c));
    return out;
}

/// A SWITCHBOARD_* variable that no option reads: most likely a misspelt one. The repository's
/// own tools set a few of their own (SWITCHBOARD_TEST_*, SWITCHBOARD_BENCH_*, the shared and
/// examples directories), which reach the service through their environment.
bool is_unknown_switchboard_variable(std::string_view name) {
    if (!name.starts_with("SWITCHBOARD_")) return false;
    if (name.starts_with("SWITCHBOARD_TEST_") || name.starts_with("SWITCHBOARD_BENCH_")) {
        return false;
    }
    return name != "SWITCHBOARD_SHARED_DIR" && name != "SWITCHBOARD_EXAMPLES_DIR";
}

struct option_spec {
    const char* flag;
    const char* fallback;  ///< nullptr: no default
    const char* help;
};

// One table for --help, the environment mapping and defaults. Values are parsed below with
// uniform range checks, so every bad value gets the same kind of message.
const option_spec k_options[] = {
    {"database-url", nullptr,
     "Postgres connection URI (libpq syntax). Required by `serve` and `migrate`."},
    {"listen", "0.0.0.0:8080",
     "Address and port of the HTTP listener (host:port, [v6]:port; port 0 picks one)."},
    {"port-file", nullptr,
     "Write the bound port to this file once listening (for tests and supervisors)."},
    {"io-threads", "0",
     "I/O threads running the HTTP listener (0: half the cores, at least one; the batch "
     "writers and often a local Postgres need the rest)."},
    {"max-body-bytes", "8388608", "Largest request body; larger requests get 413."},
    {"max-header-bytes", "16384", "Largest request header block; larger get 431."},
    {"max-connections", "4096",
     "Open connections at most; a connection beyond it is answered 503 and closed. Each open "
     "connection may hold one request body (--max-body-bytes)."},
    {"max-body-memory", nullptr,
     "Bytes of request bodies over 64 KiB held at once, all connections together, by their "
     "declared length (chunked: its limit); a management upload counts 3 times (it is copied to "
     "be forwarded to Vapi), a management JSON body (at most 1 MiB) 16 times (its parsed tree); "
     "one more gets 503 before its body is read. Default: 268435456, or the largest of "
     "--max-body-bytes, 3 times --max-upload-bytes and 16 times the JSON limit when larger."},
    {"idle-timeout-ms", "60000", "How long an idle keep-alive connection is kept open."},
    {"read-timeout-ms", "30000",
     "Deadline to receive one whole request (header and body), from its first byte; past it the "
     "connection is closed."},
    {"write-timeout-ms", "30000", "Deadline to send one response."},
    {"webhook-secret", nullptr,
     "Shared secret expected in the header named by --webhook-secret-header."},
    {"webhook-secret-previous", nullptr,
     "A second shared secret, also accepted: the old one while Vapi's configuration moves to "
     "the new one (only beside --webhook-secret)."},
    {"webhook-secret-header", "X-Vapi-Secret", "Header carrying the shared secret."},
    {"webhook-bearer-token", nullptr,
     "Token expected as `Authorization: Bearer <token>` (Vapi bearer plan)."},
    {"webhook-bearer-token-previous", nullptr,
     "A second bearer token, also accepted while Vapi moves to the new one (only beside "
     "--webhook-bearer-token)."},
    {"webhook-bearer-header", "Authorization", "Header carrying the bearer token."},
    {"webhook-bearer-prefix", "true",
     "Expect the `Bearer ` prefix before the token (false: bare token)."},
    {"hmac-secret", nullptr, "Secret of Vapi's HMAC plan (x-signature / x-timestamp headers)."},
    {"hmac-secret-previous", nullptr,
     "A second HMAC secret whose signatures are also accepted during a rotation (only beside "
     "--hmac-secret)."},
    {"hmac-secret-is-base64", "false", "The HMAC secrets are base64 text; decode them before use."},
    {"hmac-algorithm", "sha256", "HMAC digest: sha256, sha512 or sha1."},
    {"hmac-signature-header", "x-signature", "Header carrying the HMAC signature."},
    {"hmac-timestamp-header", "x-timestamp",
     "Header carrying the signed timestamp (seconds or milliseconds)."},
    {"hmac-message-id-header", nullptr,
     "Header whose value fills {svix-id} in the payload format."},
    {"hmac-signature-prefix", nullptr, "Prefix before the encoded signature, e.g. `sha256=`."},
    {"hmac-encoding", "hex", "Signature encoding: hex or base64."},
    {"hmac-payload-format", "{timestamp}.{body}",
     "Signed payload; placeholders {timestamp} {body} {method} {url} {svix-id}."},
    {"hmac-max-skew-s", "300",
     "Replay window: largest age (or future skew) of the signed timestamp."},
    {"oauth-client-id", nullptr,
     "Client id of Vapi's OAuth2 plan: switchboard answers its token requests at POST "
     "/oauth/token and accepts the tokens it issues as `Authorization: Bearer <token>`."},
    {"oauth-client-secret", nullptr,
     "Client secret of the OAuth2 plan (at least 16 characters; required with "
     "--oauth-client-id). Replicas sharing it accept each other's tokens."},
    {"oauth-client-secret-previous", nullptr,
     "Also accepted during a rotation, in token requests and as the key of the tokens it "
     "signed (only beside --oauth-client-secret)."},
    {"oauth-token-ttl-s", "3600", "Lifetime of an issued access token (expires_in), seconds."},
    {"allow-unauthenticated", "false",
     "Accept webhooks without authentication. Required when no secret, token, HMAC or OAuth2 "
     "client is set."},
    {"queue-capacity", "65536",
     "Events admitted and not yet committed; beyond it requests get 503."},
    {"queue-max-bytes", "268435456", "Bytes of admitted, uncommitted events; beyond it 503."},
    {"ack-timeout-ms", "5000", "Longest a webhook waits for its commit before it is answered 503."},
    {"retry-after-s", "1", "Retry-After value sent with 503."},
    {"writers", "1",
     "Batch writer threads, one Postgres connection each (each keeps two batches in flight), "
     "and one more each for the derived state when --derive-delay-ms is not 0. More writers "
     "use more Postgres backends in parallel, with smaller batches."},
    {"batch-max-rows", "512", "A batch is flushed when it holds this many events..."},
    {"batch-max-delay-us", "0",
     "...or when its oldest event has waited this long (microseconds). 0: a writer takes what "
     "is queued when it is free, so batches grow with the load (what arrived during the "
     "previous commit)."},
    {"batch-grow-rows", "16",
     "A batch gathered behind one in flight waits a quarter of the recent batch time more for "
     "events when both hold fewer than this many (and it holds some): at moderate load fewer, "
     "larger batches, each of which costs Postgres about 100 µs before its first event, for a "
     "little latency. 0: off."},
    {"derive-delay-ms", "1000",
     "How long the derived call state (the calls row) may lag the stored messages. A "
     "writer merges what its batches state about each call and applies it at most this late, "
     "once per call, on a connection of its own, in slices (every eighth of the delay but at "
     "most every 25 ms, the calls whose turn has come; a webhook is still acknowledged only once "
     "its message is committed). Shorter: a fresher row for more Postgres work per webhook. "
     "0: in the same transaction as the messages."},
    {"pg-connect-timeout-s", "5", "Postgres connect timeout."},
    {"pg-reconnect-max-backoff-ms", "2000", "Longest pause between reconnection attempts."},
    {"pg-startup-wait-s", "30",
     "At start-up, how long to wait for Postgres before giving up (and for a migration's locks: "
     "each attempt waits 2 s at most, so as not to hold up the table's other users)."},
    {"default-assistant-id", nullptr,
     "assistant-request: assistant for calls on numbers with no route in phone_numbers."},
    {"default-workflow-id", nullptr, "...or this workflow (at most one default is set)."},
    {"default-squad-id", nullptr, "...or this squad."},
    {"unrouted-message", "Sorry, this number is not available right now. Goodbye.",
     "assistant-request: spoken to the caller when nothing routes and no default is set."},
    {"relay-url", nullptr,
     "Handler (http or https URL) receiving tool-calls, transfer-destination-request, "
     "handoff-destination-request and knowledge-base-request; its reply is passed to Vapi."},
    {"tool-calls-url", nullptr, "Handler for tool-calls (overrides --relay-url)."},
    {"transfer-destination-url", nullptr,
     "Handler for transfer-destination-request (overrides --relay-url)."},
    {"handoff-destination-url", nullptr,
     "Handler for handoff-destination-request (overrides --relay-url)."},
    {"knowledge-base-url", nullptr, "Handler for knowledge-base-request (overrides --relay-url)."},
    {"relay-timeout-ms", "4000",
     "Deadline of one relay attempt (no retry); then an error reply. Keep it below the "
     "server.timeoutSeconds Vapi uses (default 20 s)."},
    {"reply-commit-wait-ms", "1000",
     "Longest a message that expects a reply (assistant-request, tool-calls, ...) waits for its "
     "commit; then the reply is sent anyway and the message is written when Postgres can take "
     "it. 0: reply without waiting for the commit."},
    {"relay-secret", nullptr, "Secret sent to the handler in --relay-secret-header."},
    {"relay-secret-header", "X-Vapi-Secret", "Header carrying --relay-secret."},
    {"endpointing-timeout-seconds", "0.5",
     "call.endpointing.request reply: {\"timeoutSeconds\": this}."},
    {"predial-eligible", "true", "campaign.predial reply: {\"eligible\": this}."},
    {"supabase-jwt-secret", nullptr,
     "Management API: HS256 secret of the Supabase project's access tokens."},
    {"supabase-jwks-url", nullptr,
     "Management API: JWKS URL of the Supabase project (ES256/RS256 keys, cached by kid)."},
    {"supabase-jwks-file", nullptr, "Management API: JWKS file (instead of the URL)."},
    {"jwt-audience", "authenticated", "Management API: required `aud` of access tokens."},
    {"jwt-issuer", nullptr,
     "Management API: required `iss` of access tokens, e.g. https://<ref>.supabase.co/auth/v1 "
     "(default: not checked)."},
    {"vapi-api-key", nullptr,
     "Vapi private API key for the management API; without it Vapi operations answer 503."},
    {"vapi-base-url", "https://api.vapi.ai",
     "Vapi REST API base URL (http:// accepted, for local fakes)."},
    {"vapi-timeout-ms", "60000", "Deadline of one Vapi REST attempt (retries come on top)."},
    {"public-url", nullptr,
     "Base URL Vapi calls back; assistants, workflows and numbers created without server.url "
     "get <this>/receive with the webhook authentication."},
    {"webhook-credential-id", nullptr,
     "Id of a Vapi credential (the HMAC or OAuth2 plan matching this service's configuration, "
     "made in Vapi's dashboard) that the objects --public-url routes here get as "
     "server.credentialId, so that Vapi authenticates their webhooks with it (needs "
     "--public-url). No management caller may name it elsewhere, nor is shown it."},
    {"manage-threads", "2", "Threads of the management API (off the I/O threads)."},
    {"manage-pg-connections", "4", "Postgres connections of the management API."},
    {"manage-max-inflight", "256", "Management requests in progress at most; beyond it 503."},
    {"max-upload-bytes", "26214400", "Largest management file upload; larger get 413."},
    {"cors-origins", nullptr,
     "Management API: comma-separated origins echoed in Access-Control-Allow-Origin "
     "(default: `*`)."},
    {"shutdown-delay-ms", "0",
     "On SIGTERM (or SIGINT, SIGHUP), how long /readyz answers 503 while requests are still "
     "served, before the listener closes and the drain begins: set it above the load "
     "balancer's health-check interval, so that it stops sending before the port closes."},
    {"shutdown-timeout-s", "30",
     "On SIGTERM (or SIGINT, SIGHUP), how long to wait for in-flight requests and the queue's "
     "writes, together, before giving up (what is left goes to --spool-dir)."},
    {"spool-dir", nullptr,
     "Directory (one per process) where the events a stop gives up are kept, fsync'd, and "
     "written at the next start; some were answered already (replies after "
     "--reply-commit-wait-ms). Default: none, those events are lost."},
    {"log-level", "info", "trace, debug, info, warn, error or off."},
};

std::string usage_text(const po::options_description& desc) {
    std::ostringstream out;
    out << "Usage: switchboard [serve] [options]\n"
           "       switchboard migrate [options]   apply schemas/sql to DATABASE_URL and exit\n"
           "       switchboard export-call <call-id> [options]\n"
           "                                       print the call's stored messages as received,\n"
           "                                       one JSON object per line\n\n"
           "Receives Vapi server messages (webhooks), stores them durably in Postgres and\n"
           "acknowledges each one only after it is committed.\n\n"
           "Every option can also be set by the environment variable shown in brackets;\n"
           "a flag wins over the environment.\n\n"
        << desc;
    return out.str();
}

std::string format_number(double v) {
    std::ostringstream out;
    out << v;
    return out.str();
}

class reader {
  public:
    explicit reader(const po::variables_map& vm) : vm_(vm) {}

    std::string str(const char* flag) const {
        auto it = vm_.find(flag);
        return it == vm_.end() ? std::string{} : it->second.as<std::string>();
    }

    std::int64_t integer(const char* flag, std::int64_t lo, std::int64_t hi) const {
        const std::string text = str(flag);
        std::int64_t v = 0;
        auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc{} || ptr != text.data() + text.size() || v < lo || v > hi) {
            fail(flag, text, "an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
        }
        return v;
    }

    double decimal(const char* flag, double lo, double hi) const {
        const std::string text = str(flag);
        double v = 0;
        auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc{} || ptr != text.data() + text.size() || !(v >= lo && v <= hi)) {
            fail(flag, text, "a number from " + format_number(lo) + " to " + format_number(hi));
        }
        return v;
    }

    /// An absolute http:// or https:// URL with a host, or empty.
    std::string url(const char* flag) const {
        std::string text = str(flag);
        if (text.empty()) return text;
        auto u = boost::urls::parse_absolute_uri(text);
        if (u && u->has_userinfo()) {
            // The message goes to stderr and logs: not the credentials it carries.
            boost::urls::url shown(*u);
            shown.set_userinfo("***");
            fail(flag, std::string(shown.buffer()),
                 "a URL without user:password@ (credentials in URLs are not supported)");
        }
        if (!u || (u->scheme() != "http" && u->scheme() != "https") || u->host().empty()) {
            fail(flag, text, "an absolute http:// or https:// URL with a host");
        }
        return text;
    }

    bool boolean(const char* flag) const {
        std::string text = str(flag);
        std::transform(text.begin(), text.end(), text.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
        if (text == "false" || text == "0" || text == "no" || text == "off") return false;
        fail(flag, str(flag), "true or false");
    }

    template <class Enum>
    Enum choice(const char* flag,
                std::initializer_list<std::pair<const char*, Enum>> values) const {
        const std::string text = str(flag);
        std::string expected;
        for (auto& [name, value] : values) {
            if (text == name) return value;
            expected += (expected.empty() ? "" : ", ") + std::string(name);
        }
        fail(flag, text, "one of " + expected);
    }

    [[noreturn]] static void fail(const char* flag, const std::string& text,
                                  const std::string& expected) {
        throw config_error("invalid value for --" + std::string(flag) + " (" + env_name(flag) +
                           "): '" + text + "' (expected " + expected + ")");
    }

  private:
    const po::variables_map& vm_;
};

}  // namespace

std::pair<std::string, std::uint16_t> parse_listen_address(const std::string& text) {
    std::string host;
    std::string port;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            throw config_error("invalid value for --listen (SWITCHBOARD_LISTEN): '" + text +
                               "' (expected [v6-address]:port)");
        }
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string::npos || colon == 0) {
            throw config_error("invalid value for --listen (SWITCHBOARD_LISTEN): '" + text +
                               "' (expected host:port)");
        }
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || ptr != port.data() + port.size() || value > 65535) {
        throw config_error("invalid value for --listen (SWITCHBOARD_LISTEN): '" + text +
                           "' (port must be 0 to 65535)");
    }
    return {host, static_cast<std::uint16_t>(value)};
}

parse_result parse(int argc, const char* const* argv, const char* const* envp) {
    po::options_description desc("Options", 132, 66);
    desc.add_options()("help,h", "Print this help and exit.")("version",
                                                              "Print the version and exit.");
    for (const auto& o : k_options) {
        std::string help = std::string(o.help) + " [" + env_name(o.flag) + "]";
        auto* value = po::value<std::string>()->value_name("");
        if (o.fallback != nullptr) value->default_value(o.fallback);
        desc.add_options()(o.flag, value, help.c_str());
    }

    service_config cfg;
    std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
    if (!args.empty() && (args.front() == "migrate" || args.front() == "serve")) {
        cfg.cmd = args.front() == "migrate" ? command::migrate : command::serve;
        args.erase(args.begin());
    } else if (!args.empty() && args.front() == "export-call") {
        cfg.cmd = command::export_call;
        if (args.size() < 2 || args[1].empty() || args[1].front() == '-') {
            throw config_error("export-call needs a call id: switchboard export-call <call-id>");
        }
        cfg.call_id = args[1];
        args.erase(args.begin(), args.begin() + 2);
    }

    po::variables_map vm;
    std::vector<std::string> unknown_env;
    try {
        const po::parsed_options from_args = po::command_line_parser(args).options(desc).run();
        // Without a positional description, program_options keeps stray words and store() skips
        // them silently: `switchboard --database-url=… migrate` would start serving instead.
        for (const auto& o : from_args.options) {
            if (o.position_key >= 0) {
                const std::string word = o.original_tokens.empty() ? "" : o.original_tokens.front();
                throw config_error(
                    "unexpected argument '" + word +
                    "' (the command, serve, migrate or export-call, comes first; see --help)");
            }
        }
        po::store(from_args, vm);
        // The environment fills what the command line did not (po::store keeps the first value).
        po::parsed_options from_env(&desc);
        for (auto env = envp != nullptr ? envp : environ; env != nullptr && *env != nullptr;
             ++env) {
            std::string_view entry(*env);
            auto eq = entry.find('=');
            if (eq == std::string_view::npos) continue;
            std::string name(entry.substr(0, eq));
            bool known = false;
            for (const auto& o : k_options) {
                if (env_name(o.flag) == name) {
                    from_env.options.emplace_back(
                        o.flag, std::vector<std::string>{std::string(entry.substr(eq + 1))});
                    known = true;
                    break;
                }
            }
            if (!known && is_unknown_switchboard_variable(name)) unknown_env.push_back(name);
        }
        po::store(from_env, vm);
        po::notify(vm);
    } catch (const po::error& e) {
        throw config_error(std::string(e.what()) + " (see --help)");
    }

    if (vm.count("help") != 0u) return {std::nullopt, usage_text(desc), 0};
    if (vm.count("version") != 0u) return {std::nullopt, "switchboard 0.1.0\n", 0};

    const reader r(vm);
    cfg.log_level = r.choice<std::string>("log-level", {{"trace", "trace"},
                                                        {"debug", "debug"},
                                                        {"info", "info"},
                                                        {"warn", "warn"},
                                                        {"error", "error"},
                                                        {"off", "off"}});

    auto& h = cfg.http;
    std::tie(h.listen_host, h.listen_port) = parse_listen_address(r.str("listen"));
    h.port_file = r.str("port-file");
    h.io_threads = static_cast<unsigned>(r.integer("io-threads", 0, 256));
    // Half the cores: on 2 cores beside a local Postgres, one I/O thread used 0.3 context switches
    // and 34-41 us of CPU per webhook against 0.5 and 40-47 with two (bench/analysis.md).
    if (h.io_threads == 0) h.io_threads = std::max(1u, std::thread::hardware_concurrency() / 2);
    h.max_body_bytes =
        static_cast<std::size_t>(r.integer("max-body-bytes", 1024, std::int64_t{1} << 30));
    h.max_header_bytes = static_cast<std::size_t>(r.integer("max-header-bytes", 1024, 1 << 20));
    h.max_connections = static_cast<std::size_t>(r.integer("max-connections", 1, 1'000'000));
    h.idle_timeout = std::chrono::milliseconds(r.integer("idle-timeout-ms", 10, 3'600'000));
    h.read_timeout = std::chrono::milliseconds(r.integer("read-timeout-ms", 10, 3'600'000));
    h.write_timeout = std::chrono::milliseconds(r.integer("write-timeout-ms", 10, 3'600'000));

    auto& a = cfg.auth;
    a.secret = r.str("webhook-secret");
    a.secret_previous = r.str("webhook-secret-previous");
    a.secret_header = r.str("webhook-secret-header");
    a.bearer_token = r.str("webhook-bearer-token");
    a.bearer_token_previous = r.str("webhook-bearer-token-previous");
    a.bearer_header = r.str("webhook-bearer-header");
    a.bearer_prefix = r.boolean("webhook-bearer-prefix");
    a.allow_unauthenticated = r.boolean("allow-unauthenticated");
    auto& m = a.hmac;
    m.secret = r.str("hmac-secret");
    m.secret_previous = r.str("hmac-secret-previous");
    a.webhook_credential_id = r.str("webhook-credential-id");
    auto& o = a.oauth;
    o.client_id = r.str("oauth-client-id");
    o.client_secret = r.str("oauth-client-secret");
    o.client_secret_previous = r.str("oauth-client-secret-previous");
    o.token_ttl = std::chrono::seconds(r.integer("oauth-token-ttl-s", 60, 86'400));
    if (o.client_id.empty() != o.client_secret.empty()) {
        throw config_error(
            "set --oauth-client-id and --oauth-client-secret together "
            "(SWITCHBOARD_OAUTH_CLIENT_ID, SWITCHBOARD_OAUTH_CLIENT_SECRET)");
    }
    for (const auto* secret : {&o.client_secret, &o.client_secret_previous}) {
        if (!secret->empty() && secret->size() < 16) {
            reader::fail(
                secret == &o.client_secret ? "oauth-client-secret" : "oauth-client-secret-previous",
                "(set)", "at least 16 characters");
        }
    }
    // A previous credential alone would be the only one: a mistake, not a rotation.
    for (const auto& [previous, current, flag] :
         {std::tuple{&a.secret_previous, &a.secret, "webhook-secret-previous"},
          std::tuple{&a.bearer_token_previous, &a.bearer_token, "webhook-bearer-token-previous"},
          std::tuple{&m.secret_previous, &m.secret, "hmac-secret-previous"},
          std::tuple{&o.client_secret_previous, &o.client_secret,
                     "oauth-client-secret-previous"}}) {
        if (!previous->empty() && current->empty()) {
            reader::fail(flag, "(set)", "only beside the current one it rotates from");
        }
    }
    m.secret_is_base64 = r.boolean("hmac-secret-is-base64");
    m.algorithm = r.choice<hmac_algorithm>("hmac-algorithm", {{"sha256", hmac_algorithm::sha256},
                                                              {"sha512", hmac_algorithm::sha512},
                                                              {"sha1", hmac_algorithm::sha1}});
    m.signature_header = r.str("hmac-signature-header");
    m.timestamp_header = r.str("hmac-timestamp-header");
    m.message_id_header = r.str("hmac-message-id-header");
    m.signature_prefix = r.str("hmac-signature-prefix");
    m.encoding = r.choice<signature_encoding>(
        "hmac-encoding",
        {{"hex", signature_encoding::hex}, {"base64", signature_encoding::base64}});
    m.payload_format = r.str("hmac-payload-format");
    m.max_skew = std::chrono::seconds(r.integer("hmac-max-skew-s", 1, std::int64_t{86'400} * 7));
    for (const char* flag : {"webhook-secret-header", "webhook-bearer-header",
                             "hmac-signature-header", "hmac-timestamp-header"}) {
        if (r.str(flag).empty()) reader::fail(flag, "", "a header name");
    }
    if (!m.secret.empty() && m.payload_format.find("{body}") == std::string::npos) {
        reader::fail("hmac-payload-format", m.payload_format, "a format containing {body}");
    }
    if (!m.secret.empty() && m.payload_format.find("{timestamp}") == std::string::npos) {
        // Without a signed timestamp there is no replay window; Vapi's default includes it.
        reader::fail("hmac-payload-format", m.payload_format, "a format containing {timestamp}");
    }

    auto& q = cfg.queue;
    q.capacity = static_cast<std::size_t>(r.integer("queue-capacity", 1, 16'777'216));
    q.max_bytes =
        static_cast<std::size_t>(r.integer("queue-max-bytes", 1 << 20, std::int64_t{1} << 40));
    q.ack_timeout = std::chrono::milliseconds(r.integer("ack-timeout-ms", 1, 600'000));
    q.retry_after = std::chrono::seconds(r.integer("retry-after-s", 0, 3600));

    auto& s = cfg.store;
    s.spool_dir = r.str("spool-dir");
    s.database_url = r.str("database-url");
    s.writers = static_cast<unsigned>(r.integer("writers", 1, 64));
    s.batch_max_rows = static_cast<std::size_t>(r.integer("batch-max-rows", 1, 10'000));
    s.batch_max_delay = std::chrono::microseconds(r.integer("batch-max-delay-us", 0, 10'000'000));
    s.batch_grow_rows = static_cast<std::size_t>(r.integer("batch-grow-rows", 0, 10'000));
    s.derive_delay = std::chrono::milliseconds(r.integer("derive-delay-ms", 0, 60'000));
    s.connect_timeout = std::chrono::seconds(r.integer("pg-connect-timeout-s", 1, 600));
    s.reconnect_max_backoff =
        std::chrono::milliseconds(r.integer("pg-reconnect-max-backoff-ms", 10, 600'000));
    s.startup_wait = std::chrono::seconds(r.integer("pg-startup-wait-s", 0, 3600));
    cfg.shutdown_timeout = std::chrono::seconds(r.integer("shutdown-timeout-s", 1, 3600));
    cfg.shutdown_delay = std::chrono::milliseconds(r.integer("shutdown-delay-ms", 0, 600'000));

    auto& rp = cfg.replies;
    rp.default_assistant_id = r.str("default-assistant-id");
    rp.default_workflow_id = r.str("default-workflow-id");
    rp.default_squad_id = r.str("default-squad-id");
    int defaults = 0;
    for (const auto* id : {&rp.default_assistant_id, &rp.default_workflow_id, &rp.default_squad_id})
        defaults += id->empty() ? 0 : 1;
    if (defaults > 1) {
        throw config_error(
            "set at most one of --default-assistant-id, --default-workflow-id and "
            "--default-squad-id (SWITCHBOARD_DEFAULT_ASSISTANT_ID, …_WORKFLOW_ID, …_SQUAD_ID)");
    }
    rp.unrouted_message = r.str("unrouted-message");
    if (rp.unrouted_message.empty()) reader::fail("unrouted-message", "", "a sentence to speak");
    rp.relay_url = r.url("relay-url");
    rp.tool_calls_url = r.url("tool-calls-url");
    rp.transfer_destination_url = r.url("transfer-destination-url");
    rp.handoff_destination_url = r.url("handoff-destination-url");
    rp.knowledge_base_url = r.url("knowledge-base-url");
    rp.relay_timeout = std::chrono::milliseconds(r.integer("relay-timeout-ms", 10, 60'000));
    rp.commit_wait = std::chrono::milliseconds(r.integer("reply-commit-wait-ms", 0, 600'000));
    rp.relay_secret = r.str("relay-secret");
    // Sent as a header value: a CR or LF would start another header (or end the header block).
    if (std::any_of(rp.relay_secret.begin(), rp.relay_secret.end(),
                    [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
        reader::fail("relay-secret", "(not shown)", "a secret without control characters");
    }
    rp.relay_secret_header = r.str("relay-secret-header");
    if (rp.relay_secret_header.empty() || rp.relay_secret_header.find_first_not_of(
                                              "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789!#$%&'*+-.^_`|~") != std::string::npos) {
        reader::fail("relay-secret-header", rp.relay_secret_header, "a header name");
    }
    rp.endpointing_timeout_seconds = r.decimal("endpointing-timeout-seconds", 0, 60);
    rp.predial_eligible = r.boolean("predial-eligible");

    auto& mg = cfg.manage;
    mg.jwt_secret = r.str("supabase-jwt-secret");
    mg.jwks_url = r.url("supabase-jwks-url");
    mg.jwks_file = r.str("supabase-jwks-file");
    mg.jwt_audience = r.str("jwt-audience");
    if (mg.jwt_audience.empty()) reader::fail("jwt-audience", "", "an audience");
    mg.jwt_issuer = r.str("jwt-issuer");
    mg.vapi_api_key = r.str("vapi-api-key");
    mg.vapi_base_url = r.url("vapi-base-url");
    if (mg.vapi_base_url.empty()) reader::fail("vapi-base-url", "", "an http(s) URL");
    mg.vapi_timeout = std::chrono::milliseconds(r.integer("vapi-timeout-ms", 10, 600'000));
    mg.public_url = r.url("public-url");
    while (!mg.public_url.empty() && mg.public_url.back() == '/') mg.public_url.pop_back();
    mg.threads = static_cast<unsigned>(r.integer("manage-threads", 1, 64));
    mg.pg_connections = static_cast<unsigned>(r.integer("manage-pg-connections", 1, 64));
    mg.max_inflight = static_cast<unsigned>(r.integer("manage-max-inflight", 1, 100'000));
    mg.max_upload_bytes =
        static_cast<std::size_t>(r.integer("max-upload-bytes", 1024, std::int64_t{1} << 30));
    {
        // Every body a route accepts must fit in the budget, or it could never be read; a
        // management body counts several times (manage_config::upload_copies, json_copies).
        const std::size_t largest = std::max(cfg.http.max_body_bytes, mg.largest_body_memory());
        if (r.str("max-body-memory").empty()) {
            cfg.http.max_body_memory = std::max<std::size_t>(std::size_t{256} << 20, largest);
        } else {
            cfg.http.max_body_memory = static_cast<std::size_t>(
                r.integer("max-body-memory", 1 << 20, std::int64_t{1} << 40));
            if (cfg.http.max_body_memory < largest) {
                reader::fail("max-body-memory", std::to_string(cfg.http.max_body_memory),
                             "at least --max-body-bytes and what one management request "
                             "counts for (" +
                                 std::to_string(largest) + ")");
            }
        }
    }
    {
        std::string origins = r.str("cors-origins");
        std::size_t start = 0;
        while (start <= origins.size()) {
            std::size_t comma = origins.find(',', start);
            if (comma == std::string::npos) comma = origins.size();
            std::string one = origins.substr(start, comma - start);
            while (!one.empty() && std::isspace(static_cast<unsigned char>(one.front())))
                one.erase(0, 1);
            while (!one.empty() && std::isspace(static_cast<unsigned char>(one.back())))
                one.pop_back();
            if (!one.empty() && one != "*") mg.cors_origins.push_back(one);
            start = comma + 1;
        }
    }

    if (s.database_url.empty()) {
        throw config_error("DATABASE_URL (or --database-url) is required");
    }
    if (!a.webhook_credential_id.empty() && cfg.manage.public_url.empty()) {
        // It is only ever set beside switchboard's own URL.
        reader::fail("webhook-credential-id", a.webhook_credential_id, "--public-url beside it");
    }
    if (cfg.cmd == command::serve && !a.any_scheme() && !a.allow_unauthenticated) {
        throw config_error(
            "no webhook authentication configured: set SWITCHBOARD_WEBHOOK_SECRET, "
            "SWITCHBOARD_WEBHOOK_BEARER_TOKEN, SWITCHBOARD_HMAC_SECRET or "
            "SWITCHBOARD_OAUTH_CLIENT_ID and _SECRET, or choose "
            "SWITCHBOARD_ALLOW_UNAUTHENTICATED=true explicitly");
    }
    // Vapi gives up on a server's answer after server.timeoutSeconds (20 s by default): an
    // answer that can take that long may never be seen, and a retry by a backoffPlan may come.
    const auto reply_at_most = std::max(cfg.replies.relay_timeout,
                                        std::min(cfg.queue.ack_timeout, cfg.replies.commit_wait));
    std::vector<std::string> slow;
    if (reply_at_most >= std::chrono::seconds(18)) {
        slow.push_back(
            "msg=\"a reply may take longer than Vapi waits by default (20 s, "
            "server.timeoutSeconds)\" relay_timeout_ms=" +
            std::to_string(cfg.replies.relay_timeout.count()) +
            " reply_commit_wait_ms=" + std::to_string(cfg.replies.commit_wait.count()));
    }
    if (cfg.queue.ack_timeout >= std::chrono::seconds(18)) {
        slow.push_back(
            "msg=\"an acknowledgement may take longer than Vapi waits by default "
            "(20 s, server.timeoutSeconds)\" ack_timeout_ms=" +
            std::to_string(cfg.queue.ack_timeout.count()));
    }
    parse_result out{std::move(cfg), {}, 0, {}};
    out.warnings = std::move(slow);
    std::sort(unknown_env.begin(), unknown_env.end());
    for (const auto& name : unknown_env) {
        out.warnings.push_back("msg=\"unknown environment variable, ignored (see --help)\" name=" +
                               name);
    }
    return out;
}

}  // namespace switchboard::config
