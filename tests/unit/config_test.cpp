#include "switchboard/config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

/// Runs config::parse with `args` after the program name and exactly `env` as the environment
/// (never the real one).
parse_result run(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    std::vector<const char*> argv{"switchboard"};
    for (const auto& a : args) argv.push_back(a.c_str());
    std::vector<const char*> envp;
    for (const auto& e : env) envp.push_back(e.c_str());
    envp.push_back(nullptr);
    return parse(static_cast<int>(argv.size()), argv.data(), envp.data());
}

/// The smallest environment `serve` accepts.
const std::vector<std::string> k_min_env = {"DATABASE_URL=postgresql://db.example/sb",
                                            "SWITCHBOARD_WEBHOOK_SECRET=s3cret"};

service_config config_of(const std::vector<std::string>& args,
                         const std::vector<std::string>& env = k_min_env) {
    auto r = run(args, env);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_TRUE(r.output.empty()) << r.output;
    if (!r.config) throw std::logic_error("parse returned no config");
    return *r.config;
}

std::vector<std::string> with(std::vector<std::string> env, const std::string& entry) {
    env.push_back(entry);
    return env;
}

/// The message of the config_error `args`/`env` must raise; fails the test when none is thrown.
std::string error_of(const std::vector<std::string>& args,
                     const std::vector<std::string>& env = k_min_env) {
    try {
        run(args, env);
    } catch (const config_error& e) {
        return e.what();
    }
    ADD_FAILURE() << "no config_error thrown";
    return {};
}

// A misspelt variable is not an error (the service starts), but it is named in a warning;
// the repository's tools' own variables and other programs' are not.
TEST(Config, WarnsOfUnknownSwitchboardVariables) {
    auto env = with(with(with(with(k_min_env, "SWITCHBOARD_SPOOL_DIRECTORY=/tmp/x"),
                              "SWITCHBOARD_TEST_DATABASE_URL=postgresql://t/t"),
                         "HOME=/root"),
                    "SWITCHBOARD_SPOOL_DIR=/tmp/y");
    const parse_result r = run({}, env);
    ASSERT_TRUE(r.config);
    EXPECT_EQ(r.config->store.spool_dir, "/tmp/y");
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_THAT(r.warnings[0], HasSubstr("name=SWITCHBOARD_SPOOL_DIRECTORY"));
    EXPECT_TRUE(run({}, k_min_env).warnings.empty());
}

TEST(Config, APreviousCredentialOnlyBesideTheCurrentOne) {
    const auto cfg = config_of(
        {"--webhook-secret-previous=old", "--hmac-secret=new", "--hmac-secret-previous=old"});
    EXPECT_EQ(cfg.auth.secret_previous, "old");
    EXPECT_EQ(cfg.auth.hmac.secret_previous, "old");
    EXPECT_THAT(error_of({"--webhook-bearer-token-previous=old"}),
                HasSubstr("webhook-bearer-token-previous"));
    EXPECT_THAT(error_of({"--hmac-secret-previous=old"}), HasSubstr("hmac-secret-previous"));
}

TEST(Config, OAuthClientIsAnAuthenticationSchemeOfItsOwn) {
    const std::vector<std::string> db = {"DATABASE_URL=postgresql://db.example/sb"};
    const auto cfg =
        config_of({"--oauth-client-id=vapi", "--oauth-client-secret=0123456789abcdef",
                   "--oauth-client-secret-previous=fedcba9876543210", "--oauth-token-ttl-s=600"},
                  db);
    EXPECT_TRUE(cfg.auth.any_scheme());
    EXPECT_TRUE(cfg.auth.oauth.enabled());
    EXPECT_EQ(cfg.auth.oauth.client_id, "vapi");
    EXPECT_EQ(cfg.auth.oauth.client_secret_previous, "fedcba9876543210");
    EXPECT_EQ(cfg.auth.oauth.token_ttl, std::chrono::seconds(600));
    EXPECT_EQ(config_of({}).auth.oauth.token_ttl, std::chrono::seconds(3600));
    EXPECT_FALSE(config_of({}).auth.oauth.enabled());

    EXPECT_THAT(error_of({"--oauth-client-id=vapi"}, db), HasSubstr("together"));
    EXPECT_THAT(error_of({"--oauth-client-secret=0123456789abcdef"}, db), HasSubstr("together"));
    const std::string short_secret =
        error_of({"--oauth-client-id=vapi", "--oauth-client-secret=short-secret"}, db);
    EXPECT_THAT(short_secret, HasSubstr("at least 16 characters"));
    EXPECT_THAT(short_secret, Not(HasSubstr("short-secret")));  // a secret is never echoed
    EXPECT_THAT(error_of({"--oauth-client-id=vapi", "--oauth-client-secret=0123456789abcdef",
                          "--oauth-client-secret-previous=short"},
                         db),
                HasSubstr("oauth-client-secret-previous"));
    EXPECT_THAT(
        error_of({"--webhook-secret=s", "--oauth-client-secret-previous=0123456789abcdef"}, db),
        HasSubstr("oauth-client-secret-previous"));
    EXPECT_THAT(error_of({"--webhook-credential-id=cred-1"}), HasSubstr("--public-url"));
    EXPECT_EQ(config_of({"--webhook-credential-id=cred-1", "--public-url=https://sb.example"})
                  .auth.webhook_credential_id,
              "cred-1");
    EXPECT_THAT(error_of({"--oauth-client-id=vapi", "--oauth-client-secret=0123456789abcdef",
                          "--oauth-token-ttl-s=10"},
                         db),
                HasSubstr("oauth-token-ttl-s"));
}

TEST(Config, WarnsOfTimeoutsLongerThanVapiWaits) {
    EXPECT_TRUE(run({}, k_min_env).warnings.empty());
    const auto slow_relay = run({"--relay-timeout-ms=30000"}, k_min_env);
    ASSERT_EQ(slow_relay.warnings.size(), 1u);
    EXPECT_THAT(slow_relay.warnings[0], HasSubstr("relay_timeout_ms=30000"));
    const auto slow_ack =
        run({"--ack-timeout-ms=25000", "--reply-commit-wait-ms=20000"}, k_min_env);
    ASSERT_EQ(slow_ack.warnings.size(), 2u);
    EXPECT_THAT(slow_ack.warnings[1], HasSubstr("ack_timeout_ms=25000"));
}

