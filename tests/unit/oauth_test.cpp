// The OAuth2 plan's token endpoint and tokens (ingest/oauth): RFC 6749's client-credentials grant
// with HTTP Basic, form and JSON client authentication, its error answers, and the tokens as
// the authenticator sees them (accepted, expired, forged, from a rotated secret). The signature
// is also checked with OpenSSL's one-shot HMAC and an independent key derivation, so that the
// token format replicas rely on cannot change unnoticed.
#include "switchboard/ingest/oauth.hpp"
#include "switchboard/ingest/auth.hpp"
#include "switchboard/metrics/registry.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstring>

#include <gmock/gmock.h>
#include "support/reference_base64.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::ingest {
namespace {

namespace json = boost::json;
using test::reference_base64;
using ::testing::HasSubstr;

constexpr const char* k_id = "vapi-webhooks";
constexpr const char* k_secret = "a client secret: +/%&= long enough";

config::oauth_config oauth_cfg(std::string secret = k_secret, std::string previous = {}) {
    config::oauth_config c;
    c.client_id = k_id;
    c.client_secret = std::move(secret);
    c.client_secret_previous = std::move(previous);
    c.token_ttl = std::chrono::seconds(3600);
    return c;
}

std::int64_t now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// --- independent references -------------------------------------------------------------------

std::string hmac_sha256(std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
    return {reinterpret_cast<const char*>(out), len};
}

std::string base64url(std::string_view bytes) {
    static constexpr char k[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    unsigned v = 0;
    int bits = 0;
    for (unsigned char c : bytes) {
        v = (v << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += k[(v >> bits) & 63];
        }
    }
    if (bits > 0) out += k[(v << (6 - bits)) & 63];
    return out;
}

std::string base64url_decode(std::string_view text) {
    std::string out;
    unsigned v = 0;
    int bits = 0;
    for (char c : text) {
        const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const char* p = std::strchr(k, c);
        if (p == nullptr || c == '\0') return {};
        v = (v << 6) | static_cast<unsigned>(p - k);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((v >> bits) & 0xFF);
        }
    }
    return out;
}

/// application/x-www-form-urlencoded, every byte but unreserved ones escaped.
std::string form_encode(std::string_view text) {
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else if (c == ' ') {
            out += '+';
        } else {
            out += '%';
            out += "0123456789ABCDEF"[c >> 4];
            out += "0123456789ABCDEF"[c & 15];
        }
    }
    return out;
}

/// The token's signing key as documented: HMAC-SHA256 of the label, a zero byte and the client
/// id under the client secret.
std::string derived_key(std::string_view secret, std::string_view id = k_id) {
    return hmac_sha256(
        secret, std::string("switchboard oauth2 access token key v1") + '\0' + std::string(id));
}

