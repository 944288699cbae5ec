#pragma once
/// Service configuration: one struct per module, filled from flags and environment variables.
/// Every flag `--foo-bar` has the variable `SWITCHBOARD_FOO_BAR` (except `DATABASE_URL`); a flag
/// wins over the environment. `parse` validates everything and throws `config_error` with a
/// message naming the bad setting, so a misconfigured service refuses to start.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace switchboard::config {

struct config_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct http_config {
    std::string listen_host = "0.0.0.0";
    std::uint16_t listen_port = 8080;
    unsigned io_threads = 2;
    std::size_t max_body_bytes = 8u << 20;
    std::size_t max_header_bytes = 16u << 10;
    /// Open connections at most; each may hold a request body of up to max_body_bytes.
    std::size_t max_connections = 4096;
    /// Bytes of request bodies larger than one read (64 KiB) held at once, across connections,
    /// counted by their declared length (a chunked one by its route's limit).
    std::size_t max_body_memory = 256u << 20;
    std::chrono::milliseconds idle_timeout{60'000};   ///< keep-alive wait for the next request
    std::chrono::milliseconds read_timeout{30'000};   ///< one request, header and body
    std::chrono::milliseconds write_timeout{30'000};  ///< one response
    std::string port_file;  ///< when set, the bound port is written there once listening
};

enum class hmac_algorithm { sha256, sha512, sha1 };
enum class signature_encoding { hex, base64 };

/// Vapi's HMAC authentication plan (shared/vapi/spec.md §3.2).
struct hmac_config {
    std::string secret;  ///< empty: the HMAC scheme is off
    /// Also accepted while a new secret is rolled out (Vapi signs with one or the other).
    std::string secret_previous;
    bool secret_is_base64 = false;
    hmac_algorithm algorithm = hmac_algorithm::sha256;
    std::string signature_header = "x-signature";
    std::string timestamp_header = "x-timestamp";
    std::string message_id_header;  ///< fills `{svix-id}` in the payload format
    std::string signature_prefix;   ///< e.g. "sha256="
    signature_encoding encoding = signature_encoding::hex;
    std::string payload_format = "{timestamp}.{body}";
    std::chrono::seconds max_skew{300};  ///< replay window around the signed timestamp
};

/// Vapi's OAuth2 plan (shared/vapi/spec.md §3.2): switchboard is the token endpoint of one client
/// (ingest/oauth.hpp) and accepts the tokens it issued as `Authorization: Bearer <token>`.
struct oauth_config {
    std::string client_id;      ///< empty: the OAuth2 scheme is off
    std::string client_secret;  ///< at least 16 characters; also derives the tokens' signing key
    /// Also accepted, for a token request and for the tokens it signed, during a rotation.
    std::string client_secret_previous;
    std::chrono::seconds token_ttl{3600};  ///< the tokens' `expires_in`

    bool enabled() const { return !client_id.empty(); }
};

/// Webhook authentication: a request passes when it satisfies any configured scheme.
struct auth_config {
    std::string secret;           ///< static shared secret, empty: off
    std::string secret_previous;  ///< also accepted during a rotation; only beside `secret`
    std::string secret_header = "X-Vapi-Secret";
    std::string bearer_token;           ///< empty: off
    std::string bearer_token_previous;  ///< also accepted during a rotation
    std::string bearer_header = "Authorization";
    bool bearer_prefix = true;  ///< expect "Bearer <token>" rather than the bare token
    hmac_config hmac;
    oauth_config oauth;
    /// The Vapi credential (its HMAC or OAuth2 plan) that the management API sets as
    /// server.credentialId where server.url is switchboard's, and lets no caller name anywhere
    /// else; empty: none.
    std::string webhook_credential_id;
    bool allow_unauthenticated = false;  ///< must be chosen explicitly when no scheme is set

    bool any_scheme() const {
        return !secret.empty() || !bearer_token.empty() || !hmac.secret.empty() || oauth.enabled();
    }
};

struct queue_config {
    std::size_t capacity = 65'536;                 ///< events admitted but not yet committed
    std::size_t max_bytes = 256u << 20;            ///< their bytes
    std::chrono::milliseconds ack_timeout{5'000};  ///< longest a sender waits for the commit
    std::chrono::seconds retry_after{1};           ///< Retry-After on 503
};

struct store_config {
    std::string database_url;
    /// One writer keeps its Postgres backend busy (two batches in flight) with the largest
    /// batches; on 2 cores it beat two writers (bench/analysis.md, session 4).
    unsigned writers = 1;
    std::size_t batch_max_rows = 512;
    /// 0: no lingering. A writer takes what is queued when it is free, so the next batch is what
    /// arrived during the previous commit and batches grow with the load (group commit).
    std::chrono::microseconds batch_max_delay{0};
    /// Below this many events in both the batch in flight and the next, the next waits a quarter
    /// of the recent batch time more (bench/analysis.md, session 12); 0: off.
    std::size_t batch_grow_rows = 16;
    /// The derived call state (the calls row) of committed messages is merged per call
    /// and applied at most this late (schemas/sql/010); 0: in the messages' own transaction.
    std::chrono::milliseconds derive_delay{1000};
    std::chrono::seconds connect_timeout{5};
    std::chrono::milliseconds reconnect_max_backoff{2'000};
    std::chrono::seconds startup_wait{30};  ///< how long start-up waits for Postgres
    /// Where the events a stop gives up are kept and written at the next start (store/spool);
    /// empty: they are lost.
    std::string spool_dir;
};

/// Replies to the messages that expect one (spec.md §1.4; ingest/replies.hpp).
struct replies_config {
    /// assistant-request when the phone-number routing table has no route: at most one is set.
    std::string default_assistant_id;
    std::string default_workflow_id;
    std::string default_squad_id;
    /// Spoken to the caller when nothing routes and no default is set.
    std::string unrouted_message = "Sorry, this number is not available right now. Goodbye.";
    /// Handler of tool-calls, transfer-destination-request, handoff-destination-request and
    /// knowledge-base-request; a per-type URL overrides it. Empty: "no handler" replies.
    std::string relay_url;
    std::string tool_calls_url;
    std::string transfer_destination_url;
    std::string handoff_destination_url;
    std::string knowledge_base_url;
    std::chrono::milliseconds relay_timeout{4'000};  ///< one attempt, then an error reply
    /// Longest a reply waits for its message's commit. Past it (Postgres slow or down) the reply
    /// is sent anyway, because a caller is waiting on the line; the message stays queued and is
    /// written when Postgres can take it (lost only if the process stops before).
    std::chrono::milliseconds commit_wait{1'000};
    std::string relay_secret;  ///< sent to the handler when set
    std::string relay_secret_header = "X-Vapi-Secret";
    double endpointing_timeout_seconds = 0.5;  ///< call.endpointing.request
    bool predial_eligible = true;              ///< campaign.predial
};

/// The management API (docs/management-api.md): authentication of its callers, the Vapi REST
/// client and the management thread pool.
struct manage_config {
    std::string jwt_secret;  ///< SUPABASE_JWT_SECRET (HS256); empty: off
    std::string jwks_url;    ///< SUPABASE_JWKS_URL; empty: off
    std::string jwks_file;   ///< SUPABASE_JWKS_FILE; empty: off
    std::string jwt_audience = "authenticated";
    std::string jwt_issuer;    ///< SWITCHBOARD_JWT_ISSUER; empty: `iss` not checked
    std::string vapi_api_key;  ///< empty: Vapi operations answer 503
    std::string vapi_base_url = "https://api.vapi.ai";
    std::chrono::milliseconds vapi_timeout{60'000};  ///< per attempt
    std::string public_url;  ///< base URL Vapi calls back; empty: server.url left alone
    unsigned threads = 2;
    unsigned pg_connections = 4;
    unsigned max_inflight = 256;
    std::size_t max_upload_bytes = 25u << 20;
    /// How many times its declared size an upload is held at most while its handler runs: the
    /// request itself, the multipart body forwarded to Vapi, and that body's copy for the
    /// attempt. The listener counts that many against --max-body-memory.
    static constexpr unsigned upload_copies = 3;
    /// The largest JSON body of a management request (an assistant with a long prompt and
    /// many tools is tens of kB), within max_upload_bytes: a parsed JSON tree takes up to 12
    /// times its text (`switchboard-micro --benchmark_filter=json_tree`), and the body is also
    /// held as text and forwarded, so a JSON body counts json_copies times against
    /// --max-body-memory.
    static constexpr std::size_t max_json_bytes = 1u << 20;
    static constexpr unsigned json_copies = 16;
    /// The most body memory one management request may be counted for.
    std::size_t largest_body_memory() const {
        return std::max(max_upload_bytes * upload_copies,
                        std::min(max_upload_bytes, max_json_bytes) * json_copies);
    }
    std::vector<std::string> cors_origins;  ///< empty: `*`
};

enum class command { serve, migrate, export_call };

struct service_config {
    command cmd = command::serve;
    std::string call_id;  ///< export-call's argument
    http_config http;
    auth_config auth;
    queue_config queue;
    store_config store;
    replies_config replies;
    manage_config manage;
    std::chrono::seconds shutdown_timeout{30};
    /// After the signal, /readyz answers 503 for this long while requests are still served,
    /// before the listener closes: a load balancer sees the instance leave before its port does.
    std::chrono::milliseconds shutdown_delay{0};
    std::string log_level = "info";
};

/// Result of parsing the command line: either a config, or text to print and an exit code
/// (`--help`, `--version`).
struct parse_result {
    std::optional<service_config> config;
    std::string output;
    int exit_code = 0;
    /// What the service should log once logging is set up: e.g. a SWITCHBOARD_* variable that
    /// is no option (a misspelt name would otherwise be ignored without a word).
    std::vector<std::string> warnings;
};

/// Parses argv and the environment (`envp`-style null-terminated array; nullptr: `environ`).
/// Throws config_error for invalid values.
parse_result parse(int argc, const char* const* argv, const char* const* envp = nullptr);

/// Splits "host:port" or "[v6]:port".
std::pair<std::string, std::uint16_t> parse_listen_address(const std::string& text);

}  // namespace switchboard::config
