// manage::token_verifier against tokens signed here with OpenSSL directly (not with cjose, the
// library under test), keys generated per run, JWKS written to a temp dir or served by a tiny
// HTTP server on 127.0.0.1:0 that counts fetches, rotates keys and fails on demand.
#include "switchboard/manage/jwt.hpp"

#include "switchboard/http/client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::manage {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

// --- signing, independent of the code under test --------------------------------------------

std::string b64url(std::string_view in) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                           (static_cast<unsigned char>(in[i + 1]) << 8) |
                           static_cast<unsigned char>(in[i + 2]);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (in.size() - i == 1) {
        const unsigned v = static_cast<unsigned char>(in[i]) << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
    } else if (in.size() - i == 2) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                           (static_cast<unsigned char>(in[i + 1]) << 8);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
    }
    return out;
}

struct pkey_free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

std::string bn_bytes(EVP_PKEY* key, const char* param, int pad = 0) {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(key, param, &bn) != 1) throw std::runtime_error("get_bn_param");
    std::string out(pad > 0 ? static_cast<std::size_t>(pad) : BN_num_bytes(bn), '\0');
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
    BN_free(bn);
    return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
    return {reinterpret_cast<char*>(mac), len};
}

std::string digest_sign(EVP_PKEY* key, std::string_view data) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t len = 0;
    std::string sig;
    if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) != 1 ||
        EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) != 1) {
        EVP_MD_CTX_free(ctx);
        throw std::runtime_error("EVP_DigestSign");
    }
    sig.resize(len);
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(data.data()), data.size());
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    return sig;
}

/// RSA PKCS#1 v1.5 with SHA-256 (EVP's default padding for RSA).
std::string rs256(EVP_PKEY* key, std::string_view data) {
    return digest_sign(key, data);
}