/// A token signed as switchboard signs them, with these claims.
std::string signed_token(const json::object& claims, std::string_view key) {
    const std::string input =
        base64url(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url(json::serialize(claims));
    return input + "." + base64url(hmac_sha256(key, input));
}

http::request token_request(std::string body,
                            std::string content_type = "application/x-www-form-urlencoded") {
    http::request req{http::verb::post, "/oauth/token", 11};
    if (!content_type.empty()) req.set(boost::beast::http::field::content_type, content_type);
    req.body() = std::move(body);
    req.prepare_payload();
    return req;
}

std::string form(std::string_view secret = k_secret,
                 std::string_view grant = "client_credentials") {
    return "grant_type=" + form_encode(grant) + "&client_id=" + form_encode(k_id) +
           "&client_secret=" + form_encode(secret);
}

json::object body_of(const http::response& res) {
    const json::value v = json::parse(res.body());
    return v.as_object();
}

std::string str(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string("<none>");
}

// --- the tokens -------------------------------------------------------------------------------

TEST(OAuthTokens, AnIssuedTokenIsSignedAsDocumentedAndAccepted) {
    const oauth_tokens tokens(oauth_cfg(), nullptr);
    const std::int64_t now = now_s();
    const std::string token = tokens.issue(now, "webhooks");
    ASSERT_EQ(std::count(token.begin(), token.end(), '.'), 2) << token;
    const auto dot1 = token.find('.');
    const auto dot2 = token.rfind('.');
    const json::object header = json::parse(base64url_decode(token.substr(0, dot1))).as_object();
    EXPECT_EQ(str(header, "alg"), "HS256");
    const json::object claims =
        json::parse(base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1))).as_object();
    EXPECT_EQ(str(claims, "iss"), "switchboard");
    EXPECT_EQ(str(claims, "aud"), "switchboard-webhooks");
    EXPECT_EQ(str(claims, "sub"), k_id);
    EXPECT_EQ(str(claims, "scope"), "webhooks");
    EXPECT_EQ(claims.at("iat").to_number<std::int64_t>(), now);
    EXPECT_EQ(claims.at("exp").to_number<std::int64_t>(), now + 3600);
    EXPECT_EQ(str(claims, "jti").size(), 32u);
    // The signature, recomputed with the independent key derivation and HMAC.
    EXPECT_EQ(token.substr(dot2 + 1),
              base64url(hmac_sha256(derived_key(k_secret), token.substr(0, dot2))));

    EXPECT_EQ(tokens.check("Bearer " + token), std::nullopt);
    EXPECT_EQ(tokens.check("bearer " + token), std::nullopt);
    EXPECT_NE(tokens.issue(now), tokens.issue(now)) << "jti makes every token distinct";
}

TEST(OAuthTokens, AnExpiredTokenIsRefusedAsExpiredAfterThirtySecondsOfGrace) {
    const oauth_tokens tokens(oauth_cfg(), nullptr);
    // Issued two lifetimes ago: its exp is an hour past.
    EXPECT_EQ(tokens.check("Bearer " + tokens.issue(now_s() - 7200)), access_token_error::expired);
    // exp 25 s ago: within the 30 s leeway for replicas' clocks; 35 s ago: past it.
    EXPECT_EQ(tokens.check("Bearer " + tokens.issue(now_s() - 3600 - 25)), std::nullopt);
    EXPECT_EQ(tokens.check("Bearer " + tokens.issue(now_s() - 3600 - 35)),
              access_token_error::expired);
}

TEST(OAuthTokens, ForgedOrForeignTokensAreInvalid) {
    const oauth_tokens tokens(oauth_cfg(), nullptr);
    const oauth_tokens other(oauth_cfg("another secret, also long enough"), nullptr);
    const std::string token = tokens.issue(now_s());
    EXPECT_EQ(tokens.check("Bearer " + other.issue(now_s())), access_token_error::invalid);
    EXPECT_EQ(other.check("Bearer " + token), access_token_error::invalid);

    // The claims changed, the signature kept.
    const auto dot1 = token.find('.');
    const auto dot2 = token.rfind('.');
    json::object claims =
        json::parse(base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1))).as_object();
    claims["exp"] = now_s() + 86400 * 365;
    const std::string longer =
        token.substr(0, dot1 + 1) + base64url(json::serialize(claims)) + token.substr(dot2);
    EXPECT_EQ(tokens.check("Bearer " + longer), access_token_error::invalid);

    // The reference signing is right: these claims with the right key pass.
    const std::string key = derived_key(k_secret);
    EXPECT_EQ(tokens.check("Bearer " + signed_token(claims, key)), std::nullopt);
    // The right key, the wrong audience or issuer (a token for something else).
    json::object changed = claims;
    changed["aud"] = "authenticated";
    EXPECT_EQ(tokens.check("Bearer " + signed_token(changed, key)), access_token_error::invalid);
    changed = claims;
    changed["iss"] = "https://project.supabase.co/auth/v1";
    EXPECT_EQ(tokens.check("Bearer " + signed_token(changed, key)), access_token_error::invalid);
    // Signed with the client secret itself rather than the derived key, or with the key of
    // another client id sharing the secret.
    EXPECT_EQ(tokens.check("Bearer " + signed_token(claims, k_secret)),
              access_token_error::invalid);
    EXPECT_EQ(tokens.check("Bearer " + signed_token(claims, derived_key(k_secret, "other-id"))),
              access_token_error::invalid);
    // alg none, garbage, another scheme, nothing.
    EXPECT_EQ(tokens.check("Bearer " + base64url(R"({"alg":"none"})") + "." +
                           base64url(json::serialize(claims)) + "."),
              access_token_error::invalid);
    EXPECT_EQ(tokens.check("Bearer not-a-token"), access_token_error::invalid);
    EXPECT_EQ(tokens.check("Basic " + token), access_token_error::invalid);
    EXPECT_EQ(tokens.check(token), access_token_error::invalid);
    EXPECT_EQ(tokens.check(""), access_token_error::invalid);
}

