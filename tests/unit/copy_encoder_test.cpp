#include "switchboard/store/copy_encoder.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

namespace switchboard::store {
namespace {

TEST(CopyEncoder, EscapesBackslashTabNewlineAndCarriageReturn) {
    copy_encoder enc;
    enc.text("a\\b\tc\nd\re");
    EXPECT_EQ(enc.data(), "a\\\\b\\tc\\nd\\re");
}

TEST(CopyEncoder, EscapesAtBothEndsAndInRuns) {
    copy_encoder enc;
    enc.text("\\\\\n\t\r");
    EXPECT_EQ(enc.data(), "\\\\\\\\\\n\\t\\r");
    enc.clear();
    enc.text("\nmiddle\\");
    EXPECT_EQ(enc.data(), "\\nmiddle\\\\");
}

TEST(CopyEncoder, LeavesOrdinaryTextAndUtf8Alone) {
    copy_encoder enc;
    enc.text(R"({"a":"Élodie \"q\" \u00e9"})");
    EXPECT_EQ(enc.data(), R"({"a":"Élodie \\"q\\" \\u00e9"})");
    enc.clear();
    enc.text("plain text, with 'quotes' and \"double quotes\" and |pipes|");
    EXPECT_EQ(enc.data(), "plain text, with 'quotes' and \"double quotes\" and |pipes|");
}

TEST(CopyEncoder, JsonWithEscapesKeepsItsBackslashes) {
    // A JSON string "line1\nline2" (backslash, n) must reach Postgres with the backslash intact.
    copy_encoder enc;
    enc.text(R"({"t":"line1\nline2"})");
    EXPECT_EQ(enc.data(), R"({"t":"line1\\nline2"})");
}

TEST(CopyEncoder, NullsAndEmptyStrings) {
    copy_encoder enc;
    enc.null();
    enc.text_or_null("");
    enc.text_or_null("v");
    enc.text("");
    enc.integer(std::optional<std::int64_t>{});
    enc.real(std::nullopt);
    enc.end_row();
    EXPECT_EQ(enc.data(), "\\N\t\\N\tv\t\t\\N\t\\N\n");
}

TEST(CopyEncoder, TextThatLooksLikeNullIsEscaped) {
    copy_encoder enc;
    enc.text("\\N");
    EXPECT_EQ(enc.data(), "\\\\N");
}

TEST(CopyEncoder, Integers) {
    copy_encoder enc;
    enc.integer(0);
    enc.integer(-42);
    enc.integer(std::numeric_limits<std::int64_t>::max());
    enc.integer(std::numeric_limits<std::int64_t>::min());
    enc.integer(std::optional<std::int64_t>{1749737004100});
    EXPECT_EQ(enc.data(), "0\t-42\t9223372036854775807\t-9223372036854775808\t1749737004100");
}

TEST(CopyEncoder, Reals) {
    copy_encoder enc;
    enc.real(0.0691);
    enc.real(-0.5);
    enc.real(0.0);
    enc.real(1e300);
    enc.real(3.0);
    EXPECT_EQ(enc.data(), "0.0691\t-0.5\t0\t1e+300\t3");
}

TEST(CopyEncoder, NonFiniteRealsBecomeNull) {
    copy_encoder enc;
    enc.real(std::numeric_limits<double>::quiet_NaN());
    enc.real(std::numeric_limits<double>::infinity());
    enc.real(-std::numeric_limits<double>::infinity());
    EXPECT_EQ(enc.data(), "\\N\t\\N\t\\N");
}

TEST(CopyEncoder, RealsRoundTrip) {
    for (double v : {0.1, 1.0 / 3.0, 123456.789, 5e-324, 1.7976931348623157e308, -2.5e-10}) {
        copy_encoder enc;
        enc.real(v);
        EXPECT_EQ(std::strtod(std::string(enc.data()).c_str(), nullptr), v) << enc.data();
    }
}

TEST(CopyEncoder, RowsAreTabSeparatedAndNewlineTerminated) {
    copy_encoder enc;
    enc.text("call-1");
    enc.integer(7);
    enc.null();
    enc.end_row();
    enc.text("call-2");
    enc.integer(8);
    enc.text("x\ty");
    enc.end_row();
    EXPECT_EQ(enc.data(), "call-1\t7\t\\N\ncall-2\t8\tx\\ty\n");
}

TEST(CopyEncoder, SingleColumnRowsHaveNoSeparator) {
    copy_encoder enc;
    enc.text("a");
    enc.end_row();
    enc.null();
    enc.end_row();
    enc.text("");
    enc.end_row();
    EXPECT_EQ(enc.data(), "a\n\\N\n\n");
}

TEST(CopyEncoder, ClearStartsAFreshRow) {
    copy_encoder enc;
    enc.text("half");
    enc.integer(1);
    enc.clear();
    EXPECT_EQ(enc.data(), "");
    enc.text("new");
    enc.end_row();
    EXPECT_EQ(enc.data(), "new\n");
}

TEST(CopyEncoder, EveryRowHasTheSameNumberOfFields) {
    copy_encoder enc;
    for (int i = 0; i < 3; ++i) {
        enc.text("id\n" + std::to_string(i));
        enc.integer(i);
        enc.text_or_null(i % 2 == 0 ? "" : "org");
        enc.real(i == 1 ? std::optional<double>{} : std::optional<double>{0.25 * i});
        enc.end_row();
    }
    const std::string out(enc.data());
    std::size_t rows = 0;
    std::size_t start = 0;
    for (std::size_t nl = out.find('\n'); nl != std::string::npos; nl = out.find('\n', start)) {
        const std::string row = out.substr(start, nl - start);
        EXPECT_EQ(std::count(row.begin(), row.end(), '\t'), 3) << row;
        start = nl + 1;
        ++rows;
    }
    EXPECT_EQ(rows, 3u);
    EXPECT_EQ(start, out.size());
    EXPECT_EQ(out, "id\\n0\t0\t\\N\t0\nid\\n1\t1\torg\t\\N\nid\\n2\t2\t\\N\t0.5\n");
}

}  // namespace
}  // namespace switchboard::store
