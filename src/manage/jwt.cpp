#include "switchboard/manage/jwt.hpp"

#include "switchboard/base/log.hpp"
#include "switchboard/http/client.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cjose/cjose.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <limits>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

namespace switchboard::manage {

std::string_view to_string(token_error e) noexcept {
    switch (e) {
        case token_error::missing:
            return "missing bearer token";
        case token_error::malformed:
            return "malformed token";
        case token_error::unsupported_algorithm:
            return "unsupported algorithm";
        case token_error::unknown_key:
            return "unknown signing key";
        case token_error::bad_signature:
            return "bad signature";
        case token_error::expired:
            return "token expired";
        case token_error::not_yet_valid:
            return "token not yet valid";
        case token_error::wrong_audience:
            return "wrong audience";
        case token_error::wrong_issuer:
            return "wrong issuer";
        case token_error::no_subject:
            return "token has no subject";
        case token_error::keys_unavailable:
            return "signing keys unavailable";
    }
    return "invalid token";
}

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using steady = std::chrono::steady_clock;
using verify_result = boost::system::result<identity, token_error>;

constexpr std::size_t max_token_bytes = std::size_t{16} * 1024;
constexpr auto jwks_fetch_timeout = std::chrono::seconds(10);

/// The only algorithms accepted; each key verifies exactly one of them.
enum class algorithm { hs256, rs256, es256 };

std::optional<algorithm> algorithm_named(std::string_view name) {
    if (name == "HS256") return algorithm::hs256;
    if (name == "RS256") return algorithm::rs256;
    if (name == "ES256") return algorithm::es256;
    return std::nullopt;
}

std::string_view algorithm_name(algorithm alg) {
    switch (alg) {
        case algorithm::hs256:
            return "HS256";
        case algorithm::rs256:
            return "RS256";
        case algorithm::es256:
            return "ES256";
    }
    return "?";
}

struct jwk_release {
    void operator()(cjose_jwk_t* jwk) const noexcept { cjose_jwk_release(jwk); }
};
using jwk_ptr = std::unique_ptr<cjose_jwk_t, jwk_release>;

struct jws_release {
    void operator()(cjose_jws_t* jws) const noexcept { cjose_jws_release(jws); }
};
using jws_ptr = std::unique_ptr<cjose_jws_t, jws_release>;

/// A verification key bound to its one algorithm. Immutable once built, so shared read-only
/// between threads (cjose_jws_verify takes the key as const; OpenSSL public-key operations on a
/// shared key are thread-safe).
struct key {
    std::string kid;  ///< empty when the JWK has none (and for the configured HS256 secret)
    algorithm alg;
    jwk_ptr jwk;
};
using key_list = std::vector<key>;

// --- base64url (RFC 4648 §5, no padding, canonical) ---------------------------------------------

int base64url_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

/// Strict: padding, other alphabets and non-zero trailing bits are refused, so one signature has
/// one spelling.
std::optional<std::string> base64url_decode(std::string_view in) {
    if (in.size() % 4 == 1) return std::nullopt;
    std::string out;
    out.reserve(in.size() / 4 * 3 + 2);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        const int v = base64url_value(c);
        if (v < 0) return std::nullopt;
        acc = ((acc << 6) | static_cast<std::uint32_t>(v)) & 0xFFFFFFu;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xFFu));
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1u)) != 0) return std::nullopt;
    return out;
}

// --- JWKS ---------------------------------------------------------------------------------------

std::string_view string_member(const json::object& obj, std::string_view name) {
    const json::value* v = obj.if_contains(name);
    if (v == nullptr || !v->is_string()) return {};
    return v->get_string();
}

/// The algorithm a JWK verifies, or nullopt when it is not usable for RS256/ES256/HS256
/// signatures (encryption keys, other curves, an `alg` of its own that disagrees).
std::optional<algorithm> jwk_algorithm(const json::object& jwk) {
    if (const json::value* use = jwk.if_contains("use")) {
        if (!use->is_string() || use->get_string() != "sig") return std::nullopt;
    }
    const std::string_view kty = string_member(jwk, "kty");
    std::optional<algorithm> alg;
    if (kty == "RSA") {
        alg = algorithm::rs256;
    } else if (kty == "EC") {
        if (string_member(jwk, "crv") != "P-256") return std::nullopt;
        alg = algorithm::es256;
    } else if (kty == "oct") {
        alg = algorithm::hs256;
    } else {
        return std::nullopt;
    }
    if (const json::value* own = jwk.if_contains("alg")) {
        if (!own->is_string() || algorithm_named(own->get_string()) != alg) return std::nullopt;
    }
    return alg;
}