/// ECDSA P-256 SHA-256, the DER signature turned into the 64-byte R || S of JWS.
std::string es256(EVP_PKEY* key, std::string_view data) {
    const std::string der = digest_sign(key, data);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
    std::string out(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(out.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(out.data()) + 32, 32);
    ECDSA_SIG_free(sig);
    return out;
}

struct rsa_key {
    pkey_ptr pkey;
    std::string kid;
    json::object jwk() const {
        return {{"kty", "RSA"},
                {"kid", kid},
                {"use", "sig"},
                {"alg", "RS256"},
                {"n", b64url(bn_bytes(pkey.get(), OSSL_PKEY_PARAM_RSA_N))},
                {"e", b64url(bn_bytes(pkey.get(), OSSL_PKEY_PARAM_RSA_E))}};
    }
    std::string public_pem() const {
        BIO* bio = BIO_new(BIO_s_mem());
        PEM_write_bio_PUBKEY(bio, pkey.get());
        char* data = nullptr;
        const long n = BIO_get_mem_data(bio, &data);
        std::string out(data, static_cast<std::size_t>(n));
        BIO_free(bio);
        return out;
    }
};

struct ec_key {
    pkey_ptr pkey;
    std::string kid;
    /// As Supabase's JWKS endpoint publishes its ES256 keys (key_ops and ext included).
    json::object jwk() const {
        return {{"kty", "EC"},
                {"kid", kid},
                {"crv", "P-256"},
                {"alg", "ES256"},
                {"use", "sig"},
                {"key_ops", json::array{"verify"}},
                {"ext", true},
                {"x", b64url(bn_bytes(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32))},
                {"y", b64url(bn_bytes(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
    }
};

rsa_key make_rsa(std::string kid) {
    return {pkey_ptr(EVP_RSA_gen(2048)), std::move(kid)};
}
ec_key make_ec(std::string kid) {
    return {pkey_ptr(EVP_EC_gen("P-256")), std::move(kid)};
}

/// Key generation is the slow part: the keys are made once for the whole test program.
const rsa_key& rsa_a() {
    static const rsa_key k = make_rsa("rsa-a");
    return k;
}
const rsa_key& rsa_b() {
    static const rsa_key k = make_rsa("rsa-b");
    return k;
}
const rsa_key& rsa_other() {  // not in any JWKS; signs with rsa-a's kid
    static const rsa_key k = make_rsa("rsa-a");
    return k;
}
const ec_key& ec_a() {
    static const ec_key k = make_ec("ec-a");
    return k;
}
const ec_key& ec_other() {
    static const ec_key k = make_ec("ec-a");
    return k;
}

const std::string secret = "super-secret-jwt-token-with-at-least-32-characters-long";

std::int64_t now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

json::object claims(std::int64_t exp_in = 3600) {
    return {{"sub", "user-1"},          {"aud", "authenticated"},  {"role", "authenticated"},
            {"email", "a@example.com"}, {"exp", now_s() + exp_in}, {"iat", now_s()}};
}

json::object header(std::string_view alg, std::string_view kid = {}) {
    json::object h{{"alg", alg}, {"typ", "JWT"}};
    if (!kid.empty()) h["kid"] = kid;
    return h;
}

template <class Sign>
std::string token(const json::object& hdr, const json::object& payload, Sign sign) {
    const std::string input = b64url(json::serialize(hdr)) + "." + b64url(json::serialize(payload));
    return input + "." + b64url(sign(input));
}

std::string hs_token(const json::object& payload, std::string_view key = secret,
                     std::string_view kid = {}) {
    return token(header("HS256", kid), payload,
                 [&](std::string_view in) { return hmac_sha256(key, in); });
}
std::string rs_token(const rsa_key& k, const json::object& payload) {
    return token(header("RS256", k.kid), payload,
                 [&](std::string_view in) { return rs256(k.pkey.get(), in); });
}
std::string es_token(const ec_key& k, const json::object& payload) {
    return token(header("ES256", k.kid), payload,
                 [&](std::string_view in) { return es256(k.pkey.get(), in); });
}

std::string jwks_of(std::initializer_list<json::object> keys) {
    json::array list;
    for (const auto& k : keys) list.push_back(k);
    return json::serialize(json::object{{"keys", std::move(list)}});
}

// --- a temp dir for JWKS files ----------------------------------------------------------------

struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "jwt_test.XXXXXX").string();
        path = mkdtemp(tmpl.data());
    }
    ~temp_dir() { std::filesystem::remove_all(path); }
    std::string write(const std::string& name, std::string_view text) const {
        std::ofstream(path / name, std::ios::binary) << text;
        return (path / name).string();
    }
};

// --- the JWKS server --------------------------------------------------------------------------

/// Serves one document at any path; one request per connection (Connection: close).
class jwks_server {
  public:
    jwks_server() {
        fd_ = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            listen(fd_, 64) != 0) {
            throw std::runtime_error("jwks_server: bind/listen");
        }
        socklen_t len = sizeof addr;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    ~jwks_server() {
        stop_ = true;
        thread_.join();
        close(fd_);
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/jwks.json"; }
    void set(std::string body, unsigned status = 200) {
        std::lock_guard lock(mutex_);
        body_ = std::move(body);
        status_ = status;
    }
    void set_delay(std::chrono::milliseconds d) { delay_ms_ = static_cast<int>(d.count()); }
    int fetches() const { return fetches_; }

  private:
    void run() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 20) <= 0) continue;
            const int c = accept(fd_, nullptr, nullptr);
            if (c < 0) continue;
            std::string req;
            char buf[4096];
            while (req.find("\r\n\r\n") == std::string::npos) {
                const ssize_t n = read(c, buf, sizeof buf);
                if (n <= 0) break;
                req.append(buf, static_cast<std::size_t>(n));
            }
            ++fetches_;
            std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_.load()));
            std::string body;
            unsigned status = 0;
            {
                std::lock_guard lock(mutex_);
                body = body_;
                status = status_;
            }
            const std::string res = "HTTP/1.1 " + std::to_string(status) +
                                    " X\r\nContent-Type: application/json\r\nContent-Length: " +
                                    std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
                                    body;
            std::size_t off = 0;
            while (off < res.size()) {
                const ssize_t n = write(c, res.data() + off, res.size() - off);
                if (n <= 0) break;
                off += static_cast<std::size_t>(n);
            }
            close(c);
        }
    }

    int fd_ = -1;
    unsigned short port_ = 0;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<int> fetches_{0};
    std::atomic<int> delay_ms_{0};
    std::mutex mutex_;
    std::string body_ = R"({"keys":[]})";
    unsigned status_ = 200;
};

/// A port with nothing listening: connections are refused.
std::string closed_port_url() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        throw std::runtime_error("closed_port_url: bind");
    }
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);
    return "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/jwks.json";
}

// --- running verify ---------------------------------------------------------------------------

using result = boost::system::result<identity, token_error>;

/// An io_context and an HTTP client for the verifier; verify() runs one call to completion.
struct harness {
    asio::io_context ioc;
    http::client client{ioc.get_executor()};

    result verify(const token_verifier& v, const std::string& authorization) {
        auto f = asio::co_spawn(ioc, v.verify(authorization), asio::use_future);
        ioc.restart();
        ioc.run();
        return f.get();
    }
};

result verify_bearer(const token_verifier& v, const std::string& tok) {
    harness h;
    return h.verify(v, "Bearer " + tok);
}

jwt_config hs_config() {
    jwt_config cfg;
    cfg.hs256_secret = secret;
    return cfg;
}

