#include "switchboard/store/array_encoder.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace switchboard::store {
namespace {

TEST(ArrayEncoder, EmptyArray) {
    array_encoder enc;
    EXPECT_STREQ(enc.finish(), "{}");
    EXPECT_EQ(enc.size(), 0u);
}

TEST(ArrayEncoder, QuotesEveryTextElementAndEscapesQuoteAndBackslash) {
    array_encoder enc;
    enc.text("plain");
    enc.text(R"({"t":"a\nb \"q\""})");
    enc.text("\\");
    enc.text("");
    EXPECT_STREQ(enc.finish(), R"({"plain","{\"t\":\"a\\nb \\\"q\\\"\"}","\\",""})");
    EXPECT_EQ(enc.size(), 4u);
}

TEST(ArrayEncoder, TextThatLooksLikeSyntaxStaysText) {
    array_encoder enc;
    enc.text("NULL");
    enc.text("{a,b}");
    enc.text(" spaced ");
    enc.text("tab\tnew\nline");
    EXPECT_STREQ(enc.finish(), "{\"NULL\",\"{a,b}\",\" spaced \",\"tab\tnew\nline\"}");
}

TEST(ArrayEncoder, NullsIntegersAndOptional) {
    array_encoder enc;
    enc.null();
    enc.text_or_null("");
    enc.text_or_null("v");
    enc.integer(0);
    enc.integer(std::numeric_limits<std::int64_t>::min());
    enc.integer(std::optional<std::int64_t>{});
    enc.integer(std::optional<std::int64_t>{1749737004100});
    EXPECT_STREQ(enc.finish(), "{NULL,NULL,\"v\",0,-9223372036854775808,NULL,1749737004100}");
}

TEST(ArrayEncoder, FinishIsIdempotentAndClearStartsOver) {
    array_encoder enc;
    enc.integer(1);
    EXPECT_STREQ(enc.finish(), "{1}");
    EXPECT_STREQ(enc.finish(), "{1}");
    enc.clear();
    enc.text("x");
    EXPECT_STREQ(enc.finish(), "{\"x\"}");
}

}  // namespace
}  // namespace switchboard::store
