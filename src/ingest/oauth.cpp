#include "switchboard/ingest/oauth.hpp"

#include "switchboard/http/response.hpp"
#include "switchboard/ingest/hmac.hpp"
#include "switchboard/manage/jwt.hpp"
#include "switchboard/metrics/registry.hpp"

#include <cjose/cjose.h>
#include <openssl/rand.h>
#include <boost/beast/core/string.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/encoding_opts.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/pct_string_view.hpp>

#include <algorithm>
#include <array>
#include <vector>

namespace switchboard::ingest {
namespace {

namespace json = boost::json;
namespace urls = boost::urls;

/// The longest scope a token carries (RFC 6749 sets none; a token must fit in a header).
constexpr std::size_t k_max_scope_bytes = 1024;

enum class token_outcome : std::size_t {
    issued,
    invalid_client,
    invalid_request,
    invalid_scope,
    unsupported_grant_type,
    server_error,
    count
};
constexpr std::array<const char*, static_cast<std::size_t>(token_outcome::count)> k_outcomes = {
    "issued",        "invalid_client",         "invalid_request",
    "invalid_scope", "unsupported_grant_type", "server_error"};

/// The signing key of the tokens: HMAC-SHA256 of a fixed label and the client id under the
/// client secret. The secret itself never signs anything a client can see, every replica derives
/// the same key, and a token is bound to its client id as well as to the secret.
std::string signing_key(const std::string& client_secret, const std::string& client_id) {
    const hmac mac(config::hmac_algorithm::sha256, client_secret);
    const std::array<std::string_view, 3> label = {"switchboard oauth2 access token key v1",
                                                   std::string_view("\0", 1), client_id};
    hmac::digest d{};
    const std::size_t n = mac.compute(label, d);
    if (n == 0) throw config::config_error("cannot derive the OAuth2 token key (OpenSSL)");
    return {reinterpret_cast<const char*>(d.data()), n};
}

struct jwk_deleter {
    void operator()(cjose_jwk_t* k) const { cjose_jwk_release(k); }
};
struct header_deleter {
    void operator()(cjose_header_t* h) const { cjose_header_release(h); }
};
struct jws_deleter {
    void operator()(cjose_jws_t* j) const { cjose_jws_release(j); }
};

/// Form decoding (application/x-www-form-urlencoded: percent escapes, `+` as a space).
std::optional<std::string> form_decode(std::string_view text) {
    auto pct = urls::make_pct_string_view(text);
    if (!pct) return std::nullopt;
    urls::encoding_opts opt;
    opt.space_as_plus = true;
    return pct->decode(opt);
}

/// The parameters of a token request, from its body and its Basic credentials.
struct token_params {
    std::optional<std::string> grant_type, client_id, client_secret, scope;
    bool basic = false;  ///< the client authenticated with HTTP Basic
    /// Basic credentials as sent, for the clients that do not form-encode them (many do not).
    std::string raw_id, raw_secret;
};

/// Fills `p` from the body by its media type; an error description when it cannot be read.
std::optional<std::string> read_body(const http::request& req, token_params& p) {
    const std::string_view body = req.body();
    std::string_view type = req[boost::beast::http::field::content_type];
    type = type.substr(0, type.find(';'));
    while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
    const auto set = [&p](std::string_view key, std::string value) -> std::optional<std::string> {
        std::optional<std::string>* field = key == "grant_type"      ? &p.grant_type
                                            : key == "client_id"     ? &p.client_id
                                            : key == "client_secret" ? &p.client_secret
                                            : key == "scope"         ? &p.scope
                                                                     : nullptr;
        // Other parameters are ignored, and one without a value is as if omitted (§3.2).
        if (field == nullptr || value.empty()) return std::nullopt;
        if (field->has_value()) return "the parameter " + std::string(key) + " is repeated";
        *field = std::move(value);
        return std::nullopt;
    };
    if (boost::beast::iequals(type, "application/json")) {
        boost::system::error_code ec;
        const json::value doc = json::parse(body, ec);
        if (ec || !doc.is_object()) return std::string("the body is not a JSON object");
        for (const auto& [key, value] : doc.get_object()) {
            if (!value.is_string()) {
                if (key == "grant_type" || key == "client_id" || key == "client_secret" ||
                    key == "scope") {
                    return "the parameter " + std::string(key) + " is not a string";
                }
                continue;
            }
            if (auto error = set(key, std::string(value.get_string()))) return error;
        }
        return std::nullopt;
    }
    if (!type.empty() && !boost::beast::iequals(type, "application/x-www-form-urlencoded")) {
        return "the body must be application/x-www-form-urlencoded (or application/json), not " +
               std::string(type);
    }
    // The form's pairs, decoded by Boost.URL (its query grammar is the form's).
    const auto pairs = urls::parse_query(body);
    if (!pairs) return std::string("the body is not a valid form (a bad % escape)");
    urls::encoding_opts opt;
    opt.space_as_plus = true;
    // (From the text again: Boost 1.81's library lacks the constructor from `*pairs`.)
    for (const urls::param& pair : urls::params_view(body, opt)) {
        if (pair.key.empty() && !pair.has_value) continue;  // "a=1&&b=2"
        if (auto error = set(pair.key, pair.value)) return error;
    }
    return std::nullopt;
}

/// HTTP Basic client authentication (RFC 6749 §2.3.1: the id and the secret form-encoded, then
/// base64); an error description when the header is there but unreadable.
std::optional<std::string> read_basic(const http::request& req, token_params& p) {
    const std::string_view value = req[boost::beast::http::field::authorization];
    if (value.empty()) return std::nullopt;
    if (value.size() < 6 || !boost::beast::iequals(value.substr(0, 6), "Basic ")) {
        return std::string("the client must authenticate with HTTP Basic or the body");
    }
    std::string_view encoded = value.substr(6);
    while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
    const auto decoded = decode_base64(encoded);
    if (!decoded) return std::string("the Basic credentials are not base64");
    const auto colon = decoded->find(':');
    if (colon == std::string::npos) return std::string("the Basic credentials have no ':'");
    p.raw_id = decoded->substr(0, colon);
    p.raw_secret = decoded->substr(colon + 1);
    // Form-decoded as §2.3.1 says; what does not decode is taken as it came.
    p.client_id = form_decode(p.raw_id).value_or(p.raw_id);
    p.client_secret = form_decode(p.raw_secret).value_or(p.raw_secret);
    p.basic = true;
    return std::nullopt;
}

http::response token_error(http::status code, std::string_view error, std::string_view description,
                           unsigned version, bool basic) {
    json::object body{{"error", error}, {"error_description", description}};
    auto res = http::json_response(code, json::serialize(body), version);
    res.set(boost::beast::http::field::cache_control, "no-store");
    res.set(boost::beast::http::field::pragma, "no-cache");
    // §5.2: a client that tried Basic is told which scheme to use.
    if (code == http::status::unauthorized && basic) {
        res.set(boost::beast::http::field::www_authenticate, R"(Basic realm="switchboard")");
    }
    return res;
}

std::string random_hex(std::size_t bytes) {
    std::array<unsigned char, 32> buf{};
    if (bytes > buf.size() || RAND_bytes(buf.data(), static_cast<int>(bytes)) != 1) return {};
    return encode_hex({reinterpret_cast<const char*>(buf.data()), bytes});
}

/// RFC 6749 §3.3: scope tokens of printable ASCII but `"` and backslash, separated by single
/// spaces.
bool valid_scope(std::string_view scope) {
    if (scope.size() > k_max_scope_bytes || scope.front() == ' ' || scope.back() == ' ' ||
        scope.find("  ") != std::string_view::npos) {
        return false;
    }
    return std::all_of(scope.begin(), scope.end(), [](char c) {
        return c == ' ' || (c >= 0x21 && c <= 0x7E && c != '"' && c != '\\');
    });
}

}  // namespace

struct oauth_tokens::impl {
    config::oauth_config cfg;
    std::unique_ptr<cjose_jwk_t, jwk_deleter> jwk;  ///< the current secret's signing key
    /// One verifier per accepted secret (the current, then the previous).
    std::vector<std::unique_ptr<manage::token_verifier>> verifiers;
    std::array<prometheus::Counter*, static_cast<std::size_t>(token_outcome::count)> outcomes{};