::testing::AssertionResult refused_with(const result& r, token_error expected) {
    if (r.has_value()) return ::testing::AssertionFailure() << "accepted, sub=" << r->sub;
    if (r.error() != expected) {
        return ::testing::AssertionFailure() << "refused with \"" << to_string(r.error())
                                             << "\", expected \"" << to_string(expected) << '"';
    }
    return ::testing::AssertionSuccess();
}

// --- HS256 ------------------------------------------------------------------------------------

TEST(TokenVerifier, AcceptsHs256AndReturnsTheIdentity) {
    const token_verifier v(hs_config(), nullptr);
    const json::object c = claims();
    const result r = verify_bearer(v, hs_token(c));
    ASSERT_TRUE(r.has_value()) << to_string(r.error());
    EXPECT_EQ(r->sub, "user-1");
    EXPECT_EQ(r->role, "authenticated");
    EXPECT_EQ(r->email, "a@example.com");
    EXPECT_EQ(r->expires_at, c.at("exp").as_int64());
}

TEST(TokenVerifier, RefusesHs256WithAnotherSecret) {
    const token_verifier v(hs_config(), nullptr);
    EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(claims(), secret + "x")),
                             token_error::bad_signature));
}

TEST(TokenVerifier, RefusesATamperedPayload) {
    const token_verifier v(hs_config(), nullptr);
    const std::string good = hs_token(claims());
    json::object forged = claims();
    forged["sub"] = "admin";
    const auto dot1 = good.find('.');
    const auto dot2 = good.find('.', dot1 + 1);
    const std::string tampered =
        good.substr(0, dot1 + 1) + b64url(json::serialize(forged)) + good.substr(dot2);
    ASSERT_TRUE(verify_bearer(v, good).has_value());
    // The good token is remembered now: the tampered one, with the same signature, is not it.
    EXPECT_TRUE(refused_with(verify_bearer(v, tampered), token_error::bad_signature));
    EXPECT_EQ(v.check_now("Bearer " + tampered), token_error::bad_signature);
    EXPECT_FALSE(v.check_now("Bearer " + good).has_value());
}

TEST(TokenVerifier, RefusesAnEmptySignature) {
    const token_verifier v(hs_config(), nullptr);
    const std::string good = hs_token(claims());
    EXPECT_TRUE(refused_with(verify_bearer(v, good.substr(0, good.rfind('.') + 1)),
                             token_error::bad_signature));
}

// --- time and audience ------------------------------------------------------------------------

TEST(TokenVerifier, RefusesAnExpiredToken) {
    const token_verifier v(hs_config(), nullptr);  // leeway 30 s
    EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(claims(-120))), token_error::expired));
}

TEST(TokenVerifier, LeewayAppliesToExpAndNbf) {
    jwt_config cfg = hs_config();
    cfg.leeway = 60s;
    const token_verifier v(cfg, nullptr);
    EXPECT_TRUE(verify_bearer(v, hs_token(claims(-30))).has_value());  // expired 30 s ago
    EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(claims(-90))), token_error::expired));
    json::object soon = claims();
    soon["nbf"] = now_s() + 30;
    EXPECT_TRUE(verify_bearer(v, hs_token(soon)).has_value());
    json::object later = claims();
    later["nbf"] = now_s() + 600;
    EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(later)), token_error::not_yet_valid));

    cfg.leeway = 0s;
    const token_verifier strict(cfg, nullptr);
    EXPECT_TRUE(refused_with(verify_bearer(strict, hs_token(claims(-30))), token_error::expired));
    EXPECT_TRUE(refused_with(verify_bearer(strict, hs_token(soon)), token_error::not_yet_valid));
}

TEST(TokenVerifier, ARememberedTokenIsRefusedOnceItExpires) {
    jwt_config cfg = hs_config();
    cfg.leeway = 0s;
    const token_verifier v(cfg, nullptr);
    const json::object c = claims(2);
    const std::int64_t exp = c.at("exp").as_int64();
    const std::string tok = hs_token(c);
    ASSERT_TRUE(verify_bearer(v, tok).has_value());  // verified, and remembered
    ASSERT_FALSE(v.check_now("Bearer " + tok).has_value());
    while (now_s() < exp) std::this_thread::sleep_for(50ms);
    EXPECT_EQ(v.check_now("Bearer " + tok), token_error::expired);
    EXPECT_TRUE(refused_with(verify_bearer(v, tok), token_error::expired));
}

TEST(TokenVerifier, RefusesATokenWithoutExp) {
    const token_verifier v(hs_config(), nullptr);
    json::object c = claims();
    c.erase("exp");
    EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(c)), token_error::malformed));
    c["exp"] = "tomorrow";
    EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(c)), token_error::malformed));
}

