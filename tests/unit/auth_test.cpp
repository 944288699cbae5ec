#include "switchboard/ingest/auth.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "support/reference_base64.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace switchboard::ingest {
namespace {

using config::hmac_algorithm;
using config::signature_encoding;
using test::reference_base64;

// --- independent reference implementations (not the code under test) -------------------------

/// HMAC with OpenSSL's one-shot HMAC(), which the code under test does not use.
std::string reference_hmac(hmac_algorithm alg, std::string_view key, std::string_view data) {
    const EVP_MD* md = alg == hmac_algorithm::sha1     ? EVP_sha1()
                       : alg == hmac_algorithm::sha512 ? EVP_sha512()
                                                       : EVP_sha256();
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const unsigned char* r =
        HMAC(md, key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
    EXPECT_NE(r, nullptr);
    return {reinterpret_cast<const char*>(out), len};
}

std::string reference_hex(std::string_view bytes) {
    std::string out;
    for (unsigned char c : bytes) {
        out += "0123456789abcdef"[c >> 4];
        out += "0123456789abcdef"[c & 15];
    }
    return out;
}

// --- fixtures ---------------------------------------------------------------------------------

constexpr std::int64_t k_now_ms = 1'749'737'004'500;  // 2025-06-12T14:03:24.500Z
constexpr std::string_view k_now_s = "1749737004";    // the same instant in whole seconds
const std::string k_body = R"({"message":{"type":"hang","timestamp":1749737004100}})";

http::request make_request(std::string body = k_body) {
    http::request req{http::verb::post, "/vapi/webhook", 11};
    req.set(boost::beast::http::field::host, "hooks.example.com");
    req.set(boost::beast::http::field::content_type, "application/json");
    req.body() = std::move(body);
    return req;
}

config::auth_config hmac_only(std::string secret = "whsec_test_secret") {
    config::auth_config cfg;
    cfg.hmac.secret = std::move(secret);
    return cfg;
}

// --- general ----------------------------------------------------------------------------------

TEST(Authenticator, DisabledWithoutSchemesAcceptsAnything) {
    config::auth_config cfg;
    cfg.allow_unauthenticated = true;
    const authenticator auth(cfg);
    EXPECT_FALSE(auth.enabled());
    auto req = make_request();
    EXPECT_EQ(auth.check(req, k_now_ms), std::nullopt);
    req.set("X-Vapi-Secret", "anything");
    EXPECT_EQ(auth.check(req, k_now_ms), std::nullopt);
}

TEST(Authenticator, EnabledWithAnyScheme) {
    config::auth_config cfg;
    cfg.secret = "s";
    EXPECT_TRUE(authenticator(cfg).enabled());
    cfg = {};
    cfg.bearer_token = "t";
    EXPECT_TRUE(authenticator(cfg).enabled());
    EXPECT_TRUE(authenticator(hmac_only()).enabled());
}

TEST(Authenticator, FailureNames) {
    EXPECT_EQ(to_string(auth_failure::missing_credentials), "missing_credentials");
    EXPECT_EQ(to_string(auth_failure::wrong_secret), "wrong_secret");
    EXPECT_EQ(to_string(auth_failure::wrong_token), "wrong_token");
    EXPECT_EQ(to_string(auth_failure::bad_signature), "bad_signature");
    EXPECT_EQ(to_string(auth_failure::malformed_timestamp), "malformed_timestamp");
    EXPECT_EQ(to_string(auth_failure::stale_timestamp), "stale_timestamp");
}

// --- static shared secret ---------------------------------------------------------------------

config::auth_config secret_only(std::string header = "X-Vapi-Secret") {
    config::auth_config cfg;
    cfg.secret = "s3cret-Value";
    cfg.secret_header = std::move(header);
    return cfg;
}

TEST(AuthSecret, AcceptsTheRightSecret) {
    const authenticator auth(secret_only());
    auto req = make_request();
    req.set("X-Vapi-Secret", "s3cret-Value");
    EXPECT_EQ(auth.check(req, k_now_ms), std::nullopt);
}

TEST(AuthSecret, RefusesWrongSecrets) {
    const authenticator auth(secret_only());
    // (Surrounding whitespace is not tried: Beast, like the HTTP parser, trims it.)
    for (const char* wrong : {"s3cret-value", "S3CRET-VALUE", "s3cret-Valu", "s3cret-Valuex",
                              "s3cret-Value\t.", "x", "Bearer s3cret-Value"}) {
        SCOPED_TRACE(wrong);
        auto req = make_request();
        req.set("X-Vapi-Secret", wrong);
        EXPECT_EQ(auth.check(req, k_now_ms), auth_failure::wrong_secret);
    }
}

TEST(AuthSecret, EmptyHeaderValueIsWrongNotMissing) {
    const authenticator auth(secret_only());
    auto req = make_request();
    req.set("X-Vapi-Secret", "");
    EXPECT_EQ(auth.check(req, k_now_ms), auth_failure::wrong_secret);
}

TEST(AuthSecret, MissingHeader) {
    const authenticator auth(secret_only());
    auto req = make_request();
    req.set("X-Other", "s3cret-Value");
    EXPECT_EQ(auth.check(req, k_now_ms), auth_failure::missing_credentials);
}

TEST(AuthSecret, HeaderNameIsCaseInsensitive) {
    const authenticator auth(secret_only());
    for (const char* name : {"x-vapi-secret", "X-VAPI-SECRET", "x-Vapi-sEcReT"}) {
        SCOPED_TRACE(name);
        auto req = make_request();
        req.set(name, "s3cret-Value");
        EXPECT_EQ(auth.check(req, k_now_ms), std::nullopt);
    }
}

TEST(AuthSecret, CustomHeaderName) {
    const authenticator auth(secret_only("X-Webhook-Secret"));
    auto req = make_request();
    req.set("x-webhook-secret", "s3cret-Value");
    EXPECT_EQ(auth.check(req, k_now_ms), std::nullopt);

    auto on_default = make_request();
    on_default.set("X-Vapi-Secret", "s3cret-Value");
    EXPECT_EQ(auth.check(on_default, k_now_ms), auth_failure::missing_credentials);
}

// --- bearer token -----------------------------------------------------------------------------

config::auth_config bearer_only(bool prefix = true, std::string header = "Authorization") {
    config::auth_config cfg;
    cfg.bearer_token = "tok-9f8e7d";
    cfg.bearer_prefix = prefix;
    cfg.bearer_header = std::move(header);
    return cfg;
}

std::optional<auth_failure> check_bearer(const authenticator& auth, std::string_view value,
                                         std::string_view header = "Authorization") {
    auto req = make_request();
    req.set(header, value);
    return auth.check(req, k_now_ms);
}

TEST(AuthBearer, AcceptsBearerPrefixInAnyCase) {
    const authenticator auth(bearer_only());
    EXPECT_EQ(check_bearer(auth, "Bearer tok-9f8e7d"), std::nullopt);
    EXPECT_EQ(check_bearer(auth, "bearer tok-9f8e7d"), std::nullopt);
    EXPECT_EQ(check_bearer(auth, "BEARER tok-9f8e7d"), std::nullopt);
    EXPECT_EQ(check_bearer(auth, "Bearer tok-9f8e7d", "authorization"), std::nullopt);
}

TEST(AuthBearer, RefusesWrongOrUnprefixedTokens) {
    const authenticator auth(bearer_only());
    EXPECT_EQ(check_bearer(auth, "Bearer tok-9f8e7e"), auth_failure::wrong_token);
    EXPECT_EQ(check_bearer(auth, "Bearer TOK-9F8E7D"), auth_failure::wrong_token);
    EXPECT_EQ(check_bearer(auth, "tok-9f8e7d"), auth_failure::wrong_token);
    EXPECT_EQ(check_bearer(auth, "Basic tok-9f8e7d"), auth_failure::wrong_token);
    EXPECT_EQ(check_bearer(auth, "Bearer"), auth_failure::wrong_token);
    EXPECT_EQ(check_bearer(auth, "Bearer "), auth_failure::wrong_token);
    EXPECT_EQ(check_bearer(auth, "Bearertok-9f8e7d"), auth_failure::wrong_token);
    EXPECT_EQ(check_bearer(auth, "Bearer tok-9f8e7d2"), auth_failure::wrong_token);
}

TEST(AuthBearer, MissingHeader) {
    const authenticator auth(bearer_only());
    EXPECT_EQ(auth.check(make_request(), k_now_ms), auth_failure::missing_credentials);
}

TEST(AuthBearer, WithoutPrefixExpectsTheBareToken) {
    const authenticator auth(bearer_only(false));
    EXPECT_EQ(check_bearer(auth, "tok-9f8e7d"), std::nullopt);
    EXPECT_EQ(check_bearer(auth, "Bearer tok-9f8e7d"), auth_failure::wrong_token);
    EXPECT_EQ(check_bearer(auth, "tok-9f8e7"), auth_failure::wrong_token);
}

TEST(AuthBearer, CustomHeaderName) {
    const authenticator auth(bearer_only(false, "X-Api-Key"));
    EXPECT_EQ(check_bearer(auth, "tok-9f8e7d", "x-api-key"), std::nullopt);
    EXPECT_EQ(check_bearer(auth, "tok-9f8e7d", "Authorization"), auth_failure::missing_credentials);
}

// --- HMAC -------------------------------------------------------------------------------------

http::request signed_at_with(std::string_view timestamp, std::string_view signature) {
    auto req = make_request();
    req.set("x-timestamp", timestamp);
    req.set("x-signature", signature);
    return req;
}

TEST(AuthHmac, FixedVectorSha256Hex) {
    // Computed with python3: hmac.new(b"whsec_test_secret", b"1749737004." + body, sha256).
    const authenticator auth(hmac_only());
    auto req = make_request();
    req.set("x-timestamp", k_now_s);
    req.set("x-signature", "da3548c4f79ce2e072a6048fb05bdd50ba06c67afd4cef1d9f2bde4c754354ed");
    EXPECT_EQ(auth.check(req, k_now_ms), std::nullopt);
    EXPECT_EQ(auth.sign(k_now_s, k_body),
              "da3548c4f79ce2e072a6048fb05bdd50ba06c67afd4cef1d9f2bde4c754354ed");
}

// During a rotation the previous credential of each scheme is accepted too; a third is not.
TEST(AuthRotation, ThePreviousCredentialIsAcceptedToo) {
    config::auth_config cfg = secret_only();
    cfg.secret_previous = "old-secret";
    cfg.bearer_token = "tok-new";
    cfg.bearer_token_previous = "tok-old";
    const authenticator auth(cfg);
    for (const char* good : {"s3cret-Value", "old-secret"}) {
        auto req = make_request();
        req.set("X-Vapi-Secret", good);
        EXPECT_EQ(auth.check(req, k_now_ms), std::nullopt) << good;
        EXPECT_EQ(auth.check_header(req, k_now_ms), std::nullopt) << good;
    }
    auto other = make_request();
    other.set("X-Vapi-Secret", "older-secret");
    EXPECT_EQ(auth.check(other, k_now_ms), auth_failure::wrong_secret);
    EXPECT_EQ(check_bearer(auth, "Bearer tok-old"), std::nullopt);
    EXPECT_EQ(check_bearer(auth, "Bearer tok-new"), std::nullopt);
    EXPECT_EQ(check_bearer(auth, "Bearer tok-older"), auth_failure::wrong_token);

    auto hmac_cfg = hmac_only("whsec_new");
    hmac_cfg.hmac.secret_previous = "whsec_test_secret";
    const authenticator rotating(hmac_cfg);
    // Signed with the previous secret (the fixed vector above) and with the new one.
    auto old_signed =
        signed_at_with(k_now_s, "da3548c4f79ce2e072a6048fb05bdd50ba06c67afd4cef1d9f2bde4c754354ed");
    EXPECT_EQ(rotating.check(old_signed, k_now_ms), std::nullopt);
    auto new_signed =
        signed_at_with(k_now_s, authenticator(hmac_only("whsec_new")).sign(k_now_s, k_body));
    EXPECT_EQ(rotating.check(new_signed, k_now_ms), std::nullopt);
    auto third =
        signed_at_with(k_now_s, authenticator(hmac_only("whsec_other")).sign(k_now_s, k_body));
    EXPECT_EQ(rotating.check(third, k_now_ms), auth_failure::bad_signature);
    // Without the previous secret the old signature is refused.
    EXPECT_EQ(authenticator(hmac_only("whsec_new")).check(old_signed, k_now_ms),
              auth_failure::bad_signature);
}

TEST(AuthHmac, FixedVectorSha256Base64) {
    auto cfg = hmac_only();
    cfg.hmac.encoding = signature_encoding::base64;
    const authenticator auth(cfg);
    auto req = make_request();
    req.set("x-timestamp", k_now_s);
    req.set("x-signature", "2jVIxPec4uBypgSPsFvdULoGxnr9TO8dnyveTHVDVO0=");
    EXPECT_EQ(auth.check(req, k_now_ms), std::nullopt);
}

TEST(AuthHmac, UppercaseHexSignatureAccepted) {
    const authenticator auth(hmac_only());
    auto req = make_request();
    req.set("x-timestamp", k_now_s);
    req.set("x-signature", "DA3548C4F79CE2E072A6048FB05BDD50BA06C67AFD4CEF1D9F2BDE4C754354ED");
    EXPECT_EQ(auth.check(req, k_now_ms), std::nullopt);
}

struct hmac_case {
    hmac_algorithm algorithm;
    signature_encoding encoding;
    const char* name;
};

class AuthHmacMatrix : public ::testing::TestWithParam<hmac_case> {};

TEST_P(AuthHmacMatrix, AcceptsIndependentlyComputedSignatureAndRefusesTampering) {
    const auto& p = GetParam();
    auto cfg = hmac_only("the-shared-secret");
    cfg.hmac.algorithm = p.algorithm;
    cfg.hmac.encoding = p.encoding;
    const authenticator auth(cfg);

    const std::string raw =
        reference_hmac(p.algorithm, "the-shared-secret", std::string(k_now_s) + "." + k_body);
    const std::string sig =
        p.encoding == signature_encoding::hex ? reference_hex(raw) : reference_base64(raw);
    EXPECT_EQ(auth.sign(k_now_s, k_body), sig);

    auto req = make_request();
    req.set("x-timestamp", k_now_s);
    req.set("x-signature", sig);
    EXPECT_EQ(auth.check(req, k_now_ms), std::nullopt);

    auto tampered = make_request(R"({"message":{"type":"hang","timestamp":1749737004101}})");
    tampered.set("x-timestamp", k_now_s);
    tampered.set("x-signature", sig);
    EXPECT_EQ(auth.check(tampered, k_now_ms), auth_failure::bad_signature);

    auto other_ts = make_request();
    other_ts.set("x-timestamp", "1749737005");  // inside the window, but not what was signed
    other_ts.set("x-signature", sig);
    EXPECT_EQ(auth.check(other_ts, k_now_ms), auth_failure::bad_signature);

    auto flipped = make_request();
    std::string bad_sig = sig;
    bad_sig[0] = bad_sig[0] == 'A' ? 'B' : 'A';
    if (p.encoding == signature_encoding::hex) bad_sig[0] = sig[0] == '0' ? '1' : '0';
    flipped.set("x-timestamp", k_now_s);
    flipped.set("x-signature", bad_sig);
    EXPECT_EQ(auth.check(flipped, k_now_ms), auth_failure::bad_signature);

    // Another algorithm's MAC of the same payload is not accepted.
    const auto other_alg =
        p.algorithm == hmac_algorithm::sha256 ? hmac_algorithm::sha512 : hmac_algorithm::sha256;
    const std::string other_raw =
        reference_hmac(other_alg, "the-shared-secret", std::string(k_now_s) + "." + k_body);
    auto wrong_alg = make_request();
    wrong_alg.set("x-timestamp", k_now_s);
    wrong_alg.set("x-signature", p.encoding == signature_encoding::hex
                                     ? reference_hex(other_raw)
                                     : reference_base64(other_raw));
    EXPECT_EQ(auth.check(wrong_alg, k_now_ms), auth_failure::bad_signature);

    // The right MAC under another key is not accepted.
    const std::string other_key =
        reference_hmac(p.algorithm, "another-secret", std::string(k_now_s) + "." + k_body);
    auto wrong_key = make_request();
    wrong_key.set("x-timestamp", k_now_s);
    wrong_key.set("x-signature", p.encoding == signature_encoding::hex
                                     ? reference_hex(other_key)
                                     : reference_base64(other_key));
    EXPECT_EQ(auth.check(wrong_key, k_now_ms), auth_failure::bad_signature);
}

INSTANTIATE_TEST_SUITE_P(
    AllAlgorithmsAndEncodings, AuthHmacMatrix,
    ::testing::Values(
        hmac_case{hmac_algorithm::sha256, signature_encoding::hex, "sha256_hex"},
        hmac_case{hmac_algorithm::sha256, signature_encoding::base64, "sha256_base64"},
        hmac_case{hmac_algorithm::sha512, signature_encoding::hex, "sha512_hex"},
        hmac_case{hmac_algorithm::sha512, signature_encoding::base64, "sha512_base64"},
        hmac_case{hmac_algorithm::sha1, signature_encoding::hex, "sha1_hex"},
        hmac_case{hmac_algorithm::sha1, signature_encoding::base64, "sha1_base64"}),
    [](const ::testing::TestParamInfo<hmac_case>& param_info) {
        return std::string(param_info.param.name);
    });

TEST(AuthHmac, SignaturePrefix) {
    auto cfg = hmac_only();
    cfg.hmac.signature_prefix = "sha256=";
    const authenticator auth(cfg);
    const std::string hex = reference_hex(reference_hmac(
        hmac_algorithm::sha256, "whsec_test_secret", std::string(k_now_s) + "." + k_body));
    EXPECT_EQ(auth.sign(k_now_s, k_body), "sha256=" + hex);

    auto with_prefix = make_request();
    with_prefix.set("x-timestamp", k_now_s);
    with_prefix.set("x-signature", "sha256=" + hex);
    EXPECT_EQ(auth.check(with_prefix, k_now_ms), std::nullopt);

    for (const std::string& bad :
         {hex, "sha512=" + hex, "SHA256=" + hex, "sha256=" + hex + "00", std::string("sha256=")}) {
        SCOPED_TRACE(bad);
        auto req = make_request();
        req.set("x-timestamp", k_now_s);
        req.set("x-signature", bad);
        EXPECT_EQ(auth.check(req, k_now_ms), auth_failure::bad_signature);
    }
}

TEST(AuthHmac, SecretIsBase64) {
    auto cfg = hmac_only("c2VjcmV0LWtleS1ieXRlcw==");  // "secret-key-bytes"
    cfg.hmac.secret_is_base64 = true;
    const authenticator auth(cfg);

    auto req = make_request();
    req.set("x-timestamp", k_now_s);
    req.set("x-signature", reference_hex(reference_hmac(hmac_algorithm::sha256, "secret-key-bytes",
                                                        std::string(k_now_s) + "." + k_body)));
    EXPECT_EQ(auth.check(req, k_now_ms), std::nullopt);

    // Signed with the base64 text itself as the key: refused.
    auto text_key = make_request();
    text_key.set("x-timestamp", k_now_s);
    text_key.set("x-signature",
                 reference_hex(reference_hmac(hmac_algorithm::sha256, "c2VjcmV0LWtleS1ieXRlcw==",
                                              std::string(k_now_s) + "." + k_body)));
    EXPECT_EQ(auth.check(text_key, k_now_ms), auth_failure::bad_signature);
}

TEST(AuthHmac, SecretIsBase64WithBinaryKey) {
    const std::string key("\x00\xff\x10\x80\x7f secret", 12);
    auto cfg = hmac_only(reference_base64(key));
    cfg.hmac.secret_is_base64 = true;
    const authenticator auth(cfg);
    auto req = make_request();
    req.set("x-timestamp", k_now_s);
    req.set("x-signature", reference_hex(reference_hmac(hmac_algorithm::sha256, key,
                                                        std::string(k_now_s) + "." + k_body)));
    EXPECT_EQ(auth.check(req, k_now_ms), std::nullopt);
}

TEST(AuthHmac, InvalidBase64SecretIsAConfigError) {
    for (const char* bad : {"not base64!!", "c2VjcmV0LWtleS1ieXRlcw===", "c2VjcmV0LWtleS1ieXRlc",
                            "c2VjcmV0=LWtleS1ieXRlcw=="}) {
        SCOPED_TRACE(bad);
        auto cfg = hmac_only(bad);
        cfg.hmac.secret_is_base64 = true;
        EXPECT_THROW(authenticator{cfg}, config::config_error);
    }
}

// What the header alone decides (before the body is read): a failure only when no scheme can
// still pass.
TEST(AuthHeader, SecretAndBearerAreDecidedFromTheHeader) {
    const authenticator secret(secret_only());
    auto req = make_request();
    EXPECT_EQ(secret.check_header(req, k_now_ms), auth_failure::missing_credentials);
    req.set("X-Vapi-Secret", "wrong");
    EXPECT_EQ(secret.check_header(req, k_now_ms), auth_failure::wrong_secret);
    req.set("X-Vapi-Secret", "s3cret-Value");
    EXPECT_EQ(secret.check_header(req, k_now_ms), std::nullopt);

    const authenticator bearer(bearer_only());
    auto breq = make_request();
    breq.set("Authorization", "Bearer nope");
    EXPECT_EQ(bearer.check_header(breq, k_now_ms), auth_failure::wrong_token);
}

TEST(AuthHeader, AnHmacSignatureIsDecidedWithTheBody) {
    const authenticator auth(hmac_only());
    // A signature (right or wrong) needs the body: not refused from the header.
    EXPECT_EQ(auth.check_header(signed_at_with(k_now_s, "00"), k_now_ms), std::nullopt);
    // No signature, a malformed or stale timestamp: refused from the header.
    EXPECT_EQ(auth.check_header(make_request(), k_now_ms), auth_failure::missing_credentials);
    EXPECT_EQ(auth.check_header(signed_at_with("soon", "00"), k_now_ms),
              auth_failure::malformed_timestamp);
    EXPECT_EQ(auth.check_header(signed_at_with("1000000000", "00"), k_now_ms),
              auth_failure::stale_timestamp);
    // And the full check agrees on the wrong signature.
    EXPECT_EQ(auth.check(signed_at_with(k_now_s, "00"), k_now_ms), auth_failure::bad_signature);
}

TEST(AuthHeader, DisabledPassesEverything) {
    config::auth_config none;
    none.allow_unauthenticated = true;
    const authenticator auth(none);
    EXPECT_EQ(auth.check_header(make_request(), k_now_ms), std::nullopt);
}

TEST(AuthHmac, APayloadFormatOfTooManyPartsIsAConfigError) {
    // Refused at start-up, not by refusing every request as badly signed.
    auto cfg = hmac_only();
    cfg.hmac.payload_format =
        "{timestamp}.{body}.{method}.{url}.{svix-id}.{timestamp}.{body}.{method}.{url}";
    EXPECT_THROW(authenticator{cfg}, config::config_error);
    cfg.hmac.payload_format =
        "{timestamp}.{body}.{method}.{url}.{svix-id}.{timestamp}.{body}.{method}";
    EXPECT_NO_THROW(authenticator{cfg});
}

TEST(AuthHmac, Base64SignatureWithSurplusCharactersIsRefused) {
    auto cfg = hmac_only();
    cfg.hmac.encoding = signature_encoding::base64;
    const authenticator auth(cfg);
    const std::string sig = "2jVIxPec4uBypgSPsFvdULoGxnr9TO8dnyveTHVDVO0=";  // the fixed vector
    ASSERT_EQ(auth.check(signed_at_with(k_now_s, sig), k_now_ms), std::nullopt);
    ASSERT_EQ(auth.check(signed_at_with(k_now_s, sig.substr(0, 43)), k_now_ms), std::nullopt);
    for (const std::string& bad : {sig + "=", sig + "A", sig + "AA==", sig.substr(0, 43) + "==",
                                   sig.substr(0, 42) + "A=", sig.substr(0, 44) + "Zm9v"}) {
        SCOPED_TRACE(bad);
        EXPECT_EQ(auth.check(signed_at_with(k_now_s, bad), k_now_ms), auth_failure::bad_signature);
    }
}

TEST(AuthHmac, PayloadFormatWithMethodAndMessageId) {
    auto cfg = hmac_only();
    cfg.hmac.payload_format = "{method}:{svix-id}:{timestamp}:{body}";
    cfg.hmac.message_id_header = "svix-id";
    const authenticator auth(cfg);
    const std::string expected =
        reference_hex(reference_hmac(hmac_algorithm::sha256, "whsec_test_secret",
                                     "POST:msg_2Q4x:" + std::string(k_now_s) + ":" + k_body));
    EXPECT_EQ(auth.sign(k_now_s, k_body, "POST", {}, "msg_2Q4x"), expected);

    auto req = make_request();
    req.set("x-timestamp", k_now_s);
    req.set("svix-id", "msg_2Q4x");
    req.set("x-signature", expected);
    EXPECT_EQ(auth.check(req, k_now_ms), std::nullopt);

    auto other_id = make_request();
    other_id.set("x-timestamp", k_now_s);
    other_id.set("svix-id", "msg_2Q4y");
    other_id.set("x-signature", expected);
    EXPECT_EQ(auth.check(other_id, k_now_ms), auth_failure::bad_signature);

    auto no_id = make_request();
    no_id.set("x-timestamp", k_now_s);
    no_id.set("x-signature", expected);
    EXPECT_EQ(auth.check(no_id, k_now_ms), auth_failure::bad_signature);

    auto put = make_request();
    put.method(http::verb::put);
    put.set("x-timestamp", k_now_s);
    put.set("svix-id", "msg_2Q4x");
    put.set("x-signature", expected);
    EXPECT_EQ(auth.check(put, k_now_ms), auth_failure::bad_signature);
}

TEST(AuthHmac, PayloadFormatWithUrl) {
    auto cfg = hmac_only();
    cfg.hmac.payload_format = "{url}|{timestamp}|{body}";
    const authenticator auth(cfg);

    auto req = make_request();
    req.target("/vapi/webhook?tenant=7");
    req.set("X-Forwarded-Proto", "https");
    req.set("x-timestamp", k_now_s);
    req.set("x-signature",
            reference_hex(reference_hmac(hmac_algorithm::sha256, "whsec_test_secret",
                                         "https://hooks.example.com/vapi/webhook?tenant=7|" +
                                             std::string(k_now_s) + "|" + k_body)));
    EXPECT_EQ(auth.check(req, k_now_ms), std::nullopt);

    // Without X-Forwarded-Proto the scheme is http.
    auto plain = make_request();
    plain.target("/vapi/webhook");
    plain.set("x-timestamp", k_now_s);
    plain.set("x-signature",
              reference_hex(reference_hmac(
                  hmac_algorithm::sha256, "whsec_test_secret",
                  "http://hooks.example.com/vapi/webhook|" + std::string(k_now_s) + "|" + k_body)));
    EXPECT_EQ(auth.check(plain, k_now_ms), std::nullopt);
}

TEST(AuthHmac, LiteralBracesInFormatAreSignedVerbatim) {
    auto cfg = hmac_only();
    cfg.hmac.payload_format = "v1:{timestamp}:{unknown}:{body}";
    const authenticator auth(cfg);
    auto req = make_request();
    req.set("x-timestamp", k_now_s);
    req.set("x-signature",
            reference_hex(reference_hmac(hmac_algorithm::sha256, "whsec_test_secret",
                                         "v1:" + std::string(k_now_s) + ":{unknown}:" + k_body)));
    EXPECT_EQ(auth.check(req, k_now_ms), std::nullopt);
}

TEST(AuthHmac, CustomHeaderNames) {
    auto cfg = hmac_only();
    cfg.hmac.signature_header = "X-Vapi-Signature";
    cfg.hmac.timestamp_header = "X-Vapi-Timestamp";
    const authenticator auth(cfg);
    auto req = make_request();
    req.set("x-vapi-timestamp", k_now_s);
    req.set("x-vapi-signature", auth.sign(k_now_s, k_body));
    EXPECT_EQ(auth.check(req, k_now_ms), std::nullopt);

    auto defaults = make_request();
    defaults.set("x-timestamp", k_now_s);
    defaults.set("x-signature", auth.sign(k_now_s, k_body));
    EXPECT_EQ(auth.check(defaults, k_now_ms), auth_failure::missing_credentials);
}

/// A request correctly signed at `timestamp`, so that only the replay window can refuse it.
http::request signed_at(std::string_view timestamp) {
    auto req = make_request();
    req.set("x-timestamp", timestamp);
    req.set("x-signature", reference_hex(reference_hmac(hmac_algorithm::sha256, "whsec_test_secret",
                                                        std::string(timestamp) + "." + k_body)));
    return req;
}

TEST(AuthHmac, TimestampInSecondsOrMilliseconds) {
    const authenticator auth(hmac_only());
    EXPECT_EQ(auth.check(signed_at("1749737004"), k_now_ms), std::nullopt);
    EXPECT_EQ(auth.check(signed_at("1749737004500"), k_now_ms), std::nullopt);
    EXPECT_EQ(auth.check(signed_at("1749737004.123"), k_now_ms), std::nullopt);
}

TEST(AuthHmac, StaleTimestampsOutsideTheWindow) {
    const authenticator auth(hmac_only());  // max_skew 300 s
    const std::int64_t now_s = k_now_ms / 1000;
    // Seconds, past and future.
    EXPECT_EQ(auth.check(signed_at(std::to_string(now_s - 301)), k_now_ms),
              auth_failure::stale_timestamp);
    EXPECT_EQ(auth.check(signed_at(std::to_string(now_s + 302)), k_now_ms),
              auth_failure::stale_timestamp);
    EXPECT_EQ(auth.check(signed_at(std::to_string(now_s - 86'400)), k_now_ms),
              auth_failure::stale_timestamp);
    // Milliseconds, past and future, just outside.
    EXPECT_EQ(auth.check(signed_at(std::to_string(k_now_ms - 300'001)), k_now_ms),
              auth_failure::stale_timestamp);
    EXPECT_EQ(auth.check(signed_at(std::to_string(k_now_ms + 300'001)), k_now_ms),
              auth_failure::stale_timestamp);
    // Just inside, and exactly on the edge.
    EXPECT_EQ(auth.check(signed_at(std::to_string(k_now_ms - 299'999)), k_now_ms), std::nullopt);
    EXPECT_EQ(auth.check(signed_at(std::to_string(k_now_ms + 300'000)), k_now_ms), std::nullopt);
    EXPECT_EQ(auth.check(signed_at(std::to_string(k_now_ms - 300'000)), k_now_ms), std::nullopt);
    EXPECT_EQ(auth.check(signed_at(std::to_string(now_s - 299)), k_now_ms), std::nullopt);
    // Epoch zero is not "now".
    EXPECT_EQ(auth.check(signed_at("0"), k_now_ms), auth_failure::stale_timestamp);
}

TEST(AuthHmac, CustomMaxSkew) {
    auto cfg = hmac_only();
    cfg.hmac.max_skew = std::chrono::seconds(10);
    const authenticator auth(cfg);
    EXPECT_EQ(auth.check(signed_at(std::to_string(k_now_ms - 9'000)), k_now_ms), std::nullopt);
    EXPECT_EQ(auth.check(signed_at(std::to_string(k_now_ms - 11'000)), k_now_ms),
              auth_failure::stale_timestamp);
    EXPECT_EQ(auth.check(signed_at(std::to_string(k_now_ms + 11'000)), k_now_ms),
              auth_failure::stale_timestamp);
}

TEST(AuthHmac, MalformedTimestamps) {
    const authenticator auth(hmac_only());
    for (const char* bad : {"abc", "-1749737004", "1749737004x", "1749737004.12a", "1.2.3", ".5",
                            "1e9", "0x10", "+1749737004", "1749737004 1"}) {
        SCOPED_TRACE(bad);
        EXPECT_EQ(auth.check(signed_at(bad), k_now_ms), auth_failure::malformed_timestamp);
    }
    auto no_ts = make_request();
    no_ts.set("x-signature", auth.sign(k_now_s, k_body));
    EXPECT_EQ(auth.check(no_ts, k_now_ms), auth_failure::malformed_timestamp);
}

TEST(AuthHmac, MissingOrUndecodableSignature) {
    const authenticator auth(hmac_only());
    auto missing = make_request();
    missing.set("x-timestamp", k_now_s);
    EXPECT_EQ(auth.check(missing, k_now_ms), auth_failure::missing_credentials);

    const std::string good = auth.sign(k_now_s, k_body);
    for (const std::string& bad :
         {std::string("zz") + good.substr(2), good.substr(1), good.substr(0, 32), good + "00",
          std::string("not-a-signature")}) {
        SCOPED_TRACE(bad);
        auto req = make_request();
        req.set("x-timestamp", k_now_s);
        req.set("x-signature", bad);
        EXPECT_EQ(auth.check(req, k_now_ms), auth_failure::bad_signature);
    }
}

TEST(AuthHmac, EmptyBodyIsSignedToo) {
    const authenticator auth(hmac_only());
    auto req = make_request("");
    req.set("x-timestamp", k_now_s);
    req.set("x-signature", reference_hex(reference_hmac(hmac_algorithm::sha256, "whsec_test_secret",
                                                        std::string(k_now_s) + ".")));
    EXPECT_EQ(auth.check(req, k_now_ms), std::nullopt);
}

// --- several schemes ---------------------------------------------------------------------------

config::auth_config all_schemes() {
    config::auth_config cfg;
    cfg.secret = "static-secret";
    cfg.bearer_token = "bearer-token";
    cfg.hmac.secret = "whsec_test_secret";
    return cfg;
}

TEST(AuthSeveralSchemes, AnyOneSchemeIsEnough) {
    const authenticator auth(all_schemes());

    auto by_secret = make_request();
    by_secret.set("X-Vapi-Secret", "static-secret");
    EXPECT_EQ(auth.check(by_secret, k_now_ms), std::nullopt);

    auto by_bearer = make_request();
    by_bearer.set("Authorization", "Bearer bearer-token");
    EXPECT_EQ(auth.check(by_bearer, k_now_ms), std::nullopt);

    EXPECT_EQ(auth.check(signed_at(k_now_s), k_now_ms), std::nullopt);
}

TEST(AuthSeveralSchemes, OneGoodCredentialOutweighsBadOnes) {
    const authenticator auth(all_schemes());
    auto req = signed_at(k_now_s);
    req.set("X-Vapi-Secret", "wrong");
    req.set("Authorization", "Bearer wrong");
    EXPECT_EQ(auth.check(req, k_now_ms), std::nullopt);

    auto bearer_ok = make_request();
    bearer_ok.set("X-Vapi-Secret", "wrong");
    bearer_ok.set("Authorization", "Bearer bearer-token");
    EXPECT_EQ(auth.check(bearer_ok, k_now_ms), std::nullopt);
}

TEST(AuthSeveralSchemes, ReportsTheCredentialThatWasWrong) {
    const authenticator auth(all_schemes());
    EXPECT_EQ(auth.check(make_request(), k_now_ms), auth_failure::missing_credentials);

    auto wrong_secret = make_request();
    wrong_secret.set("X-Vapi-Secret", "wrong");
    EXPECT_EQ(auth.check(wrong_secret, k_now_ms), auth_failure::wrong_secret);

    auto wrong_token = make_request();
    wrong_token.set("Authorization", "Bearer wrong");
    EXPECT_EQ(auth.check(wrong_token, k_now_ms), auth_failure::wrong_token);

    auto bad_sig = make_request();
    bad_sig.set("x-timestamp", k_now_s);
    bad_sig.set("x-signature", std::string(64, '0'));
    EXPECT_EQ(auth.check(bad_sig, k_now_ms), auth_failure::bad_signature);

    EXPECT_EQ(auth.check(signed_at(std::to_string(k_now_ms - 3'600'000)), k_now_ms),
              auth_failure::stale_timestamp);
}

TEST(AuthSeveralSchemes, SecretIsNotAcceptedAsBearerTokenOrViceVersa) {
    const authenticator auth(all_schemes());
    auto swapped = make_request();
    swapped.set("X-Vapi-Secret", "bearer-token");
    swapped.set("Authorization", "Bearer static-secret");
    const auto r = auth.check(swapped, k_now_ms);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(*r == auth_failure::wrong_secret || *r == auth_failure::wrong_token)
        << to_string(*r);
}

}  // namespace
}  // namespace switchboard::ingest