/// Parses a JWK Set. Keys that cannot verify one of our algorithms are skipped (logged); a
/// document that is not a JWK Set is an error.
std::optional<key_list> parse_jwks(std::string_view text, std::string& why) {
    boost::system::error_code ec;
    json::value doc = json::parse(text, ec);
    if (ec) {
        why = "not JSON: " + ec.message();
        return std::nullopt;
    }
    const json::object* root = doc.if_object();
    const json::value* keys = root != nullptr ? root->if_contains("keys") : nullptr;
    if (keys == nullptr || !keys->is_array()) {
        why = "not a JWK Set (no \"keys\" array)";
        return std::nullopt;
    }
    key_list out;
    for (const json::value& entry : keys->get_array()) {
        const json::object* jwk = entry.if_object();
        if (jwk == nullptr) continue;
        const std::optional<algorithm> alg = jwk_algorithm(*jwk);
        const std::string kid(string_member(*jwk, "kid"));
        if (!alg) {
            log::debug("msg=\"jwks: key skipped (not a RS256/ES256/HS256 signing key)\" kid={}",
                       kid);
            continue;
        }
        const std::string serialized = json::serialize(*jwk);
        cjose_err err{};
        jwk_ptr imported(cjose_jwk_import(serialized.data(), serialized.size(), &err));
        if (!imported) {
            log::warn("msg=\"jwks: key skipped (invalid)\" kid={} reason=\"{}\"", kid,
                      err.message != nullptr ? err.message : "?");
            continue;
        }
        out.push_back(key{kid, *alg, std::move(imported)});
    }
    return out;
}

key_list load_jwks_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("SUPABASE_JWKS_FILE: cannot read " + path);
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw std::runtime_error("SUPABASE_JWKS_FILE: cannot read " + path);
    std::string why;
    std::optional<key_list> keys = parse_jwks(text.str(), why);
    if (!keys) throw std::runtime_error("SUPABASE_JWKS_FILE " + path + ": " + why);
    if (keys->empty()) {
        throw std::runtime_error("SUPABASE_JWKS_FILE " + path +
                                 ": no usable RS256, ES256 or HS256 signing key");
    }
    return std::move(*keys);
}

// --- the token ----------------------------------------------------------------------------------

/// "Bearer <token>": the scheme is case-insensitive (RFC 7235), the token one word.
std::optional<std::string_view> bearer_token(std::string_view header) {
    constexpr std::string_view ws = " \t";
    const auto first = header.find_first_not_of(ws);
    if (first == std::string_view::npos) return std::nullopt;
    header.remove_prefix(first);
    header.remove_suffix(header.size() - header.find_last_not_of(ws) - 1);
    constexpr std::string_view scheme = "bearer";
    if (header.size() <= scheme.size()) return std::nullopt;
    for (std::size_t i = 0; i < scheme.size(); ++i) {
        const char c = header[i];
        if (static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c) != scheme[i]) {
            return std::nullopt;
        }
    }
    std::string_view rest = header.substr(scheme.size());
    if (ws.find(rest.front()) == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(rest.find_first_not_of(ws));
    if (rest.find_first_of(ws) != std::string_view::npos) return std::nullopt;
    return rest;
}

/// What the verifier needs from the JOSE header, read before any key is chosen.
struct token_header {
    algorithm alg;
    std::string kid;
    std::size_t signature_size = 0;  ///< decoded
};