TEST(TokenVerifier, ChecksTheAudience) {
    const token_verifier v(hs_config(), nullptr);
    json::object c = claims();
    c["aud"] = "anon";
    EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(c)), token_error::wrong_audience));
    c.erase("aud");
    EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(c)), token_error::wrong_audience));
    c["aud"] = json::array{"other", "authenticated"};
    EXPECT_TRUE(verify_bearer(v, hs_token(c)).has_value());
    c["aud"] = json::array{"other", "anon"};
    EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(c)), token_error::wrong_audience));

    jwt_config any = hs_config();
    any.audience.clear();
    const token_verifier lax(any, nullptr);
    c["aud"] = "anon";
    EXPECT_TRUE(verify_bearer(lax, hs_token(c)).has_value());
}

TEST(TokenVerifier, ChecksTheIssuerWhenOneIsConfigured) {
    json::object c = claims();
    c["iss"] = "https://other.supabase.co/auth/v1";
    const token_verifier unchecked(hs_config(), nullptr);
    EXPECT_TRUE(verify_bearer(unchecked, hs_token(c)).has_value());

    jwt_config cfg = hs_config();
    cfg.issuer = "https://ref.supabase.co/auth/v1";
    const token_verifier v(cfg, nullptr);
    EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(c)), token_error::wrong_issuer));
    c["iss"] = "https://ref.supabase.co/auth/v1/";
    EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(c)), token_error::wrong_issuer));
    c["iss"] = json::array{"https://ref.supabase.co/auth/v1"};
    EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(c)), token_error::wrong_issuer));
    c.erase("iss");
    EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(c)), token_error::wrong_issuer));
    c["iss"] = "https://ref.supabase.co/auth/v1";
    const auto who = verify_bearer(v, hs_token(c));
    ASSERT_TRUE(who.has_value());
    EXPECT_EQ(who->sub, c.at("sub").as_string());
}

TEST(TokenVerifier, RequiresASubject) {
    const token_verifier v(hs_config(), nullptr);
    json::object c = claims();
    c.erase("sub");
    EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(c)), token_error::no_subject));
    c["sub"] = "";
    EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(c)), token_error::no_subject));
    c["sub"] = 42;
    EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(c)), token_error::no_subject));
}

// --- the Authorization header and malformed tokens ----------------------------------------------

TEST(TokenVerifier, ParsesTheBearerScheme) {
    const token_verifier v(hs_config(), nullptr);
    const std::string t = hs_token(claims());
    harness h;
    EXPECT_TRUE(h.verify(v, "Bearer " + t).has_value());
    EXPECT_TRUE(h.verify(v, "bearer " + t).has_value());
    EXPECT_TRUE(h.verify(v, "  BEARER \t " + t + "  ").has_value());
    EXPECT_TRUE(refused_with(h.verify(v, ""), token_error::missing));
    EXPECT_TRUE(refused_with(h.verify(v, "Bearer"), token_error::missing));
    EXPECT_TRUE(refused_with(h.verify(v, "Bearer   "), token_error::missing));
    EXPECT_TRUE(refused_with(h.verify(v, t), token_error::missing));
    EXPECT_TRUE(refused_with(h.verify(v, "Basic " + t), token_error::missing));
    EXPECT_TRUE(refused_with(h.verify(v, "Bearer" + t), token_error::missing));
    EXPECT_TRUE(refused_with(h.verify(v, "Bearer " + t + " extra"), token_error::missing));
}

TEST(TokenVerifier, RefusesMalformedTokens) {
    const token_verifier v(hs_config(), nullptr);
    const std::string t = hs_token(claims());
    const auto dot1 = t.find('.');
    const auto dot2 = t.find('.', dot1 + 1);
    const std::string sig = t.substr(dot2 + 1);
    EXPECT_TRUE(
        refused_with(verify_bearer(v, t.substr(0, dot2)), token_error::malformed));  // 2 parts
    EXPECT_TRUE(refused_with(verify_bearer(v, t + ".x"), token_error::malformed));   // 4 parts
    EXPECT_TRUE(refused_with(verify_bearer(v, "a.b"), token_error::malformed));
    EXPECT_TRUE(refused_with(verify_bearer(v, ".."), token_error::malformed));
    EXPECT_TRUE(
        refused_with(verify_bearer(v, "*" + t.substr(1)), token_error::malformed));  // not b64
    EXPECT_TRUE(refused_with(verify_bearer(v, t.substr(0, dot1) + "=" + t.substr(dot1)),
                             token_error::malformed));  // padding
    const auto hs = [](std::string_view in) { return hmac_sha256(secret, in); };
    // header not JSON, header not an object, no alg
    const std::string p = b64url(json::serialize(claims()));
    for (const char* hdr :
         {"{alg:HS256}", R"(["HS256"])", R"({"typ":"JWT"})",
          R"({"alg":"HS256","crit":["b64"],"b64":false})", R"({"alg":"HS256","kid":7})"}) {
        const std::string input = b64url(hdr) + "." + p;
        EXPECT_TRUE(
            refused_with(verify_bearer(v, input + "." + b64url(hs(input))), token_error::malformed))
            << hdr;
    }
    // payload not a JSON object, validly signed
    for (const char* payload : {"not json", "[1,2]", "\"sub\""}) {
        const std::string input = b64url(R"({"alg":"HS256"})") + "." + b64url(payload);
        EXPECT_TRUE(
            refused_with(verify_bearer(v, input + "." + b64url(hs(input))), token_error::malformed))
            << payload;
    }
    // over 16 KiB, validly signed
    json::object big = claims();
    big["padding"] = std::string(std::size_t{17} * 1024, 'x');
    EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(big)), token_error::malformed));
    json::object fits = claims();
    fits["padding"] = std::string(std::size_t{8} * 1024, 'x');
    EXPECT_TRUE(verify_bearer(v, hs_token(fits)).has_value());
}