TEST(OAuthTokens, TokensOfThePreviousSecretAreAcceptedDuringARotation) {
    const std::string old_secret = "the old secret, long enough";
    const oauth_tokens before(oauth_cfg(old_secret), nullptr);
    const oauth_tokens during(oauth_cfg(k_secret, old_secret), nullptr);
    const oauth_tokens after(oauth_cfg(k_secret), nullptr);
    const std::string old_token = before.issue(now_s());
    EXPECT_EQ(during.check("Bearer " + old_token), std::nullopt);
    EXPECT_EQ(after.check("Bearer " + old_token), access_token_error::invalid);
    // During the rotation new tokens are signed with the new secret: the next replica accepts them.
    EXPECT_EQ(after.check("Bearer " + during.issue(now_s())), std::nullopt);
    // And the old secret may still ask for one.
    const auto res = during.token_request(token_request(form(old_secret)), now_s());
    EXPECT_EQ(res.result(), http::status::ok) << res.body();
}

// --- the token endpoint -----------------------------------------------------------------------

TEST(OAuthEndpoint, FormCredentialsGetABearerTokenThatIsNeverCached) {
    metrics::registry registry;
    const oauth_tokens tokens(oauth_cfg(), &registry);
    const auto res = tokens.token_request(token_request(form()), now_s());
    ASSERT_EQ(res.result(), http::status::ok) << res.body();
    EXPECT_EQ(res[boost::beast::http::field::content_type], "application/json");
    EXPECT_EQ(res[boost::beast::http::field::cache_control], "no-store");
    EXPECT_EQ(res[boost::beast::http::field::pragma], "no-cache");
    const json::object body = body_of(res);
    EXPECT_EQ(str(body, "token_type"), "Bearer");
    EXPECT_EQ(body.at("expires_in").to_number<std::int64_t>(), 3600);
    EXPECT_FALSE(body.contains("scope"));
    EXPECT_EQ(tokens.check("Bearer " + str(body, "access_token")), std::nullopt);
    EXPECT_THAT(registry.serialize(),
                HasSubstr(R"(switchboard_oauth_token_requests_total{outcome="issued"} 1)"));
}

TEST(OAuthEndpoint, BasicCredentialsAreFormDecoded) {
    const oauth_tokens tokens(oauth_cfg(), nullptr);
    // RFC 6749 §2.3.1: the id and the secret are form-encoded before base64 (the secret has
    // ':', '+', '%', '&' and spaces).
    auto req = token_request("grant_type=client_credentials&scope=calls+read");
    req.set(boost::beast::http::field::authorization,
            "Basic " + reference_base64(form_encode(k_id) + ":" + form_encode(k_secret)));
    const auto res = tokens.token_request(req, now_s());
    ASSERT_EQ(res.result(), http::status::ok) << res.body();
    const json::object body = body_of(res);
    EXPECT_EQ(str(body, "scope"), "calls read");
    EXPECT_EQ(tokens.check("Bearer " + str(body, "access_token")), std::nullopt);

    // Many clients send the credentials as they are, not form-encoded: accepted too.
    auto raw = token_request("grant_type=client_credentials");
    raw.set(boost::beast::http::field::authorization,
            "Basic " + reference_base64(std::string(k_id) + ":" + k_secret));
    EXPECT_EQ(tokens.token_request(raw, now_s()).result(), http::status::ok);

    // A wrong secret by Basic: 401, and the scheme to use.
    auto wrong = token_request("grant_type=client_credentials");
    wrong.set(boost::beast::http::field::authorization,
              "Basic " +
                  reference_base64(std::string(k_id) + ":" + "a client secret: +/%&= long enougH"));
    const auto refused = tokens.token_request(wrong, now_s());
    EXPECT_EQ(refused.result(), http::status::unauthorized) << refused.body();
    EXPECT_EQ(str(body_of(refused), "error"), "invalid_client");
    EXPECT_EQ(refused[boost::beast::http::field::www_authenticate], R"(Basic realm="switchboard")");
}

