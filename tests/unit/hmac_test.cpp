#include "switchboard/ingest/hmac.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>

namespace switchboard::ingest {
namespace {

using config::hmac_algorithm;

std::string mac_hex(hmac_algorithm alg, std::string key,
                    std::initializer_list<std::string_view> parts) {
    const hmac h(alg, std::move(key));
    hmac::digest d{};
    const std::size_t n = h.compute(std::span(parts.begin(), parts.size()), d);
    EXPECT_EQ(n, h.digest_size());
    return encode_hex(std::string_view(reinterpret_cast<const char*>(d.data()), n));
}

// RFC 4231 (HMAC-SHA-256/512) and RFC 2202 (HMAC-SHA-1) test vectors.
TEST(Hmac, Rfc4231TestCase1) {
    const std::string key(20, '\x0b');
    EXPECT_EQ(mac_hex(hmac_algorithm::sha256, key, {"Hi There"}),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    EXPECT_EQ(mac_hex(hmac_algorithm::sha512, key, {"Hi There"}),
              "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
              "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
}

TEST(Hmac, Rfc4231TestCase2AndRfc2202) {
    EXPECT_EQ(mac_hex(hmac_algorithm::sha256, "Jefe", {"what do ya want for nothing?"}),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    EXPECT_EQ(mac_hex(hmac_algorithm::sha512, "Jefe", {"what do ya want for nothing?"}),
              "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
              "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
    EXPECT_EQ(mac_hex(hmac_algorithm::sha1, "Jefe", {"what do ya want for nothing?"}),
              "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

TEST(Hmac, Rfc4231TestCase6KeyLongerThanBlock) {
    EXPECT_EQ(mac_hex(hmac_algorithm::sha256, std::string(131, '\xaa'),
                      {"Test Using Larger Than Block-Size Key - Hash Key First"}),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Hmac, PartsAreConcatenated) {
    const std::string expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    EXPECT_EQ(mac_hex(hmac_algorithm::sha256, "Jefe", {"what do ya ", "want for ", "nothing?"}),
              expected);
    EXPECT_EQ(mac_hex(hmac_algorithm::sha256, "Jefe", {"", "what do ya want for nothing?", ""}),
              expected);
}

TEST(Hmac, EmptyMessage) {
    EXPECT_EQ(mac_hex(hmac_algorithm::sha256, "Jefe", {}),
              "923598ca6d64af2a5dba79dcd021a8a0fe5c5f557519adaaf0ad532d4506dd30");
}

TEST(Hmac, DigestSizes) {
    EXPECT_EQ(hmac(hmac_algorithm::sha1, "k").digest_size(), 20u);
    EXPECT_EQ(hmac(hmac_algorithm::sha256, "k").digest_size(), 32u);
    EXPECT_EQ(hmac(hmac_algorithm::sha512, "k").digest_size(), 64u);
}

TEST(Hmac, ReusableAcrossComputations) {
    const hmac h(hmac_algorithm::sha256, "Jefe");
    hmac::digest a{};
    hmac::digest b{};
    const std::array<std::string_view, 1> msg{"what do ya want for nothing?"};
    const std::array<std::string_view, 1> other{"something else"};
    ASSERT_EQ(h.compute(msg, a), 32u);
    ASSERT_EQ(h.compute(other, b), 32u);
    EXPECT_NE(a, b);
    ASSERT_EQ(h.compute(msg, b), 32u);
    EXPECT_EQ(a, b);
}

TEST(HexCodec, EncodesLowercase) {
    EXPECT_EQ(encode_hex(""), "");
    EXPECT_EQ(encode_hex(std::string("\x00\x01\x7f\x80\xff", 5)), "00017f80ff");
    EXPECT_EQ(encode_hex("AZ"), "415a");
}

TEST(HexCodec, DecodesEitherCase) {
    EXPECT_EQ(decode_hex("00017f80ff"), std::string("\x00\x01\x7f\x80\xff", 5));
    EXPECT_EQ(decode_hex("00017F80FF"), std::string("\x00\x01\x7f\x80\xff", 5));
    EXPECT_EQ(decode_hex("aBcD"), std::string("\xab\xcd", 2));
    EXPECT_EQ(decode_hex(""), std::string());
}

TEST(HexCodec, RefusesMalformed) {
    for (const char* bad : {"0", "abc", "zz", "0g", "g0", "0x12", " 12", "12 ", "1-", "--"}) {
        SCOPED_TRACE(bad);
        EXPECT_FALSE(decode_hex(bad).has_value());
    }
}

TEST(HexCodec, RoundTripsEveryByte) {
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    const std::string hex = encode_hex(all);
    EXPECT_EQ(hex.size(), 512u);
    EXPECT_EQ(decode_hex(hex), all);
}

// RFC 4648 §10 test vectors.
TEST(Base64Codec, EncodesRfc4648Vectors) {
    EXPECT_EQ(encode_base64(""), "");
    EXPECT_EQ(encode_base64("f"), "Zg==");
    EXPECT_EQ(encode_base64("fo"), "Zm8=");
    EXPECT_EQ(encode_base64("foo"), "Zm9v");
    EXPECT_EQ(encode_base64("foob"), "Zm9vYg==");
    EXPECT_EQ(encode_base64("fooba"), "Zm9vYmE=");
    EXPECT_EQ(encode_base64("foobar"), "Zm9vYmFy");
    EXPECT_EQ(encode_base64(std::string("\xfb\xff\xfe", 3)), "+//+");
}

TEST(Base64Codec, DecodesRfc4648VectorsWithAndWithoutPadding) {
    EXPECT_EQ(decode_base64(""), "");
    EXPECT_EQ(decode_base64("Zg=="), "f");
    EXPECT_EQ(decode_base64("Zg"), "f");
    EXPECT_EQ(decode_base64("Zm8="), "fo");
    EXPECT_EQ(decode_base64("Zm8"), "fo");
    EXPECT_EQ(decode_base64("Zm9v"), "foo");
    EXPECT_EQ(decode_base64("Zm9vYg=="), "foob");
    EXPECT_EQ(decode_base64("Zm9vYg"), "foob");
    EXPECT_EQ(decode_base64("Zm9vYmE="), "fooba");
    EXPECT_EQ(decode_base64("Zm9vYmFy"), "foobar");
    EXPECT_EQ(decode_base64("+//+"), std::string("\xfb\xff\xfe", 3));
}

TEST(Base64Codec, KeepsTrailingZeroBytes) {
    // Only padding characters may shorten the output, never real zero bytes.
    EXPECT_EQ(decode_base64("AAAA"), std::string(3, '\0'));
    EXPECT_EQ(decode_base64("AA=="), std::string(1, '\0'));
    EXPECT_EQ(decode_base64("YQA="), std::string("a\0", 2));
}

TEST(Base64Codec, RefusesMalformed) {
    for (const char* bad : {"@@@@", "Zm9v!", "Zm9v YmFy", "Zm9v-_8", " Zm9v", "Zm9v\n",
                            // a lone final character carries only 6 bits
                            "Z", "Zm9vY", "Y===",
                            // '=' that does not complete the last group of four
                            "====", "=", "YWJj=", "Zm9v====", "Zm9vYg===", "Zm9vYmFy====",
                            // '=' anywhere else
                            "YQ==YQ==", "Zm=v", "=Zm9", "Z=g="}) {
        SCOPED_TRACE(bad);
        EXPECT_FALSE(decode_base64(bad).has_value()) << encode_hex(decode_base64(bad).value_or(""));
    }
}

TEST(Base64Codec, AcceptsPartialPaddingThatCompletesTheGroup) {
    EXPECT_EQ(decode_base64("Zg="), "f");
    EXPECT_EQ(decode_base64("Zm9vYg="), "foob");
}

TEST(Base64Codec, RoundTripsEveryLength) {
    std::string bytes;
    for (int i = 0; i < 70; ++i) {
        SCOPED_TRACE(i);
        EXPECT_EQ(decode_base64(encode_base64(bytes)), bytes);
        bytes += static_cast<char>((i * 37 + 11) & 0xff);
    }
}

TEST(ConstantTimeEqual, ComparesContentAndLength) {
    EXPECT_TRUE(constant_time_equal("", ""));
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_TRUE(constant_time_equal(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "ab"));
    EXPECT_FALSE(constant_time_equal("ab", "abc"));
    EXPECT_FALSE(constant_time_equal("", "a"));
    EXPECT_FALSE(constant_time_equal(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

}  // namespace
}  // namespace switchboard::ingest