TEST(TokenVerifier, RefusesAlgNone) {
    const token_verifier v(hs_config(), nullptr);
    for (const char* alg : {"none", "None", "NONE", "HS512", "RS384", "PS256", ""}) {
        const std::string input =
            b64url(json::serialize(header(alg))) + "." + b64url(json::serialize(claims()));
        EXPECT_TRUE(refused_with(verify_bearer(v, input + "."), token_error::unsupported_algorithm))
            << alg;
        EXPECT_TRUE(refused_with(verify_bearer(v, input + "." + b64url(hmac_sha256(secret, input))),
                                 token_error::unsupported_algorithm))
            << alg;
    }
}

// --- RS256 / ES256 from a JWKS file
// ---------------------------------------------------------------

struct JwksFile : ::testing::Test {
    temp_dir dir;
    jwt_config cfg;
    void SetUp() override {
        cfg.jwks_file = dir.write("jwks.json", jwks_of({rsa_a().jwk(), ec_a().jwk()}));
    }
};

TEST_F(JwksFile, AcceptsRs256AndEs256) {
    const token_verifier v(cfg, nullptr);
    const result rs = verify_bearer(v, rs_token(rsa_a(), claims()));
    ASSERT_TRUE(rs.has_value()) << to_string(rs.error());
    EXPECT_EQ(rs->sub, "user-1");
    const result es = verify_bearer(v, es_token(ec_a(), claims()));
    ASSERT_TRUE(es.has_value()) << to_string(es.error());
    EXPECT_EQ(es->sub, "user-1");
}

TEST_F(JwksFile, RefusesAnotherKeyWithTheSameKid) {
    const token_verifier v(cfg, nullptr);
    EXPECT_TRUE(refused_with(verify_bearer(v, rs_token(rsa_other(), claims())),
                             token_error::bad_signature));
    EXPECT_TRUE(
        refused_with(verify_bearer(v, es_token(ec_other(), claims())), token_error::bad_signature));
}

TEST_F(JwksFile, TriesEveryKeyOfTheAlgorithmWhenTheTokenHasNoKid) {
    const token_verifier v(cfg, nullptr);
    const auto sign = [](std::string_view in) { return rs256(rsa_a().pkey.get(), in); };
    EXPECT_TRUE(verify_bearer(v, token(header("RS256"), claims(), sign)).has_value());
    const auto other = [](std::string_view in) { return rs256(rsa_other().pkey.get(), in); };
    EXPECT_TRUE(refused_with(verify_bearer(v, token(header("RS256"), claims(), other)),
                             token_error::bad_signature));
}

TEST_F(JwksFile, UnknownKidWithoutUrl) {
    const token_verifier v(cfg, nullptr);
    EXPECT_TRUE(
        refused_with(verify_bearer(v, rs_token(rsa_b(), claims())), token_error::unknown_key));
}

TEST_F(JwksFile, TheKeyFixesTheAlgorithm) {
    const token_verifier v(cfg, nullptr);
    // an ES256 token naming the RSA key, an RS256 token naming the EC key
    const auto es = [](std::string_view in) { return es256(ec_a().pkey.get(), in); };
    EXPECT_TRUE(refused_with(verify_bearer(v, token(header("ES256", "rsa-a"), claims(), es)),
                             token_error::unsupported_algorithm));
    const auto rs = [](std::string_view in) { return rs256(rsa_a().pkey.get(), in); };
    EXPECT_TRUE(refused_with(verify_bearer(v, token(header("RS256", "ec-a"), claims(), rs)),
                             token_error::unsupported_algorithm));
}