boost::system::result<token_header, token_error> parse_header(std::string_view compact) {
    if (std::count(compact.begin(), compact.end(), '.') != 2) return token_error::malformed;
    const auto dot1 = compact.find('.');
    const auto dot2 = compact.find('.', dot1 + 1);
    const std::string_view header_b64 = compact.substr(0, dot1);
    const std::string_view payload_b64 = compact.substr(dot1 + 1, dot2 - dot1 - 1);
    const std::string_view signature_b64 = compact.substr(dot2 + 1);
    if (header_b64.empty() || payload_b64.empty()) return token_error::malformed;
    const std::optional<std::string> header_json = base64url_decode(header_b64);
    const std::optional<std::string> signature = base64url_decode(signature_b64);
    if (!header_json || !signature || !base64url_decode(payload_b64)) {
        return token_error::malformed;
    }
    boost::system::error_code ec;
    const json::value header = json::parse(*header_json, ec);
    if (ec || !header.is_object()) return token_error::malformed;
    const json::object& obj = header.get_object();
    const json::value* alg = obj.if_contains("alg");
    if (alg == nullptr || !alg->is_string()) return token_error::malformed;
    // No extension is understood, so a token that makes one critical is refused (RFC 7515 4.1.11).
    if (obj.contains("crit")) return token_error::malformed;
    std::string kid;
    if (const json::value* k = obj.if_contains("kid")) {
        if (!k->is_string()) return token_error::malformed;
        kid = k->get_string();
    }
    // Keys named in the token (jku, jwk, x5u, x5c) are never used: only configured keys count.
    const std::optional<algorithm> known = algorithm_named(alg->get_string());
    if (!known) return token_error::unsupported_algorithm;  // "none" included
    if (signature->empty()) return token_error::bad_signature;
    return token_header{*known, std::move(kid), signature->size()};
}

/// A NumericDate (RFC 7519 §2) as whole seconds, saturated; nullopt when not a number.
std::optional<std::int64_t> numeric_date(const json::value& v) {
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    constexpr auto min = std::numeric_limits<std::int64_t>::min();
    if (v.is_int64()) return v.get_int64();
    if (v.is_uint64())
        return v.get_uint64() > static_cast<std::uint64_t>(max)
                   ? max
                   : static_cast<std::int64_t>(v.get_uint64());
    if (v.is_double()) {
        const double d = v.get_double();
        if (std::isnan(d)) return std::nullopt;
        if (d >= 9.2e18) return max;
        if (d <= -9.2e18) return min;
        return static_cast<std::int64_t>(std::floor(d));
    }
    return std::nullopt;
}

bool audience_matches(const json::value* aud, std::string_view audience) {
    if (aud == nullptr) return false;
    if (aud->is_string()) return aud->get_string() == audience;
    if (!aud->is_array()) return false;
    const json::array& list = aud->get_array();
    return std::any_of(list.begin(), list.end(), [audience](const json::value& v) {
        return v.is_string() && v.get_string() == audience;
    });
}

/// The claims of a token whose signature has been verified.
verify_result check_claims(std::string_view payload, const jwt_config& cfg) {
    boost::system::error_code ec;
    const json::value doc = json::parse(payload, ec);
    if (ec || !doc.is_object()) return token_error::malformed;
    const json::object& claims = doc.get_object();

    const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
    const std::int64_t leeway = cfg.leeway.count();
    const json::value* exp_claim = claims.if_contains("exp");
    if (exp_claim == nullptr) return token_error::malformed;  // Supabase always sets exp
    const std::optional<std::int64_t> exp = numeric_date(*exp_claim);
    if (!exp) return token_error::malformed;
    if (*exp <= now - leeway) return token_error::expired;
    if (const json::value* nbf_claim = claims.if_contains("nbf")) {
        const std::optional<std::int64_t> nbf = numeric_date(*nbf_claim);
        if (!nbf) return token_error::malformed;
        if (*nbf > now + leeway) return token_error::not_yet_valid;
    }
    if (!cfg.audience.empty() && !audience_matches(claims.if_contains("aud"), cfg.audience)) {
        return token_error::wrong_audience;
    }
    if (!cfg.issuer.empty()) {
        const json::value* iss = claims.if_contains("iss");
        if (iss == nullptr || !iss->is_string() || iss->get_string() != cfg.issuer) {
            return token_error::wrong_issuer;
        }
    }
    identity who;
    who.sub = string_member(claims, "sub");
    if (who.sub.empty()) return token_error::no_subject;
    who.role = string_member(claims, "role");
    who.email = string_member(claims, "email");
    who.expires_at = *exp;
    return who;
}