    void count(token_outcome o) const {
        if (auto* c = outcomes[static_cast<std::size_t>(o)]) c->Increment();
    }
};

oauth_tokens::oauth_tokens(const config::oauth_config& cfg, metrics::registry* registry)
    : impl_(std::make_unique<impl>()) {
    impl_->cfg = cfg;
    if (!cfg.enabled() || cfg.client_secret.empty()) {
        throw config::config_error("the OAuth2 plan needs a client id and a client secret");
    }
    const std::string key = signing_key(cfg.client_secret, cfg.client_id);
    cjose_err err{};
    impl_->jwk.reset(cjose_jwk_create_oct_spec(reinterpret_cast<const std::uint8_t*>(key.data()),
                                               key.size(), &err));
    if (!impl_->jwk) throw config::config_error("cannot make the OAuth2 token key (cjose)");
    for (const std::string* secret : {&cfg.client_secret, &cfg.client_secret_previous}) {
        if (secret->empty()) continue;
        manage::jwt_config jc;
        jc.hs256_secret = signing_key(*secret, cfg.client_id);
        jc.audience = std::string(audience);
        jc.issuer = std::string(issuer);
        impl_->verifiers.push_back(
            std::make_unique<manage::token_verifier>(std::move(jc), nullptr));
    }
    if (registry != nullptr) {
        auto& family = prometheus::BuildCounter()
                           .Name("switchboard_oauth_token_requests_total")
                           .Help("Requests to the OAuth2 token endpoint, by outcome")
                           .Register(registry->prom());
        for (std::size_t o = 0; o < k_outcomes.size(); ++o) {
            impl_->outcomes[o] = &family.Add({{"outcome", k_outcomes[o]}});
        }
    }
}

oauth_tokens::~oauth_tokens() = default;

std::string oauth_tokens::issue(std::int64_t now_unix_s, std::string_view scope) const {
    json::object claims{{"iss", issuer},
                        {"aud", audience},
                        {"sub", impl_->cfg.client_id},
                        {"iat", now_unix_s},
                        {"exp", now_unix_s + impl_->cfg.token_ttl.count()},
                        {"jti", random_hex(16)}};
    if (claims["jti"].get_string().empty()) return {};  // no randomness: no token
    if (!scope.empty()) claims["scope"] = scope;
    const std::string payload = json::serialize(claims);

    cjose_err err{};
    const std::unique_ptr<cjose_header_t, header_deleter> header(cjose_header_new(&err));
    if (!header || !cjose_header_set(header.get(), CJOSE_HDR_ALG, CJOSE_HDR_ALG_HS256, &err) ||
        !cjose_header_set(header.get(), "typ", "JWT", &err)) {
        return {};
    }
    const std::unique_ptr<cjose_jws_t, jws_deleter> jws(cjose_jws_sign(
        impl_->jwk.get(), header.get(), reinterpret_cast<const std::uint8_t*>(payload.data()),
        payload.size(), &err));
    const char* compact = nullptr;
    if (!jws || !cjose_jws_export(jws.get(), &compact, &err) || compact == nullptr) return {};
    return compact;
}

std::optional<access_token_error> oauth_tokens::check(std::string_view authorization) const {
    bool expired = false;
    for (const auto& verifier : impl_->verifiers) {
        const auto error = verifier->check_now(authorization);
        if (!error) return std::nullopt;
        expired = expired || *error == manage::token_error::expired;
    }
    return expired ? access_token_error::expired : access_token_error::invalid;
}

http::response oauth_tokens::token_request(const http::request& req,
                                           std::int64_t now_unix_s) const {
    const unsigned version = req.version();
    token_params p;
    const auto invalid_request = [&](std::string_view description) {
        impl_->count(token_outcome::invalid_request);
        return token_error(http::status::bad_request, "invalid_request", description, version,
                           p.basic);
    };
    if (req.body().size() > max_request_bytes) {
        return invalid_request("the request body is larger than a token request can be");
    }
    if (auto error = read_basic(req, p)) {
        // §5.2: a client authentication that failed (here: an unusable one) is invalid_client.
        impl_->count(token_outcome::invalid_client);
        return token_error(http::status::unauthorized, "invalid_client", *error, version, true);
    }
    const bool basic = p.basic;
    token_params body;
    if (auto error = read_body(req, body)) return invalid_request(*error);
    // §2.3: one way of authenticating the client per request (a client_id beside Basic may
    // repeat the Basic one, decoded or as sent).
    if (basic && (body.client_id || body.client_secret)) {
        if (body.client_secret ||
            (*body.client_id != *p.client_id && *body.client_id != p.raw_id)) {
            return invalid_request("the client is authenticated twice (Basic and the body)");
        }
    }
    if (!basic) {
        p.client_id = std::move(body.client_id);
        p.client_secret = std::move(body.client_secret);
    }
    p.grant_type = std::move(body.grant_type);
    p.scope = std::move(body.scope);

    if (!p.grant_type) return invalid_request("grant_type is missing");
    if (!p.client_id || !p.client_secret) {
        impl_->count(token_outcome::invalid_client);
        return token_error(http::status::unauthorized, "invalid_client",
                           "client_id and client_secret are required (HTTP Basic or the body)",
                           version, true);
    }
    // The client is checked before the grant type, so that an unknown client learns nothing.
    const auto& cfg = impl_->cfg;
    const auto matches = [&p](const std::string& decoded, const std::string& raw,
                              const std::string& expected) {
        const bool as_decoded = secret_matches(decoded, expected);
        const bool as_sent = p.basic && secret_matches(raw, expected);
        return as_decoded || as_sent;
    };
    const bool id_ok = matches(*p.client_id, p.raw_id, cfg.client_id);
    const bool secret_ok = matches(*p.client_secret, p.raw_secret, cfg.client_secret) ||
                           matches(*p.client_secret, p.raw_secret, cfg.client_secret_previous);
    if (!id_ok || !secret_ok) {
        impl_->count(token_outcome::invalid_client);
        return token_error(http::status::unauthorized, "invalid_client",
                           "unknown client or wrong secret", version, p.basic);
    }
    if (*p.grant_type != "client_credentials") {
        impl_->count(token_outcome::unsupported_grant_type);
        return token_error(http::status::bad_request, "unsupported_grant_type",
                           "only client_credentials is supported", version, p.basic);
    }

    const std::string scope = p.scope.value_or("");
    if (!scope.empty() && !valid_scope(scope)) {
        impl_->count(token_outcome::invalid_scope);
        return token_error(http::status::bad_request, "invalid_scope",
                           "a scope is space-separated printable ASCII (no \" or \\), " +
                               std::to_string(k_max_scope_bytes) + " bytes at most",
                           version, p.basic);
    }
    std::string token = issue(now_unix_s, scope);
    if (token.empty()) {
        impl_->count(token_outcome::server_error);
        return token_error(http::status::internal_server_error, "server_error",
                           "the token could not be signed", version, p.basic);
    }
    json::object body_out{{"access_token", std::move(token)},
                          {"token_type", "Bearer"},
                          {"expires_in", cfg.token_ttl.count()}};
    if (!scope.empty()) body_out["scope"] = scope;
    impl_->count(token_outcome::issued);
    auto res = http::json_response(http::status::ok, json::serialize(body_out), version);
    res.set(boost::beast::http::field::cache_control, "no-store");
    res.set(boost::beast::http::field::pragma, "no-cache");
    return res;
}

}  // namespace switchboard::ingest