TEST_F(JwksFile, RefusesAnEs256SignatureOfTheWrongSize) {
    const token_verifier v(cfg, nullptr);
    const auto der = [](std::string_view in) { return digest_sign(ec_a().pkey.get(), in); };
    EXPECT_TRUE(refused_with(verify_bearer(v, token(header("ES256", "ec-a"), claims(), der)),
                             token_error::bad_signature));
}

/// The classic confusion: an HS256 token whose HMAC key is the RSA public key (as PEM, or as its
/// JWK JSON), which an attacker knows. It must never verify.
TEST_F(JwksFile, RefusesHsRsConfusionWithOnlyTheJwks) {
    const token_verifier v(cfg, nullptr);
    for (const std::string& hmac_key :
         {rsa_a().public_pem(), json::serialize(rsa_a().jwk()), json::serialize(ec_a().jwk())}) {
        EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(claims(), hmac_key, "rsa-a")),
                                 token_error::unsupported_algorithm));
        EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(claims(), hmac_key)),
                                 token_error::unsupported_algorithm));
    }
}

TEST_F(JwksFile, RefusesHsRsConfusionWithBothConfigured) {
    cfg.hs256_secret = secret;
    const token_verifier v(cfg, nullptr);
    ASSERT_TRUE(verify_bearer(v, hs_token(claims())).has_value());
    ASSERT_TRUE(verify_bearer(v, rs_token(rsa_a(), claims())).has_value());
    for (const std::string& hmac_key : {rsa_a().public_pem(), json::serialize(rsa_a().jwk())}) {
        EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(claims(), hmac_key, "rsa-a")),
                                 token_error::unsupported_algorithm));
        EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(claims(), hmac_key)),
                                 token_error::bad_signature));
    }
}

TEST_F(JwksFile, AcceptsAnOctKeyForHs256) {
    const std::string oct_secret = "another-secret-of-more-than-thirty-two-bytes!";
    cfg.jwks_file =
        dir.write("oct.json", jwks_of({rsa_a().jwk(), json::object{{"kty", "oct"},
                                                                   {"kid", "hs-1"},
                                                                   {"alg", "HS256"},
                                                                   {"k", b64url(oct_secret)}}}));
    const token_verifier v(cfg, nullptr);
    EXPECT_TRUE(verify_bearer(v, hs_token(claims(), oct_secret, "hs-1")).has_value());
    EXPECT_TRUE(verify_bearer(v, hs_token(claims(), oct_secret)).has_value());
    EXPECT_TRUE(refused_with(verify_bearer(v, hs_token(claims(), secret, "hs-1")),
                             token_error::bad_signature));
}

TEST_F(JwksFile, SkipsKeysWhoseOwnAlgDisagrees) {
    json::object ps = rsa_b().jwk();
    ps["alg"] = "PS256";
    json::object enc = ec_other().jwk();
    enc["use"] = "enc";
    enc["kid"] = "ec-enc";
    cfg.jwks_file = dir.write("mixed.json", jwks_of({rsa_a().jwk(), ps, enc}));
    const token_verifier v(cfg, nullptr);
    EXPECT_TRUE(verify_bearer(v, rs_token(rsa_a(), claims())).has_value());
    EXPECT_TRUE(
        refused_with(verify_bearer(v, rs_token(rsa_b(), claims())), token_error::unknown_key));
    const auto es = [](std::string_view in) { return es256(ec_other().pkey.get(), in); };
    EXPECT_TRUE(refused_with(verify_bearer(v, token(header("ES256", "ec-enc"), claims(), es)),
                             token_error::unsupported_algorithm));  // no ES256 key at all
}

TEST_F(JwksFile, VerifiesConcurrentlyFromSeveralThreads) {
    cfg.hs256_secret = secret;
    const token_verifier v(cfg, nullptr);
    const std::vector<std::string> good = {"Bearer " + hs_token(claims()),
                                           "Bearer " + rs_token(rsa_a(), claims()),
                                           "Bearer " + es_token(ec_a(), claims())};
    const std::vector<std::string> bad = {"Bearer " + hs_token(claims(), secret + "x"),
                                          "Bearer " + rs_token(rsa_other(), claims()),
                                          "Bearer " + es_token(ec_other(), claims())};
    asio::io_context ioc;
    std::vector<std::future<result>> accepted;
    std::vector<std::future<result>> refused;
    accepted.reserve(150);
    refused.reserve(150);
    for (int i = 0; i < 150; ++i) {
        accepted.push_back(asio::co_spawn(ioc, v.verify(good[i % 3]), asio::use_future));
        refused.push_back(asio::co_spawn(ioc, v.verify(bad[i % 3]), asio::use_future));
    }
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int i = 0; i < 4; ++i) threads.emplace_back([&ioc] { ioc.run(); });
    for (auto& t : threads) t.join();
    for (auto& f : accepted) EXPECT_TRUE(f.get().has_value());
    for (auto& f : refused) EXPECT_TRUE(refused_with(f.get(), token_error::bad_signature));
}