/// A coroutine parked until the JWKS fetch in progress ends; completed on its own executor.
struct fetch_waiter {
    virtual ~fetch_waiter() = default;
    virtual void complete() = 0;
};

template <class Handler>
struct fetch_waiter_for final : fetch_waiter {
    explicit fetch_waiter_for(Handler h) : handler(std::move(h)) {}
    void complete() override { asio::post(std::move(handler)); }
    Handler handler;
};

/// The JWKS of the URL as one request sees it.
struct jwks_view {
    std::shared_ptr<const key_list> keys;  ///< null: none fetched yet (or no URL)
    bool fresh = false;                    ///< this request fetched or waited for a fetch
    std::uint64_t generation = 0;          ///< of `keys` (token_verifier::impl::generation)
};

/// A token's SHA-256, the key of the verified tokens: a cryptographic digest, so that no other
/// token can be made to match a cached one.
std::string token_digest(std::string_view compact) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    unsigned int len = 0;
    if (EVP_Digest(compact.data(), compact.size(), out.data(), &len, EVP_sha256(), nullptr) != 1) {
        return {};
    }
    return std::string(reinterpret_cast<const char*>(out.data()), len);
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

struct token_verifier::impl {
    impl(jwt_config c, http::client* cl) : cfg(std::move(c)), client(cl) {}

    const jwt_config cfg;
    http::client* const client;
    std::optional<key> secret;  ///< from hs256_secret
    key_list file_keys;         ///< from jwks_file, fixed at construction

    // The JWKS of jwks_url. Guarded by `mutex`, which is never held across a suspension.
    std::mutex mutex;
    std::shared_ptr<const key_list> url_keys;  ///< last good fetch; null: none yet
    steady::time_point fetched_at{};           ///< of url_keys
    steady::time_point last_attempt{};         ///< of the last fetch, good or not
    bool attempted = false;
    bool fetching = false;      ///< one fetch at a time; the others wait for it or go on
    std::uint64_t fetches = 0;  ///< fetches ended; a waiter waits for this to change
    std::vector<std::unique_ptr<fetch_waiter>> waiters;

    // Tokens verified lately, by their digest (token_digest), until they expire: a front end
    // sends the same token with every request for up to an hour, and each request would
    // otherwise be verified twice (the listener's check_now, then the handler's verify), at
    // 4-6 µs for HS256 and about 50 µs for ES256 (bench/analysis.md, session 21). Emptied
    // whenever the JWKS of the URL is replaced, so that a key taken out of it stops working
    // as it would without the cache; `generation` counts those replacements, and a token
    // verified with keys of an earlier generation is not remembered. Guarded by `mutex`.
    static constexpr std::size_t max_verified = 8192;
    static constexpr std::size_t max_cached_identity = 1024;  ///< bytes of sub, role, email
    std::unordered_map<std::string, identity> verified;
    std::uint64_t generation = 0;

    bool uses_url() const { return !cfg.jwks_url.empty() && client != nullptr; }

    /// The identity of a token verified before, if it has not expired since. Not while the
    /// JWKS of the URL is due for its refetch (jwks_max_age): the token is verified again,
    /// which refetches, so that a key taken out of the JWKS is noticed as without the cache.
    std::optional<identity> recall(const std::string& digest) {
        if (digest.empty()) return std::nullopt;
        std::lock_guard lock(mutex);
        if (uses_url() && steady::now() - fetched_at >= cfg.jwks_max_age) return std::nullopt;
        const auto it = verified.find(digest);
        if (it == verified.end()) return std::nullopt;
        if (it->second.expires_at <= unix_now() - cfg.leeway.count()) {
            verified.erase(it);  // verified again below, which tells why it fails
            return std::nullopt;
        }
        return it->second;
    }