TEST(Config, DefaultsWithMinimalEnvironment) {
    const auto cfg = config_of({});
    EXPECT_EQ(cfg.cmd, command::serve);

    EXPECT_EQ(cfg.http.listen_host, "0.0.0.0");
    EXPECT_EQ(cfg.http.listen_port, 8080);
    EXPECT_EQ(cfg.http.io_threads, std::max(1u, std::thread::hardware_concurrency() / 2));
    EXPECT_EQ(cfg.http.max_body_bytes, 8u << 20);
    EXPECT_EQ(cfg.http.max_header_bytes, 16u << 10);
    EXPECT_EQ(cfg.http.max_body_memory, 256u << 20);
    EXPECT_EQ(cfg.http.idle_timeout, std::chrono::milliseconds(60'000));
    EXPECT_EQ(cfg.http.read_timeout, std::chrono::milliseconds(30'000));
    EXPECT_EQ(cfg.http.write_timeout, std::chrono::milliseconds(30'000));
    EXPECT_EQ(cfg.http.port_file, "");

    EXPECT_EQ(cfg.auth.secret, "s3cret");
    EXPECT_EQ(cfg.auth.secret_header, "X-Vapi-Secret");
    EXPECT_EQ(cfg.auth.bearer_token, "");
    EXPECT_EQ(cfg.auth.bearer_header, "Authorization");
    EXPECT_TRUE(cfg.auth.bearer_prefix);
    EXPECT_FALSE(cfg.auth.allow_unauthenticated);
    EXPECT_TRUE(cfg.auth.any_scheme());

    const auto& h = cfg.auth.hmac;
    EXPECT_EQ(h.secret, "");
    EXPECT_FALSE(h.secret_is_base64);
    EXPECT_EQ(h.algorithm, hmac_algorithm::sha256);
    EXPECT_EQ(h.signature_header, "x-signature");
    EXPECT_EQ(h.timestamp_header, "x-timestamp");
    EXPECT_EQ(h.message_id_header, "");
    EXPECT_EQ(h.signature_prefix, "");
    EXPECT_EQ(h.encoding, signature_encoding::hex);
    EXPECT_EQ(h.payload_format, "{timestamp}.{body}");
    EXPECT_EQ(h.max_skew, std::chrono::seconds(300));

    EXPECT_EQ(cfg.queue.capacity, 65'536u);
    EXPECT_EQ(cfg.queue.max_bytes, 256u << 20);
    EXPECT_EQ(cfg.queue.ack_timeout, std::chrono::milliseconds(5'000));
    EXPECT_EQ(cfg.queue.retry_after, std::chrono::seconds(1));

    EXPECT_EQ(cfg.store.database_url, "postgresql://db.example/sb");
    EXPECT_EQ(cfg.store.writers, 1u);
    EXPECT_EQ(cfg.store.batch_max_rows, 512u);
    EXPECT_EQ(cfg.store.batch_max_delay, std::chrono::microseconds(0));
    EXPECT_EQ(cfg.store.batch_grow_rows, 16u);
    EXPECT_EQ(cfg.store.derive_delay, std::chrono::milliseconds(1000));
    EXPECT_EQ(cfg.store.connect_timeout, std::chrono::seconds(5));
    EXPECT_EQ(cfg.store.reconnect_max_backoff, std::chrono::milliseconds(2'000));
    EXPECT_EQ(cfg.store.startup_wait, std::chrono::seconds(30));

    EXPECT_EQ(cfg.shutdown_timeout, std::chrono::seconds(30));
    EXPECT_EQ(cfg.log_level, "info");
}

TEST(Config, ReadsEveryKindOfSettingFromEnvironment) {
    const auto cfg = config_of({}, {"DATABASE_URL=postgresql://env/db",
                                    "SWITCHBOARD_LISTEN=127.0.0.1:9001",
                                    "SWITCHBOARD_PORT_FILE=/tmp/port",
                                    "SWITCHBOARD_IO_THREADS=3",
                                    "SWITCHBOARD_MAX_BODY_BYTES=2048",
                                    "SWITCHBOARD_IDLE_TIMEOUT_MS=1500",
                                    "SWITCHBOARD_WEBHOOK_BEARER_TOKEN=tok",
                                    "SWITCHBOARD_WEBHOOK_BEARER_HEADER=X-Token",
                                    "SWITCHBOARD_WEBHOOK_BEARER_PREFIX=false",
                                    "SWITCHBOARD_HMAC_SECRET=hk",
                                    "SWITCHBOARD_HMAC_SECRET_IS_BASE64=yes",
                                    "SWITCHBOARD_HMAC_ALGORITHM=sha512",
                                    "SWITCHBOARD_HMAC_SIGNATURE_HEADER=x-sig",
                                    "SWITCHBOARD_HMAC_TIMESTAMP_HEADER=x-ts",
                                    "SWITCHBOARD_HMAC_MESSAGE_ID_HEADER=svix-id",
                                    "SWITCHBOARD_HMAC_SIGNATURE_PREFIX=sha512=",
                                    "SWITCHBOARD_HMAC_ENCODING=base64",
                                    "SWITCHBOARD_HMAC_PAYLOAD_FORMAT={svix-id}.{timestamp}.{body}",
                                    "SWITCHBOARD_HMAC_MAX_SKEW_S=60",
                                    "SWITCHBOARD_QUEUE_CAPACITY=100",
                                    "SWITCHBOARD_QUEUE_MAX_BYTES=2097152",
                                    "SWITCHBOARD_ACK_TIMEOUT_MS=250",
                                    "SWITCHBOARD_RETRY_AFTER_S=7",
                                    "SWITCHBOARD_WRITERS=2",
                                    "SWITCHBOARD_BATCH_MAX_ROWS=64",
                                    "SWITCHBOARD_BATCH_MAX_DELAY_US=750",
                                    "SWITCHBOARD_BATCH_GROW_ROWS=0",
                                    "SWITCHBOARD_DERIVE_DELAY_MS=0",
                                    "SWITCHBOARD_PG_CONNECT_TIMEOUT_S=9",
                                    "SWITCHBOARD_PG_RECONNECT_MAX_BACKOFF_MS=900",
                                    "SWITCHBOARD_SHUTDOWN_TIMEOUT_S=12",
                                    "SWITCHBOARD_LOG_LEVEL=debug"});
    EXPECT_EQ(cfg.store.database_url, "postgresql://env/db");
    EXPECT_EQ(cfg.http.listen_host, "127.0.0.1");
    EXPECT_EQ(cfg.http.listen_port, 9001);
    EXPECT_EQ(cfg.http.port_file, "/tmp/port");
    EXPECT_EQ(cfg.http.io_threads, 3u);
    EXPECT_EQ(cfg.http.max_body_bytes, 2048u);
    EXPECT_EQ(cfg.http.idle_timeout, std::chrono::milliseconds(1500));
    EXPECT_EQ(cfg.auth.secret, "");
    EXPECT_EQ(cfg.auth.bearer_token, "tok");
    EXPECT_EQ(cfg.auth.bearer_header, "X-Token");
    EXPECT_FALSE(cfg.auth.bearer_prefix);
    EXPECT_EQ(cfg.auth.hmac.secret, "hk");
    EXPECT_TRUE(cfg.auth.hmac.secret_is_base64);
    EXPECT_EQ(cfg.auth.hmac.algorithm, hmac_algorithm::sha512);
    EXPECT_EQ(cfg.auth.hmac.signature_header, "x-sig");
    EXPECT_EQ(cfg.auth.hmac.timestamp_header, "x-ts");
    EXPECT_EQ(cfg.auth.hmac.message_id_header, "svix-id");
    EXPECT_EQ(cfg.auth.hmac.signature_prefix, "sha512=");
    EXPECT_EQ(cfg.auth.hmac.encoding, signature_encoding::base64);
    EXPECT_EQ(cfg.auth.hmac.payload_format, "{svix-id}.{timestamp}.{body}");
    EXPECT_EQ(cfg.auth.hmac.max_skew, std::chrono::seconds(60));
    EXPECT_EQ(cfg.queue.capacity, 100u);
    EXPECT_EQ(cfg.queue.max_bytes, 2097152u);
    EXPECT_EQ(cfg.queue.ack_timeout, std::chrono::milliseconds(250));
    EXPECT_EQ(cfg.queue.retry_after, std::chrono::seconds(7));
    EXPECT_EQ(cfg.store.writers, 2u);
    EXPECT_EQ(cfg.store.batch_max_rows, 64u);
    EXPECT_EQ(cfg.store.batch_max_delay, std::chrono::microseconds(750));
    EXPECT_EQ(cfg.store.batch_grow_rows, 0u);
    EXPECT_EQ(cfg.store.derive_delay, std::chrono::milliseconds(0));
    EXPECT_EQ(cfg.store.connect_timeout, std::chrono::seconds(9));
    EXPECT_EQ(cfg.store.reconnect_max_backoff, std::chrono::milliseconds(900));
    EXPECT_EQ(cfg.shutdown_timeout, std::chrono::seconds(12));
    EXPECT_EQ(cfg.log_level, "debug");
}

TEST(Config, ReadsFlagsInBothSpellings) {
    const auto cfg = config_of({"--listen", "[::1]:7000", "--writers=8", "--hmac-algorithm", "sha1",
                                "--log-level=warn", "--webhook-secret-header", "X-Hook",
                                "--allow-unauthenticated", "on"});
    EXPECT_EQ(cfg.http.listen_host, "::1");
    EXPECT_EQ(cfg.http.listen_port, 7000);
    EXPECT_EQ(cfg.store.writers, 8u);
    EXPECT_EQ(cfg.auth.hmac.algorithm, hmac_algorithm::sha1);
    EXPECT_EQ(cfg.log_level, "warn");
    EXPECT_EQ(cfg.auth.secret_header, "X-Hook");
    EXPECT_TRUE(cfg.auth.allow_unauthenticated);
}

TEST(Config, FlagBeatsEnvironment) {
    const auto env = std::vector<std::string>{"DATABASE_URL=postgresql://from-env/db",
                                              "SWITCHBOARD_WEBHOOK_SECRET=env-secret",
                                              "SWITCHBOARD_WRITERS=2",
                                              "SWITCHBOARD_LISTEN=10.0.0.1:1111",
                                              "SWITCHBOARD_WEBHOOK_BEARER_PREFIX=false",
                                              "SWITCHBOARD_HMAC_ENCODING=base64"};
    const auto cfg = config_of(
        {"--database-url=postgresql://from-flag/db", "--writers=6", "--listen=10.0.0.2:2222",
         "--webhook-secret=flag-secret", "--webhook-bearer-prefix=true", "--hmac-encoding=hex"},
        env);
    EXPECT_EQ(cfg.store.database_url, "postgresql://from-flag/db");
    EXPECT_EQ(cfg.store.writers, 6u);
    EXPECT_EQ(cfg.http.listen_host, "10.0.0.2");
    EXPECT_EQ(cfg.http.listen_port, 2222);
    EXPECT_EQ(cfg.auth.secret, "flag-secret");
    EXPECT_TRUE(cfg.auth.bearer_prefix);
    EXPECT_EQ(cfg.auth.hmac.encoding, signature_encoding::hex);
}

TEST(Config, EnvironmentBeatsDefaultsAndIgnoresUnrelatedVariables) {
    const auto cfg =
        config_of({}, {"PATH=/usr/bin", "SWITCHBOARD_NO_SUCH_OPTION=1", "NOEQUALSSIGN",
                       "switchboard_writers=9", "WRITERS=9", "SWITCHBOARD_WRITERS=5",
                       "DATABASE_URL=postgresql://x/y", "SWITCHBOARD_WEBHOOK_SECRET=s"});
    EXPECT_EQ(cfg.store.writers, 5u);
    EXPECT_EQ(cfg.store.database_url, "postgresql://x/y");
}

TEST(Config, EnvironmentValueMayContainEqualsSigns) {
    const auto cfg = config_of(
        {}, {"DATABASE_URL=postgresql://u@h/db?sslmode=require&application_name=sb",
             "SWITCHBOARD_HMAC_SECRET=c2VjcmV0LWtleQ==", "SWITCHBOARD_HMAC_SECRET_IS_BASE64=true"});
    EXPECT_EQ(cfg.store.database_url, "postgresql://u@h/db?sslmode=require&application_name=sb");
    EXPECT_EQ(cfg.auth.hmac.secret, "c2VjcmV0LWtleQ==");
}

TEST(Config, AcceptsEveryBooleanSpelling) {
    for (const char* yes : {"true", "TRUE", "True", "1", "yes", "on"}) {
        SCOPED_TRACE(yes);
        EXPECT_TRUE(
            config_of({std::string("--allow-unauthenticated=") + yes}).auth.allow_unauthenticated);
    }
    for (const char* no : {"false", "FALSE", "0", "no", "off", "Off"}) {
        SCOPED_TRACE(no);
        EXPECT_FALSE(config_of({std::string("--webhook-bearer-prefix=") + no}).auth.bearer_prefix);
    }
}

TEST(Config, AcceptsEveryLogLevel) {
    for (const char* level : {"trace", "debug", "info", "warn", "error", "off"}) {
        EXPECT_EQ(config_of({std::string("--log-level=") + level}).log_level, level);
    }
}

TEST(Config, HelpListsEveryOptionWithItsEnvironmentVariable) {
    // Help must work before anything is configured.
    const auto r = run({"--help"}, {});
    EXPECT_FALSE(r.config.has_value());
    EXPECT_EQ(r.exit_code, 0);
    const std::pair<const char*, const char*> k_options[] = {
        {"database-url", "DATABASE_URL"},
        {"listen", "SWITCHBOARD_LISTEN"},
        {"port-file", "SWITCHBOARD_PORT_FILE"},
        {"io-threads", "SWITCHBOARD_IO_THREADS"},
        {"max-body-bytes", "SWITCHBOARD_MAX_BODY_BYTES"},
        {"max-header-bytes", "SWITCHBOARD_MAX_HEADER_BYTES"},
        {"idle-timeout-ms", "SWITCHBOARD_IDLE_TIMEOUT_MS"},
        {"read-timeout-ms", "SWITCHBOARD_READ_TIMEOUT_MS"},
        {"write-timeout-ms", "SWITCHBOARD_WRITE_TIMEOUT_MS"},
        {"webhook-secret", "SWITCHBOARD_WEBHOOK_SECRET"},
        {"webhook-secret-previous", "SWITCHBOARD_WEBHOOK_SECRET_PREVIOUS"},
        {"webhook-secret-header", "SWITCHBOARD_WEBHOOK_SECRET_HEADER"},
        {"webhook-bearer-token", "SWITCHBOARD_WEBHOOK_BEARER_TOKEN"},
        {"webhook-bearer-token-previous", "SWITCHBOARD_WEBHOOK_BEARER_TOKEN_PREVIOUS"},
        {"webhook-bearer-header", "SWITCHBOARD_WEBHOOK_BEARER_HEADER"},
        {"webhook-bearer-prefix", "SWITCHBOARD_WEBHOOK_BEARER_PREFIX"},
        {"hmac-secret", "SWITCHBOARD_HMAC_SECRET"},
        {"hmac-secret-previous", "SWITCHBOARD_HMAC_SECRET_PREVIOUS"},
        {"hmac-secret-is-base64", "SWITCHBOARD_HMAC_SECRET_IS_BASE64"},
        {"hmac-algorithm", "SWITCHBOARD_HMAC_ALGORITHM"},
        {"hmac-signature-header", "SWITCHBOARD_HMAC_SIGNATURE_HEADER"},
        {"hmac-timestamp-header", "SWITCHBOARD_HMAC_TIMESTAMP_HEADER"},
        {"hmac-message-id-header", "SWITCHBOARD_HMAC_MESSAGE_ID_HEADER"},
        {"hmac-signature-prefix", "SWITCHBOARD_HMAC_SIGNATURE_PREFIX"},
        {"hmac-encoding", "SWITCHBOARD_HMAC_ENCODING"},
        {"hmac-payload-format", "SWITCHBOARD_HMAC_PAYLOAD_FORMAT"},
        {"hmac-max-skew-s", "SWITCHBOARD_HMAC_MAX_SKEW_S"},
        {"oauth-client-id", "SWITCHBOARD_OAUTH_CLIENT_ID"},
        {"oauth-client-secret", "SWITCHBOARD_OAUTH_CLIENT_SECRET"},
        {"oauth-client-secret-previous", "SWITCHBOARD_OAUTH_CLIENT_SECRET_PREVIOUS"},
        {"oauth-token-ttl-s", "SWITCHBOARD_OAUTH_TOKEN_TTL_S"},
        {"allow-unauthenticated", "SWITCHBOARD_ALLOW_UNAUTHENTICATED"},
        {"queue-capacity", "SWITCHBOARD_QUEUE_CAPACITY"},
        {"queue-max-bytes", "SWITCHBOARD_QUEUE_MAX_BYTES"},
        {"ack-timeout-ms", "SWITCHBOARD_ACK_TIMEOUT_MS"},
        {"retry-after-s", "SWITCHBOARD_RETRY_AFTER_S"},
        {"writers", "SWITCHBOARD_WRITERS"},
        {"batch-max-rows", "SWITCHBOARD_BATCH_MAX_ROWS"},
        {"batch-max-delay-us", "SWITCHBOARD_BATCH_MAX_DELAY_US"},
        {"batch-grow-rows", "SWITCHBOARD_BATCH_GROW_ROWS"},
        {"derive-delay-ms", "SWITCHBOARD_DERIVE_DELAY_MS"},
        {"pg-connect-timeout-s", "SWITCHBOARD_PG_CONNECT_TIMEOUT_S"},
        {"pg-reconnect-max-backoff-ms", "SWITCHBOARD_PG_RECONNECT_MAX_BACKOFF_MS"},
        {"pg-startup-wait-s", "SWITCHBOARD_PG_STARTUP_WAIT_S"},
        {"shutdown-timeout-s", "SWITCHBOARD_SHUTDOWN_TIMEOUT_S"},
        {"shutdown-delay-ms", "SWITCHBOARD_SHUTDOWN_DELAY_MS"},
        {"log-level", "SWITCHBOARD_LOG_LEVEL"},
        {"supabase-jwt-secret", "SUPABASE_JWT_SECRET"},
        {"supabase-jwks-url", "SUPABASE_JWKS_URL"},
        {"supabase-jwks-file", "SUPABASE_JWKS_FILE"},
        {"jwt-audience", "SWITCHBOARD_JWT_AUDIENCE"},
        {"jwt-issuer", "SWITCHBOARD_JWT_ISSUER"},
        {"max-body-memory", "SWITCHBOARD_MAX_BODY_MEMORY"},
        {"spool-dir", "SWITCHBOARD_SPOOL_DIR"},
        {"vapi-api-key", "VAPI_API_KEY"},
        {"vapi-base-url", "VAPI_BASE_URL"},
        {"vapi-timeout-ms", "VAPI_TIMEOUT_MS"},
        {"public-url", "SWITCHBOARD_PUBLIC_URL"},
        {"webhook-credential-id", "SWITCHBOARD_WEBHOOK_CREDENTIAL_ID"},
        {"manage-threads", "SWITCHBOARD_MANAGE_THREADS"},
        {"manage-pg-connections", "SWITCHBOARD_MANAGE_PG_CONNECTIONS"},
        {"manage-max-inflight", "SWITCHBOARD_MANAGE_MAX_INFLIGHT"},
        {"max-upload-bytes", "SWITCHBOARD_MAX_UPLOAD_BYTES"},
        {"cors-origins", "SWITCHBOARD_CORS_ORIGINS"},
    };
    for (const auto& [flag, env] : k_options) {
        SCOPED_TRACE(flag);
        EXPECT_THAT(r.output, HasSubstr(std::string("--") + flag + " "));
        EXPECT_THAT(r.output, HasSubstr(std::string("[") + env + "]"));
    }
    EXPECT_THAT(r.output, HasSubstr("--help"));
    EXPECT_THAT(r.output, HasSubstr("--version"));
    EXPECT_THAT(r.output, HasSubstr("migrate"));
}

TEST(Config, ManagementDefaults) {
    const auto cfg = config_of({});
    EXPECT_EQ(cfg.manage.jwt_secret, "");
    EXPECT_EQ(cfg.manage.jwt_audience, "authenticated");
    EXPECT_EQ(cfg.manage.jwt_issuer, "");
    EXPECT_EQ(cfg.manage.vapi_api_key, "");
    EXPECT_EQ(cfg.manage.vapi_base_url, "https://api.vapi.ai");
    EXPECT_EQ(cfg.manage.vapi_timeout, std::chrono::milliseconds(60'000));
    EXPECT_EQ(cfg.manage.public_url, "");
    EXPECT_EQ(cfg.manage.threads, 2u);
    EXPECT_EQ(cfg.manage.pg_connections, 4u);
    EXPECT_EQ(cfg.manage.max_inflight, 256u);
    EXPECT_EQ(cfg.manage.max_upload_bytes, 26214400u);
    EXPECT_TRUE(cfg.manage.cors_origins.empty());
}

TEST(Config, ReadsManagementSettingsUnderTheirIssueNames) {
    auto env = k_min_env;
    for (const char* e : {"SUPABASE_JWT_SECRET=jwt", "SUPABASE_JWKS_URL=https://x.supabase.co/jwks",
                          "SUPABASE_JWKS_FILE=/etc/jwks.json", "SWITCHBOARD_JWT_AUDIENCE=aud",
                          "SWITCHBOARD_JWT_ISSUER=https://x.supabase.co/auth/v1",
                          "VAPI_API_KEY=key", "VAPI_BASE_URL=http://127.0.0.1:9",
                          "VAPI_TIMEOUT_MS=1500", "SWITCHBOARD_PUBLIC_URL=https://sb.example/",
                          "SWITCHBOARD_MANAGE_THREADS=3", "SWITCHBOARD_MANAGE_PG_CONNECTIONS=5",
                          "SWITCHBOARD_MANAGE_MAX_INFLIGHT=7", "SWITCHBOARD_MAX_UPLOAD_BYTES=2048",
                          "SWITCHBOARD_CORS_ORIGINS=https://a.example, https://b.example"}) {
        env.emplace_back(e);
    }
    const auto cfg = config_of({}, env);
    EXPECT_EQ(cfg.manage.jwt_secret, "jwt");
    EXPECT_EQ(cfg.manage.jwks_url, "https://x.supabase.co/jwks");
    EXPECT_EQ(cfg.manage.jwks_file, "/etc/jwks.json");
    EXPECT_EQ(cfg.manage.jwt_audience, "aud");
    EXPECT_EQ(cfg.manage.jwt_issuer, "https://x.supabase.co/auth/v1");
    EXPECT_EQ(cfg.manage.vapi_api_key, "key");
    EXPECT_EQ(cfg.manage.vapi_base_url, "http://127.0.0.1:9");
    EXPECT_EQ(cfg.manage.vapi_timeout, std::chrono::milliseconds(1500));
    EXPECT_EQ(cfg.manage.public_url, "https://sb.example");
    EXPECT_EQ(cfg.manage.threads, 3u);
    EXPECT_EQ(cfg.manage.pg_connections, 5u);
    EXPECT_EQ(cfg.manage.max_inflight, 7u);
    EXPECT_EQ(cfg.manage.max_upload_bytes, 2048u);
    EXPECT_EQ(cfg.manage.cors_origins,
              (std::vector<std::string>{"https://a.example", "https://b.example"}));
    EXPECT_THAT(error_of({}, with(k_min_env, "VAPI_BASE_URL=ftp://x")), HasSubstr("VAPI_BASE_URL"));
    EXPECT_THAT(error_of({}, with(k_min_env, "SWITCHBOARD_PUBLIC_URL=nope")),
                HasSubstr("SWITCHBOARD_PUBLIC_URL"));
}

TEST(Config, ShortHelpFlagAndVersion) {
    const auto h = run({"-h"}, {});
    EXPECT_FALSE(h.config.has_value());
    EXPECT_THAT(h.output, HasSubstr("--database-url"));

    const auto v = run({"--version"}, {});
    EXPECT_FALSE(v.config.has_value());
    EXPECT_EQ(v.exit_code, 0);
    EXPECT_EQ(v.output, "switchboard 0.1.0\n");
}

TEST(Config, MigrateSubcommandSetsCommandAndNeedsNoAuth) {
    const auto cfg = config_of({"migrate", "--database-url", "postgresql://m/db"}, {});
    EXPECT_EQ(cfg.cmd, command::migrate);
    EXPECT_EQ(cfg.store.database_url, "postgresql://m/db");
    EXPECT_FALSE(cfg.auth.any_scheme());
}

TEST(Config, ExplicitServeSubcommand) {
    EXPECT_EQ(config_of({"serve", "--writers=3"}).cmd, command::serve);
    EXPECT_EQ(config_of({"serve", "--writers=3"}).store.writers, 3u);
}

TEST(Config, MissingDatabaseUrlIsAnError) {
    EXPECT_THAT(error_of({}, {"SWITCHBOARD_WEBHOOK_SECRET=s"}), HasSubstr("DATABASE_URL"));
    EXPECT_THAT(error_of({"migrate"}, {}), HasSubstr("DATABASE_URL"));
    EXPECT_THAT(error_of({}, {"DATABASE_URL=", "SWITCHBOARD_WEBHOOK_SECRET=s"}),
                HasSubstr("DATABASE_URL"));
}

TEST(Config, NoAuthSchemeWithoutExplicitOptOutIsAnError) {
    const auto msg = error_of({}, {"DATABASE_URL=postgresql://x/y"});
    EXPECT_THAT(msg, HasSubstr("SWITCHBOARD_WEBHOOK_SECRET"));
    EXPECT_THAT(msg, HasSubstr("SWITCHBOARD_WEBHOOK_BEARER_TOKEN"));
    EXPECT_THAT(msg, HasSubstr("SWITCHBOARD_HMAC_SECRET"));
    EXPECT_THAT(msg, HasSubstr("SWITCHBOARD_ALLOW_UNAUTHENTICATED"));
    // Saying "false" explicitly is no opt-out.
    EXPECT_THAT(error_of({"--allow-unauthenticated=false"}, {"DATABASE_URL=postgresql://x/y"}),
                HasSubstr("SWITCHBOARD_ALLOW_UNAUTHENTICATED"));
}

TEST(Config, EachAuthSchemeAloneOrTheOptOutIsEnough) {
    const std::vector<std::string> db = {"DATABASE_URL=postgresql://x/y"};
    EXPECT_EQ(config_of({}, with(db, "SWITCHBOARD_WEBHOOK_BEARER_TOKEN=t")).auth.bearer_token, "t");
    EXPECT_EQ(config_of({}, with(db, "SWITCHBOARD_HMAC_SECRET=h")).auth.hmac.secret, "h");
    const auto open = config_of({}, with(db, "SWITCHBOARD_ALLOW_UNAUTHENTICATED=true"));
    EXPECT_TRUE(open.auth.allow_unauthenticated);
    EXPECT_FALSE(open.auth.any_scheme());
}

// A bad value names both the flag and its environment variable, whichever was used.
void expect_rejected(const std::string& flag, const std::string& value, const std::string& env) {
    SCOPED_TRACE("--" + flag + "=" + value);
    // "--flag=" with nothing after '=' is a syntax error of program_options itself, which names
    // only the flag; the two-word form "--flag ''" reaches the value check.
    const auto from_flag =
        value.empty() ? error_of({"--" + flag, value}) : error_of({"--" + flag + "=" + value});
    EXPECT_THAT(from_flag, HasSubstr("--" + flag));
    EXPECT_THAT(from_flag, HasSubstr(env));
    EXPECT_THAT(from_flag, HasSubstr("'" + value + "'"));
    if (value.empty()) {
        EXPECT_THAT(error_of({"--" + flag + "="}), HasSubstr("--" + flag));
    }
    const auto from_env = error_of({}, with(k_min_env, env + "=" + value));
    EXPECT_THAT(from_env, HasSubstr("--" + flag));
    EXPECT_THAT(from_env, HasSubstr(env));
}

TEST(Config, RejectsNegativeAndNonNumericIntegers) {
    expect_rejected("writers", "-1", "SWITCHBOARD_WRITERS");
    expect_rejected("writers", "four", "SWITCHBOARD_WRITERS");
    expect_rejected("writers", "4x", "SWITCHBOARD_WRITERS");
    expect_rejected("writers", "4.0", "SWITCHBOARD_WRITERS");
    expect_rejected("writers", " 4", "SWITCHBOARD_WRITERS");
    expect_rejected("writers", "", "SWITCHBOARD_WRITERS");
    expect_rejected("queue-capacity", "-100", "SWITCHBOARD_QUEUE_CAPACITY");
    expect_rejected("ack-timeout-ms", "1e3", "SWITCHBOARD_ACK_TIMEOUT_MS");
    expect_rejected("max-body-bytes", "0x1000", "SWITCHBOARD_MAX_BODY_BYTES");
    expect_rejected("max-body-bytes", "99999999999999999999999", "SWITCHBOARD_MAX_BODY_BYTES");
}

TEST(Config, RejectsOutOfRangeIntegers) {
    expect_rejected("writers", "0", "SWITCHBOARD_WRITERS");
    expect_rejected("writers", "65", "SWITCHBOARD_WRITERS");
    expect_rejected("io-threads", "257", "SWITCHBOARD_IO_THREADS");
    expect_rejected("max-body-bytes", "1023", "SWITCHBOARD_MAX_BODY_BYTES");
    expect_rejected("max-body-bytes", "1073741825", "SWITCHBOARD_MAX_BODY_BYTES");
    expect_rejected("max-header-bytes", "1048577", "SWITCHBOARD_MAX_HEADER_BYTES");
    expect_rejected("queue-capacity", "0", "SWITCHBOARD_QUEUE_CAPACITY");
    expect_rejected("queue-max-bytes", "1048575", "SWITCHBOARD_QUEUE_MAX_BYTES");
    expect_rejected("hmac-max-skew-s", "0", "SWITCHBOARD_HMAC_MAX_SKEW_S");
    expect_rejected("hmac-max-skew-s", "604801", "SWITCHBOARD_HMAC_MAX_SKEW_S");
    expect_rejected("batch-max-rows", "10001", "SWITCHBOARD_BATCH_MAX_ROWS");
    expect_rejected("idle-timeout-ms", "9", "SWITCHBOARD_IDLE_TIMEOUT_MS");
    expect_rejected("shutdown-timeout-s", "0", "SWITCHBOARD_SHUTDOWN_TIMEOUT_S");
    expect_rejected("retry-after-s", "3601", "SWITCHBOARD_RETRY_AFTER_S");
    // The message states the accepted range.
    EXPECT_THAT(error_of({"--writers=65"}), HasSubstr("from 1 to 64"));
}

TEST(Config, AcceptsRangeBoundaries) {
    EXPECT_EQ(config_of({"--writers=1"}).store.writers, 1u);
    EXPECT_EQ(config_of({"--writers=64"}).store.writers, 64u);
    EXPECT_EQ(config_of({"--max-body-bytes=1024"}).http.max_body_bytes, 1024u);
    EXPECT_EQ(config_of({"--max-body-bytes=1073741824"}).http.max_body_bytes, 1073741824u);
    // The body budget follows the largest body limit unless set.
    EXPECT_EQ(config_of({"--max-body-bytes=1073741824"}).http.max_body_memory, 1073741824u);
    EXPECT_EQ(config_of({"--max-body-memory=1048576", "--max-body-bytes=1048576",
                         "--max-upload-bytes=1024"})
                  .http.max_body_memory,
              1048576u);
    EXPECT_THAT(error_of({"--max-body-memory=1048576", "--max-body-bytes=1048577"}),
                HasSubstr("at least --max-body-bytes and what one management request "
                          "counts for (78643200)"));
    // A management upload counts three times (the request, the body forwarded, its copy), a
    // JSON body (at most 1 MiB) sixteen times (its parsed tree).
    EXPECT_EQ(config_of({"--max-upload-bytes=104857600"}).http.max_body_memory, 314572800u);
    EXPECT_THAT(error_of({"--max-body-memory=16777215", "--max-upload-bytes=1048576",
                          "--max-body-bytes=1024"}),
                HasSubstr("(16777216)"));
    EXPECT_EQ(config_of({"--max-body-memory=16777216", "--max-upload-bytes=1048576"})
                  .http.max_body_memory,
              16777216u);
    EXPECT_EQ(config_of({"--retry-after-s=0"}).queue.retry_after, std::chrono::seconds(0));
    EXPECT_EQ(config_of({"--io-threads=256"}).http.io_threads, 256u);
}

// Errors go to stderr and logs: never the credentials a bad value carries.
TEST(Config, ErrorsDoNotShowCredentials) {
    const std::string url_error =
        error_of({"--relay-url=https://relayuser:RELAY-PASSWORD-SENTINEL@relay.example/tools"});
    EXPECT_THAT(url_error, HasSubstr("--relay-url"));
    EXPECT_THAT(url_error, HasSubstr("without user:password@"));
    EXPECT_THAT(url_error, Not(HasSubstr("SENTINEL")));
    EXPECT_THAT(url_error, Not(HasSubstr("relayuser")));
    // A relay secret is a header value: CR/LF would inject headers.
    const std::string secret_error = error_of({"--relay-secret=abc\r\nX-Injected: 1"});
    EXPECT_THAT(secret_error, HasSubstr("control characters"));
    EXPECT_THAT(secret_error, Not(HasSubstr("abc")));
    EXPECT_THAT(error_of({"--relay-secret-header=X Secret"}), HasSubstr("a header name"));
    EXPECT_EQ(config_of({"--relay-secret=s3cret", "--relay-secret-header=X-Tool-Secret"})
                  .replies.relay_secret_header,
              "X-Tool-Secret");
}

TEST(Config, RejectsBadBooleans) {
    expect_rejected("allow-unauthenticated", "maybe", "SWITCHBOARD_ALLOW_UNAUTHENTICATED");
    expect_rejected("webhook-bearer-prefix", "2", "SWITCHBOARD_WEBHOOK_BEARER_PREFIX");
    expect_rejected("hmac-secret-is-base64", "", "SWITCHBOARD_HMAC_SECRET_IS_BASE64");
    EXPECT_THAT(error_of({"--allow-unauthenticated=maybe"}), HasSubstr("true or false"));
}

TEST(Config, RejectsBadEnums) {
    expect_rejected("hmac-algorithm", "md5", "SWITCHBOARD_HMAC_ALGORITHM");
    expect_rejected("hmac-algorithm", "SHA256", "SWITCHBOARD_HMAC_ALGORITHM");
    expect_rejected("hmac-encoding", "base32", "SWITCHBOARD_HMAC_ENCODING");
    expect_rejected("log-level", "verbose", "SWITCHBOARD_LOG_LEVEL");
    const auto msg = error_of({"--hmac-algorithm", "md5"});
    EXPECT_THAT(msg, HasSubstr("sha256"));
    EXPECT_THAT(msg, HasSubstr("sha512"));
    EXPECT_THAT(msg, HasSubstr("sha1"));
}

TEST(Config, RejectsBadListenAddresses) {
    for (const char* bad :
         {"nohost", "[::1]8080", "0.0.0.0:70000", "0.0.0.0:65536", ":8080", "host:", "host:-1",
          "host:80x", "host:+80", "[::1", "[::1]:", "[::1]", "host: 80"}) {
        SCOPED_TRACE(bad);
        const auto msg = error_of({std::string("--listen=") + bad});
        EXPECT_THAT(msg, HasSubstr("--listen"));
        EXPECT_THAT(msg, HasSubstr("SWITCHBOARD_LISTEN"));
        EXPECT_THAT(msg, HasSubstr(bad));
    }
    EXPECT_THAT(error_of({}, with(k_min_env, "SWITCHBOARD_LISTEN=nohost")), HasSubstr("--listen"));
}

TEST(Config, RejectsEmptyHeaderNames) {
    for (const char* flag : {"webhook-secret-header", "webhook-bearer-header",
                             "hmac-signature-header", "hmac-timestamp-header"}) {
        SCOPED_TRACE(flag);
        std::string env = std::string("SWITCHBOARD_") + flag;
        std::transform(env.begin(), env.end(), env.begin(),
                       [](char c) { return c == '-' ? '_' : static_cast<char>(std::toupper(c)); });
        const auto msg = error_of({}, with(k_min_env, env + "="));
        EXPECT_THAT(msg, HasSubstr(std::string("--") + flag));
        EXPECT_THAT(msg, HasSubstr(env));
    }
}

TEST(Config, HmacPayloadFormatMustSignBodyAndTimestamp) {
    const auto env = with(k_min_env, "SWITCHBOARD_HMAC_SECRET=h");
    EXPECT_THAT(error_of({"--hmac-payload-format={timestamp}"}, env), HasSubstr("{body}"));
    EXPECT_THAT(error_of({"--hmac-payload-format={body}"}, env), HasSubstr("{timestamp}"));
    EXPECT_THAT(error_of({"--hmac-payload-format={body}"}, env),
                HasSubstr("--hmac-payload-format"));
    // Without an HMAC secret the format is not used, so it is not checked.
    EXPECT_EQ(config_of({"--hmac-payload-format={body}"}).auth.hmac.payload_format, "{body}");
    EXPECT_EQ(config_of({"--hmac-payload-format={method}:{url}:{timestamp}:{body}"}, env)
                  .auth.hmac.payload_format,
              "{method}:{url}:{timestamp}:{body}");
}

TEST(Config, RejectsUnknownFlagsAndStrayArguments) {
    EXPECT_THAT(error_of({"--no-such-flag=1"}), HasSubstr("see --help"));
    EXPECT_THAT(error_of({"--writers"}), HasSubstr("see --help"));  // value missing
}

TEST(Config, RejectsStrayWords) {
    EXPECT_THAT(error_of({"frobnicate"}), HasSubstr("'frobnicate'"));
    EXPECT_THAT(error_of({"migrat"}), HasSubstr("'migrat'"));  // a typo must not start serving
    EXPECT_THAT(error_of({"migrate", "now"}, {"DATABASE_URL=postgresql://x/y"}),
                HasSubstr("'now'"));
    EXPECT_THAT(error_of({"--writers", "4", "extra"}), HasSubstr("'extra'"));
}

TEST(Config, CommandMustComeFirst) {
    // Otherwise "migrate" after an option would be ignored and the service would start serving.
    const auto msg = error_of({"--database-url=postgresql://x/y", "migrate"});
    EXPECT_THAT(msg, HasSubstr("'migrate'"));
    EXPECT_THAT(msg, HasSubstr("comes first"));
    EXPECT_THAT(error_of({"--writers=2", "serve"}), HasSubstr("'serve'"));
}

TEST(ParseListenAddress, HostAndPort) {
    EXPECT_EQ(parse_listen_address("127.0.0.1:8080"),
              std::make_pair(std::string("127.0.0.1"), std::uint16_t{8080}));
    EXPECT_EQ(parse_listen_address("localhost:0"),
              std::make_pair(std::string("localhost"), std::uint16_t{0}));
    EXPECT_EQ(parse_listen_address("0.0.0.0:65535"),
              std::make_pair(std::string("0.0.0.0"), std::uint16_t{65535}));
    EXPECT_EQ(parse_listen_address("svc.internal.example:443"),
              std::make_pair(std::string("svc.internal.example"), std::uint16_t{443}));
}

TEST(ParseListenAddress, BracketedIpv6) {
    EXPECT_EQ(parse_listen_address("[::1]:9000"),
              std::make_pair(std::string("::1"), std::uint16_t{9000}));
    EXPECT_EQ(parse_listen_address("[::]:80"),
              std::make_pair(std::string("::"), std::uint16_t{80}));
    EXPECT_EQ(parse_listen_address("[2001:db8::7:1]:0"),
              std::make_pair(std::string("2001:db8::7:1"), std::uint16_t{0}));
    EXPECT_EQ(parse_listen_address("[fe80::1%eth0]:8443"),
              std::make_pair(std::string("fe80::1%eth0"), std::uint16_t{8443}));
}

TEST(ParseListenAddress, RejectsMalformedText) {
    for (const char* bad :
         {"", "nohost", "8080", ":8080", "host:", "host:65536", "host:70000", "host:99999999999",
          "host:-0", "host:0x50", "[::1]8080", "[::1]", "[::1]:", "[::1", "[::1]:x"}) {
        SCOPED_TRACE(bad);
        EXPECT_THROW(parse_listen_address(bad), config_error);
    }
}

}  // namespace
}  // namespace switchboard::config