TEST(OAuthEndpoint, AJsonBodyIsAcceptedToo) {
    const oauth_tokens tokens(oauth_cfg(), nullptr);
    json::object req_body{{"grant_type", "client_credentials"},
                          {"client_id", k_id},
                          {"client_secret", k_secret},
                          {"scope", "webhooks"}};
    const auto res = tokens.token_request(
        token_request(json::serialize(req_body), "application/json; charset=utf-8"), now_s());
    ASSERT_EQ(res.result(), http::status::ok) << res.body();
    EXPECT_EQ(str(body_of(res), "scope"), "webhooks");

    req_body["client_secret"] = 42;
    const auto bad =
        tokens.token_request(token_request(json::serialize(req_body), "application/json"), now_s());
    EXPECT_EQ(bad.result(), http::status::bad_request);
    EXPECT_THAT(str(body_of(bad), "error_description"), HasSubstr("client_secret"));
}

TEST(OAuthEndpoint, WrongClientsAndGrantsGetRfc6749Errors) {
    metrics::registry registry;
    const oauth_tokens tokens(oauth_cfg(), &registry);
    const auto now = now_s();
    const auto error_of = [&](const http::response& res) { return str(body_of(res), "error"); };

    const auto wrong_secret =
        tokens.token_request(token_request(form("not the secret at all")), now);
    EXPECT_EQ(wrong_secret.result(), http::status::unauthorized);
    EXPECT_EQ(error_of(wrong_secret), "invalid_client");
    EXPECT_EQ(wrong_secret[boost::beast::http::field::cache_control], "no-store");
    EXPECT_THAT(wrong_secret.body(), ::testing::Not(HasSubstr("access_token")));

    const auto wrong_id = tokens.token_request(
        token_request("grant_type=client_credentials&client_id=someone&client_secret=" +
                      form_encode(k_secret)),
        now);
    EXPECT_EQ(wrong_id.result(), http::status::unauthorized);
    EXPECT_EQ(error_of(wrong_id), "invalid_client");

    const auto no_client =
        tokens.token_request(token_request("grant_type=client_credentials"), now);
    EXPECT_EQ(no_client.result(), http::status::unauthorized);
    EXPECT_EQ(error_of(no_client), "invalid_client");

    const auto password = tokens.token_request(token_request(form(k_secret, "password")), now);
    EXPECT_EQ(password.result(), http::status::bad_request);
    EXPECT_EQ(error_of(password), "unsupported_grant_type");
    // An unknown client learns nothing of the grant types: its answer is invalid_client.
    EXPECT_EQ(
        error_of(tokens.token_request(token_request(form("wrong secret!!!!", "password")), now)),
        "invalid_client");

    const auto no_grant = tokens.token_request(
        token_request("client_id=" + form_encode(k_id) + "&client_secret=" + form_encode(k_secret)),
        now);
    EXPECT_EQ(no_grant.result(), http::status::bad_request);
    EXPECT_EQ(error_of(no_grant), "invalid_request");

    const std::string serialized = registry.serialize();
    EXPECT_THAT(serialized,
                HasSubstr(R"(switchboard_oauth_token_requests_total{outcome="invalid_client"} 4)"));
    EXPECT_THAT(
        serialized,
        HasSubstr(R"(switchboard_oauth_token_requests_total{outcome="unsupported_grant_type"} 1)"));
    EXPECT_THAT(
        serialized,
        HasSubstr(R"(switchboard_oauth_token_requests_total{outcome="invalid_request"} 1)"));
    EXPECT_THAT(serialized,
                HasSubstr(R"(switchboard_oauth_token_requests_total{outcome="issued"} 0)"));
}