    void remember(const std::string& digest, const identity& who, std::uint64_t keys_generation) {
        if (digest.empty() ||
            who.sub.size() + who.role.size() + who.email.size() > max_cached_identity) {
            return;
        }
        std::lock_guard lock(mutex);
        if (keys_generation != generation) return;  // its keys were replaced meanwhile
        if (verified.size() >= max_verified) {
            const std::int64_t expired_before = unix_now() - cfg.leeway.count();
            std::erase_if(verified,
                          [&](const auto& e) { return e.second.expires_at <= expired_before; });
            if (verified.size() >= max_verified) verified.clear();
        }
        verified.insert_or_assign(digest, who);
    }

    /// Ends the fetch in progress (even when its coroutine is destroyed mid-way) and wakes the
    /// requests that waited for it.
    struct fetch_scope {
        impl& self;
        ~fetch_scope() {
            std::vector<std::unique_ptr<fetch_waiter>> woken;
            {
                std::lock_guard lock(self.mutex);
                self.fetching = false;
                ++self.fetches;
                woken.swap(self.waiters);
            }
            for (auto& w : woken) w->complete();
        }
    };

    asio::awaitable<void> wait_for_fetch(std::uint64_t seen) {
        co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
            [this, seen](auto handler) {
                std::unique_lock lock(mutex);
                if (fetches != seen) {
                    lock.unlock();
                    asio::post(std::move(handler));
                    return;
                }
                waiters.push_back(
                    std::make_unique<fetch_waiter_for<decltype(handler)>>(std::move(handler)));
            },
            asio::use_awaitable);
    }

    asio::awaitable<std::optional<key_list>> fetch() {
        http::client_request req;
        req.method = boost::beast::http::verb::get;
        req.url = cfg.jwks_url;
        req.headers.set(boost::beast::http::field::accept, "application/json");
        auto res = co_await client->send(std::move(req), steady::now() + jwks_fetch_timeout);
        if (!res) {
            log::warn("msg=\"jwks fetch failed\" url={} error=\"{}\"", cfg.jwks_url,
                      res.error().message());
            co_return std::nullopt;
        }
        if (res->status != 200) {
            log::warn("msg=\"jwks fetch failed\" url={} status={}", cfg.jwks_url, res->status);
            co_return std::nullopt;
        }
        std::string why;
        std::optional<key_list> keys = parse_jwks(res->body, why);
        if (!keys) {
            log::warn("msg=\"jwks fetch failed\" url={} error=\"{}\"", cfg.jwks_url, why);
            co_return std::nullopt;
        }
        log::info("msg=\"jwks fetched\" url={} keys={}", cfg.jwks_url, keys->size());
        co_return keys;
    }

    /// The JWKS of the URL: fetched when there is none yet or it is older than jwks_max_age, or
    /// when `want_new` (a token named an unknown kid); a fetch starts at most every
    /// jwks_min_refresh. One fetch at a time: a request that needs fresh keys waits for the one
    /// in progress, a request that can do with the cached keys does not wait. When a fetch
    /// fails, the keys fetched before stay in use. `seen` is the key list the caller looked in
    /// (with `want_new`): when it has been replaced since, the new one is returned unfetched.
    asio::awaitable<jwks_view> jwks(bool want_new, const key_list* seen = nullptr) {
        if (!uses_url()) co_return jwks_view{};
        enum class step { use_cached, wait, fetch };
        step next = step::use_cached;
        std::uint64_t fetches_seen = 0;
        std::shared_ptr<const key_list> cached;
        std::uint64_t cached_generation = 0;
        {
            std::lock_guard lock(mutex);
            cached = url_keys;
            cached_generation = generation;
            const auto now = steady::now();
            const bool stale = !url_keys || now - fetched_at >= cfg.jwks_max_age;
            // Fresh enough, or replaced since the caller looked (by a fetch it did not see).
            const bool replaced = want_new && url_keys && url_keys.get() != seen;
            if (replaced || (!stale && !want_new)) {
                next = step::use_cached;
            } else if (fetching) {
                next = url_keys && !want_new ? step::use_cached : step::wait;
                fetches_seen = fetches;
            } else if (attempted && now - last_attempt < cfg.jwks_min_refresh) {
                next = step::use_cached;
            } else {
                fetching = true;
                attempted = true;
                last_attempt = now;
                next = step::fetch;
            }
        }
        if (next == step::use_cached) {
            co_return jwks_view{std::move(cached), false, cached_generation};
        }
        if (next == step::wait) {
            co_await wait_for_fetch(fetches_seen);
            {
                std::lock_guard lock(mutex);
                cached = url_keys;
                cached_generation = generation;
            }
            co_return jwks_view{std::move(cached), true, cached_generation};
        }
        const fetch_scope scope{*this};
        std::optional<key_list> fresh = co_await fetch();
        {
            std::lock_guard lock(mutex);
            if (fresh) {
                url_keys = std::make_shared<const key_list>(std::move(*fresh));
                fetched_at = steady::now();
                ++generation;
                verified.clear();
            }
            cached = url_keys;
            cached_generation = generation;
        }
        co_return jwks_view{std::move(cached), true, cached_generation};
    }
};