TEST_F(JwksFile, ThrowsOnAnUnreadableOrInvalidFile) {
    cfg.jwks_file = (dir.path / "absent.json").string();
    EXPECT_THROW(token_verifier(cfg, nullptr), std::runtime_error);
    cfg.jwks_file = dir.write("bad.json", "{not json");
    EXPECT_THROW(token_verifier(cfg, nullptr), std::runtime_error);
    cfg.jwks_file = dir.write("nokeys.json", R"({"kid":"x"})");
    EXPECT_THROW(token_verifier(cfg, nullptr), std::runtime_error);
    cfg.jwks_file = dir.write("unusable.json", jwks_of({json::object{{"kty", "OKP"}}}));
    EXPECT_THROW(token_verifier(cfg, nullptr), std::runtime_error);
}

// --- JWKS from a URL --------------------------------------------------------------------------

struct JwksUrl : ::testing::Test {
    jwks_server server;
    jwt_config cfg;
    harness h;
    void SetUp() override {
        server.set(jwks_of({rsa_a().jwk()}));
        cfg.jwks_url = server.url();
        cfg.jwks_min_refresh = 0s;
    }
    result verify(const token_verifier& v, const std::string& tok) {
        return h.verify(v, "Bearer " + tok);
    }
};

TEST_F(JwksUrl, FetchesOnceAndCaches) {
    const token_verifier v(cfg, &h.client);
    EXPECT_TRUE(verify(v, rs_token(rsa_a(), claims())).has_value());
    EXPECT_TRUE(verify(v, rs_token(rsa_a(), claims())).has_value());
    EXPECT_EQ(server.fetches(), 1);
}

TEST_F(JwksUrl, PicksUpARotatedKeyAfterARefresh) {
    const token_verifier v(cfg, &h.client);
    ASSERT_TRUE(verify(v, rs_token(rsa_a(), claims())).has_value());
    server.set(jwks_of({rsa_a().jwk(), rsa_b().jwk()}));
    const result r = verify(v, rs_token(rsa_b(), claims()));
    EXPECT_TRUE(r.has_value()) << to_string(r.error());
    EXPECT_EQ(server.fetches(), 2);
}

TEST_F(JwksUrl, RateLimitsRefreshesForUnknownKids) {
    cfg.jwks_min_refresh = 3600s;
    const token_verifier v(cfg, &h.client);
    ASSERT_TRUE(verify(v, rs_token(rsa_a(), claims())).has_value());
    server.set(jwks_of({rsa_a().jwk(), rsa_b().jwk()}));
    for (int i = 0; i < 5; ++i) {
        EXPECT_TRUE(refused_with(verify(v, rs_token(rsa_b(), claims())), token_error::unknown_key));
    }
    EXPECT_EQ(server.fetches(), 1);
}

TEST_F(JwksUrl, DoesNotRefetchForAKnownKidOrAnHs256TokenWithTheSecret) {
    cfg.hs256_secret = secret;
    const token_verifier v(cfg, &h.client);
    ASSERT_TRUE(verify(v, rs_token(rsa_a(), claims())).has_value());
    EXPECT_TRUE(verify(v, hs_token(claims(), secret, "legacy-kid")).has_value());
    EXPECT_TRUE(
        refused_with(verify(v, rs_token(rsa_other(), claims())), token_error::bad_signature));
    EXPECT_EQ(server.fetches(), 1);
}

TEST_F(JwksUrl, RefetchesAfterMaxAge) {
    cfg.jwks_max_age = 0s;
    const token_verifier v(cfg, &h.client);
    const std::string tok = rs_token(rsa_a(), claims());
    EXPECT_TRUE(verify(v, tok).has_value());
    EXPECT_TRUE(verify(v, tok).has_value());  // remembered, but the JWKS is due: refetched
    EXPECT_EQ(server.fetches(), 2);
}

TEST_F(JwksUrl, ATokenOfAKeyTakenOutOfTheJwksIsRefusedOnceItIsRefetched) {
    const token_verifier v(cfg, &h.client);
    const std::string old_key = rs_token(rsa_a(), claims());
    ASSERT_TRUE(verify(v, old_key).has_value());  // verified, and remembered
    ASSERT_FALSE(v.check_now("Bearer " + old_key).has_value());
    server.set(jwks_of({rsa_b().jwk()}));                             // rsa_a rotated out
    ASSERT_TRUE(verify(v, rs_token(rsa_b(), claims())).has_value());  // an unknown kid: refetched
    EXPECT_EQ(server.fetches(), 2);
    EXPECT_TRUE(refused_with(verify(v, old_key), token_error::unknown_key));
}