TEST(OAuthEndpoint, MalformedRequestsAreInvalidRequests) {
    const oauth_tokens tokens(oauth_cfg(), nullptr);
    const auto now = now_s();
    const auto expect_invalid = [&](const http::request& req, std::string_view detail) {
        const auto res = tokens.token_request(req, now);
        EXPECT_EQ(res.result(), http::status::bad_request) << res.body();
        const json::object body = body_of(res);
        EXPECT_EQ(str(body, "error"), "invalid_request");
        EXPECT_THAT(str(body, "error_description"), HasSubstr(detail));
    };
    expect_invalid(token_request(form() + "&client_id=x"), "repeated");
    expect_invalid(token_request("grant_type=&client_id=" + form_encode(k_id) +
                                 "&client_secret=" + form_encode(k_secret)),
                   "grant_type is missing");
    expect_invalid(token_request("grant_type=client_credentials&client_id=%zz"), "% escape");
    expect_invalid(token_request(form(), "text/plain"), "application/x-www-form-urlencoded");
    expect_invalid(token_request("[1,2]", "application/json"), "JSON object");
    expect_invalid(token_request(form() + "&pad=" + std::string(20000, 'a')), "larger");
    const std::string basic =
        "Basic " + reference_base64(form_encode(k_id) + ":" + form_encode(k_secret));
    auto twice = token_request(form());
    twice.set(boost::beast::http::field::authorization, basic);
    expect_invalid(twice, "twice");
    // Beside Basic, empty body credentials are as if omitted, and the same client_id is fine.
    auto empty_fields = token_request(
        "grant_type=client_credentials&client_id=" + form_encode(k_id) + "&client_secret=&scope=");
    empty_fields.set(boost::beast::http::field::authorization, basic);
    const auto accepted = tokens.token_request(empty_fields, now);
    EXPECT_EQ(accepted.result(), http::status::ok) << accepted.body();
    EXPECT_FALSE(body_of(accepted).contains("scope"));
    // An unusable Authorization header is a failed client authentication (§5.2).
    const auto expect_invalid_client = [&](std::string authorization, std::string_view detail) {
        auto req = token_request("grant_type=client_credentials");
        req.set(boost::beast::http::field::authorization, authorization);
        const auto res = tokens.token_request(req, now);
        EXPECT_EQ(res.result(), http::status::unauthorized) << res.body();
        EXPECT_EQ(str(body_of(res), "error"), "invalid_client");
        EXPECT_THAT(str(body_of(res), "error_description"), HasSubstr(detail));
        EXPECT_EQ(res[boost::beast::http::field::www_authenticate], R"(Basic realm="switchboard")");
    };
    expect_invalid_client("Bearer abc", "HTTP Basic");
    expect_invalid_client("Basic !!!", "base64");
    expect_invalid_client("Basic " + reference_base64("idsecret"), "':'");
    // Unknown parameters are ignored (RFC 6749 §3.2), a missing content type reads as a form.
    EXPECT_EQ(tokens.token_request(token_request(form() + "&audience=x", ""), now).result(),
              http::status::ok);
}

TEST(OAuthEndpoint, ScopesMustBeRfc6749ScopesOfReasonableSize) {
    metrics::registry registry;
    const oauth_tokens tokens(oauth_cfg(), &registry);
    const auto with_scope = [&](std::string_view scope) {
        return tokens.token_request(token_request(form() + "&scope=" + form_encode(scope)),
                                    now_s());
    };
    EXPECT_EQ(with_scope("webhooks calls:read").result(), http::status::ok);
    for (const std::string& bad : {std::string(1025, 'a'), std::string("a  b"), std::string(" a"),
                                   std::string("a\"b"), std::string("caf\xc3\xa9")}) {
        const auto res = with_scope(bad);
        EXPECT_EQ(res.result(), http::status::bad_request) << bad;
        EXPECT_EQ(str(body_of(res), "error"), "invalid_scope") << bad;
    }
    // The longest scope accepted still makes a token that fits in a header and is accepted.
    const auto longest = with_scope(std::string(1024, 's'));
    ASSERT_EQ(longest.result(), http::status::ok);
    const std::string token = str(body_of(longest), "access_token");
    EXPECT_LT(token.size(), 4096u);
    EXPECT_EQ(tokens.check("Bearer " + token), std::nullopt);
    EXPECT_THAT(registry.serialize(),
                HasSubstr(R"(switchboard_oauth_token_requests_total{outcome="invalid_scope"} 5)"));
}