namespace {

/// The keys a token may be verified with, by its header.
struct selection {
    std::vector<const key*> candidates;
    bool kid_known = false;      ///< some JWKS key has the token's kid
    bool kid_other_alg = false;  ///< ... and every such key is for another algorithm
    bool alg_known = false;      ///< some configured key verifies the token's algorithm
};

selection select_keys(const token_header& header, const key_list& file_keys,
                      const key_list* url_keys, const std::optional<key>& secret) {
    selection pick;
    bool kid_same_alg = false;
    auto scan = [&](const key_list& keys) {
        for (const key& k : keys) {
            const bool kid_match = !header.kid.empty() && k.kid == header.kid;
            pick.kid_known = pick.kid_known || kid_match;
            if (k.alg != header.alg) continue;
            pick.alg_known = true;
            kid_same_alg = kid_same_alg || kid_match;
            if (header.kid.empty() || kid_match) pick.candidates.push_back(&k);
        }
    };
    scan(file_keys);
    if (url_keys != nullptr) scan(*url_keys);
    pick.kid_other_alg = pick.kid_known && !kid_same_alg;
    // The project's JWT secret has no kid (Supabase's own kid for it is not in the JWKS).
    if (header.alg == algorithm::hs256 && secret) {
        pick.alg_known = true;
        pick.candidates.push_back(&*secret);
    }
    return pick;
}

}  // namespace

token_verifier::token_verifier(jwt_config cfg, http::client* client)
    : impl_(std::make_unique<impl>(std::move(cfg), client)) {
    const jwt_config& c = impl_->cfg;
    if (!c.hs256_secret.empty()) {
        // Supabase signs with the bytes of the secret string as it is (not base64-decoded).
        cjose_err err{};
        jwk_ptr jwk(
            cjose_jwk_create_oct_spec(reinterpret_cast<const std::uint8_t*>(c.hs256_secret.data()),
                                      c.hs256_secret.size(), &err));
        if (!jwk) throw std::runtime_error("SUPABASE_JWT_SECRET: cannot make an HS256 key");
        impl_->secret = key{{}, algorithm::hs256, std::move(jwk)};
    }
    if (!c.jwks_file.empty()) impl_->file_keys = load_jwks_file(c.jwks_file);
    if (!c.jwks_url.empty() && client == nullptr) {
        throw std::runtime_error("SUPABASE_JWKS_URL is set but no HTTP client was given");
    }
}

token_verifier::~token_verifier() = default;

const jwt_config& token_verifier::config() const noexcept {
    return impl_->cfg;
}