TEST_F(JwksUrl, KeepsTheCachedKeysWhenARefreshFails) {
    cfg.jwks_max_age = 0s;
    const token_verifier v(cfg, &h.client);
    ASSERT_TRUE(verify(v, rs_token(rsa_a(), claims())).has_value());
    server.set("oops", 500);
    EXPECT_TRUE(verify(v, rs_token(rsa_a(), claims())).has_value());
    server.set("{not json");
    EXPECT_TRUE(verify(v, rs_token(rsa_a(), claims())).has_value());
    EXPECT_EQ(server.fetches(), 3);
}

TEST_F(JwksUrl, KeysUnavailableWhenTheUrlIsDown) {
    server.set("oops", 503);
    const token_verifier v(cfg, &h.client);
    EXPECT_TRUE(
        refused_with(verify(v, rs_token(rsa_a(), claims())), token_error::keys_unavailable));
    EXPECT_EQ(server.fetches(), 1);  // once per request, not again for the unknown kid
    EXPECT_TRUE(refused_with(verify(v, es_token(ec_a(), claims())), token_error::keys_unavailable));
    EXPECT_EQ(server.fetches(), 2);
    server.set(jwks_of({rsa_a().jwk()}));  // back up: the next request fetches again
    EXPECT_TRUE(verify(v, rs_token(rsa_a(), claims())).has_value());

    jwt_config refused = cfg;
    refused.jwks_url = closed_port_url();
    const token_verifier w(refused, &h.client);
    EXPECT_TRUE(
        refused_with(verify(w, rs_token(rsa_a(), claims())), token_error::keys_unavailable));
}

TEST_F(JwksUrl, RetriesADownUrlAtMostEveryMinRefresh) {
    server.set("oops", 503);
    cfg.jwks_min_refresh = 3600s;
    const token_verifier v(cfg, &h.client);
    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(
            refused_with(verify(v, rs_token(rsa_a(), claims())), token_error::keys_unavailable));
    }
    EXPECT_EQ(server.fetches(), 1);
}

TEST_F(JwksUrl, RefusesHsRsConfusion) {
    const token_verifier v(cfg, &h.client);
    EXPECT_TRUE(refused_with(verify(v, hs_token(claims(), rsa_a().public_pem(), "rsa-a")),
                             token_error::unsupported_algorithm));
    EXPECT_TRUE(refused_with(verify(v, hs_token(claims(), rsa_a().public_pem())),
                             token_error::unsupported_algorithm));
}

TEST_F(JwksUrl, ConcurrentRequestsShareOneFetch) {
    server.set_delay(300ms);
    const token_verifier v(cfg, &h.client);
    const std::string auth = "Bearer " + rs_token(rsa_a(), claims());
    std::vector<std::future<result>> results;
    results.reserve(24);
    for (int i = 0; i < 24; ++i) {
        results.push_back(asio::co_spawn(h.ioc, v.verify(auth), asio::use_future));
    }
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int i = 0; i < 4; ++i) threads.emplace_back([this] { h.ioc.run(); });
    for (auto& t : threads) t.join();
    for (auto& f : results) {
        const result r = f.get();
        EXPECT_TRUE(r.has_value()) << to_string(r.error());
    }
    EXPECT_EQ(server.fetches(), 1);
}

TEST_F(JwksUrl, ConcurrentUnknownKidsShareOneRefresh) {
    const token_verifier v(cfg, &h.client);
    ASSERT_TRUE(verify(v, rs_token(rsa_a(), claims())).has_value());
    server.set(jwks_of({rsa_a().jwk(), rsa_b().jwk()}));
    server.set_delay(300ms);
    const std::string auth = "Bearer " + rs_token(rsa_b(), claims());
    std::vector<std::future<result>> results;
    results.reserve(16);
    for (int i = 0; i < 16; ++i) {
        results.push_back(asio::co_spawn(h.ioc, v.verify(auth), asio::use_future));
    }
    h.ioc.restart();
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int i = 0; i < 4; ++i) threads.emplace_back([this] { h.ioc.run(); });
    for (auto& t : threads) t.join();
    for (auto& f : results) {
        const result r = f.get();
        EXPECT_TRUE(r.has_value()) << to_string(r.error());
    }
    EXPECT_EQ(server.fetches(), 2);
}

TEST(TokenVerifier, ErrorsHaveMessages) {
    EXPECT_EQ(to_string(token_error::expired), "token expired");
    EXPECT_EQ(to_string(token_error::wrong_audience), "wrong audience");
    EXPECT_EQ(to_string(token_error::wrong_issuer), "wrong issuer");
    EXPECT_NE(to_string(token_error::missing), to_string(token_error::malformed));
}

}  // namespace
}  // namespace switchboard::manage