TEST(OAuthTokens, IssuedAndCheckedFromManyThreadsAtOnce) {
    const oauth_tokens tokens(oauth_cfg(), nullptr);
    std::atomic<int> accepted{0}, refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 200; ++i) {
                const std::string token = tokens.issue(now_s());
                (tokens.check("Bearer " + token) ? refused : accepted)++;
                (tokens.check("Bearer " + token + "x") ? refused : accepted)++;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(accepted.load(), 800);
    EXPECT_EQ(refused.load(), 800);
}

// --- the authenticator with the OAuth2 plan ---------------------------------------------------

http::request webhook_with(std::string_view authorization) {
    http::request req{http::verb::post, "/webhooks/vapi", 11};
    if (!authorization.empty()) req.set(boost::beast::http::field::authorization, authorization);
    req.body() = R"({"message":{"type":"hang"}})";
    req.prepare_payload();
    return req;
}

TEST(OAuthAuthenticator, AcceptsItsTokensAndSaysWhyOthersFail) {
    config::auth_config cfg;
    cfg.oauth = oauth_cfg();
    const authenticator auth(cfg);
    ASSERT_TRUE(auth.enabled());
    ASSERT_NE(auth.oauth(), nullptr);
    const std::int64_t now_ms = now_s() * 1000;
    const std::string token = auth.oauth()->issue(now_s());
    EXPECT_EQ(auth.check(webhook_with("Bearer " + token), now_ms), std::nullopt);
    EXPECT_EQ(auth.check_header(webhook_with("Bearer " + token), now_ms), std::nullopt);
    EXPECT_EQ(auth.check(webhook_with(""), now_ms), auth_failure::missing_credentials);
    EXPECT_EQ(auth.check(webhook_with("Bearer nope"), now_ms), auth_failure::invalid_access_token);
    EXPECT_EQ(auth.check_header(webhook_with("Bearer nope"), now_ms),
              auth_failure::invalid_access_token);
    EXPECT_EQ(auth.check(webhook_with("Bearer " + auth.oauth()->issue(now_s() - 7200)), now_ms),
              auth_failure::expired_access_token);

    // Beside a static bearer token: either passes; a value matching neither keeps wrong_token.
    cfg.bearer_token = "static-token";
    const authenticator both(cfg);
    EXPECT_EQ(both.check(webhook_with("Bearer static-token"), now_ms), std::nullopt);
    EXPECT_EQ(both.check(webhook_with("Bearer " + both.oauth()->issue(now_s())), now_ms),
              std::nullopt);
    EXPECT_EQ(both.check(webhook_with("Bearer nope"), now_ms), auth_failure::wrong_token);
    // A wrong shared secret keeps its reason beside a token that is not one.
    config::auth_config with_secret;
    with_secret.oauth = oauth_cfg();
    with_secret.secret = "shared-secret";
    const authenticator secret_too(with_secret);
    auto req = webhook_with("Bearer nope");
    req.set("X-Vapi-Secret", "not-it");
    EXPECT_EQ(secret_too.check(req, now_ms), auth_failure::wrong_secret);

    // Without the plan the token means nothing.
    config::auth_config none;
    none.bearer_token = "static-token";
    const authenticator without(none);
    EXPECT_EQ(without.oauth(), nullptr);
    EXPECT_EQ(without.check(webhook_with("Bearer " + token), now_ms), auth_failure::wrong_token);
}

}  // namespace
}  // namespace switchboard::ingest