namespace {

/// The verification once the keys are chosen: the signature with one of `pick`'s candidates,
/// then the claims. `url_keys_loaded`: a JWKS of the URL is at hand (else no candidate may just
/// mean it could not be loaded).
verify_result verify_with(const std::string& compact, const token_header& header,
                          const selection& pick, bool uses_url, bool url_keys_loaded,
                          const jwt_config& cfg) {
    // The key fixes the algorithm: a token naming an RS/ES key with another alg is refused even
    // when an HS256 secret is configured too.
    if (pick.kid_other_alg) return token_error::unsupported_algorithm;
    if (pick.candidates.empty()) {
        if (uses_url && !url_keys_loaded) return token_error::keys_unavailable;
        return pick.alg_known ? token_error::unknown_key : token_error::unsupported_algorithm;
    }
    // The signature's length is the algorithm's (RFC 7518 3.2, 3.4): R || S of P-256, and the
    // whole SHA-256 HMAC (cjose is not left to compare a shorter one).
    if ((header.alg == algorithm::es256 || header.alg == algorithm::hs256) &&
        header.signature_size != (header.alg == algorithm::es256 ? 64 : 32)) {
        return token_error::bad_signature;
    }

    cjose_err err{};
    const jws_ptr jws(cjose_jws_import(compact.data(), compact.size(), &err));
    if (!jws) return token_error::malformed;
    // cjose picks its verification routine from its own reading of the header: it must agree
    // with ours (duplicate "alg" members, for one, could otherwise be read two ways).
    const char* cjose_alg =
        cjose_header_get(cjose_jws_get_protected(jws.get()), CJOSE_HDR_ALG, &err);
    if (cjose_alg == nullptr || algorithm_name(header.alg) != cjose_alg) {
        return token_error::malformed;
    }
    const bool verified =
        std::any_of(pick.candidates.begin(), pick.candidates.end(),
                    [&](const key* k) { return cjose_jws_verify(jws.get(), k->jwk.get(), &err); });
    if (!verified) return token_error::bad_signature;
    std::uint8_t* payload = nullptr;
    std::size_t payload_size = 0;
    if (!cjose_jws_get_plaintext(jws.get(), &payload, &payload_size, &err)) {
        return token_error::malformed;
    }
    return check_claims({reinterpret_cast<const char*>(payload), payload_size}, cfg);
}

}  // namespace

asio::awaitable<verify_result> token_verifier::verify(std::string_view authorization) const {
    const std::optional<std::string_view> bearer = bearer_token(authorization);
    if (!bearer) co_return token_error::missing;
    if (bearer->size() > max_token_bytes) co_return token_error::malformed;
    const std::string compact(*bearer);  // the caller's header need not outlive a suspension
    impl& self = *impl_;
    const std::string digest = token_digest(compact);
    if (std::optional<identity> known = self.recall(digest)) co_return std::move(*known);
    const auto header = parse_header(compact);
    if (!header) co_return header.error();

    jwks_view fetched = co_await self.jwks(false);
    selection pick = select_keys(*header, self.file_keys, fetched.keys.get(), self.secret);
    const bool secret_applies = header->alg == algorithm::hs256 && self.secret;
    if (!header->kid.empty() && !pick.kid_known && !secret_applies && !fetched.fresh &&
        self.uses_url()) {
        fetched = co_await self.jwks(true, fetched.keys.get());  // rotated keys? rate-limited
        pick = select_keys(*header, self.file_keys, fetched.keys.get(), self.secret);
    }
    verify_result r =
        verify_with(compact, *header, pick, self.uses_url(), fetched.keys != nullptr, self.cfg);
    if (r) self.remember(digest, *r, fetched.generation);
    co_return r;
}

std::optional<token_error> token_verifier::check_now(std::string_view authorization) const {
    const std::optional<std::string_view> bearer = bearer_token(authorization);
    if (!bearer) return token_error::missing;
    if (bearer->size() > max_token_bytes) return token_error::malformed;
    const std::string compact(*bearer);
    impl& self = *impl_;
    const std::string digest = token_digest(compact);
    if (self.recall(digest)) return std::nullopt;
    const auto header = parse_header(compact);
    if (!header) return header.error();

    std::shared_ptr<const key_list> cached;
    std::uint64_t generation = 0;
    if (self.uses_url()) {
        std::lock_guard lock(self.mutex);
        cached = self.url_keys;
        generation = self.generation;
    }
    const selection pick = select_keys(*header, self.file_keys, cached.get(), self.secret);
    // What only the JWKS URL can tell (no keys fetched yet, a kid it may have rotated in) is
    // left to verify, which fetches.
    if (self.uses_url() && (!cached || (pick.candidates.empty() && !pick.kid_other_alg))) {
        return std::nullopt;
    }
    const verify_result r =
        verify_with(compact, *header, pick, self.uses_url(), cached != nullptr, self.cfg);
    if (!r) return r.error();
    self.remember(digest, *r, generation);
    return std::nullopt;
}

}  // namespace switchboard::manage
