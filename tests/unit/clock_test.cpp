#include "switchboard/base/clock.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace switchboard::base {
namespace {

// Expected values computed with python3: datetime.fromisoformat(...).timestamp().

TEST(ParseIso8601, UtcWithZ) {
    EXPECT_EQ(parse_iso8601_micros("1970-01-01T00:00:00Z"), 0);
    EXPECT_EQ(parse_iso8601_micros("2025-06-12T14:03:05.120Z"), 1749736985120000);
    EXPECT_EQ(parse_iso8601_micros("2000-01-01T00:00:00Z"), 946684800000000);
    EXPECT_EQ(parse_iso8601_micros("9999-12-31T23:59:59Z"), 253402300799000000);
}

TEST(ParseIso8601, LowercaseSeparatorsAndSpace) {
    EXPECT_EQ(parse_iso8601_micros("2025-06-12t14:03:05.120z"), 1749736985120000);
    EXPECT_EQ(parse_iso8601_micros("2025-06-12 14:03:05.120Z"), 1749736985120000);
}

TEST(ParseIso8601, Offsets) {
    EXPECT_EQ(parse_iso8601_micros("2025-06-12T16:03:05.120+02:00"), 1749736985120000);
    EXPECT_EQ(parse_iso8601_micros("2025-06-12T09:03:05.120-05:00"), 1749736985120000);
    EXPECT_EQ(parse_iso8601_micros("2025-06-12T19:48:05.120+05:45"), 1749736985120000);
    EXPECT_EQ(parse_iso8601_micros("2025-06-12T14:03:05.120+00:00"), 1749736985120000);
    EXPECT_EQ(parse_iso8601_micros("2025-06-12T14:03:05.120-00:00"), 1749736985120000);
    // The offset moves the instant across a day boundary.
    EXPECT_EQ(parse_iso8601_micros("2025-06-13T00:30:00+10:30"),
              parse_iso8601_micros("2025-06-12T14:00:00Z"));
    EXPECT_EQ(parse_iso8601_micros("2025-06-11T23:00:00-23:59"),
              parse_iso8601_micros("2025-06-12T22:59:00Z"));
}

TEST(ParseIso8601, FractionsOfEveryLength) {
    const std::int64_t base = 1749736985000000;  // 2025-06-12T14:03:05Z
    EXPECT_EQ(parse_iso8601_micros("2025-06-12T14:03:05Z"), base);
    EXPECT_EQ(parse_iso8601_micros("2025-06-12T14:03:05.1Z"), base + 100000);
    EXPECT_EQ(parse_iso8601_micros("2025-06-12T14:03:05.12Z"), base + 120000);
    EXPECT_EQ(parse_iso8601_micros("2025-06-12T14:03:05.123Z"), base + 123000);
    EXPECT_EQ(parse_iso8601_micros("2025-06-12T14:03:05.1234Z"), base + 123400);
    EXPECT_EQ(parse_iso8601_micros("2025-06-12T14:03:05.12345Z"), base + 123450);
    EXPECT_EQ(parse_iso8601_micros("2025-06-12T14:03:05.123456Z"), base + 123456);
    // Beyond microseconds: truncated, not rounded.
    EXPECT_EQ(parse_iso8601_micros("2025-06-12T14:03:05.1234567Z"), base + 123456);
    EXPECT_EQ(parse_iso8601_micros("2025-06-12T14:03:05.999999999Z"), base + 999999);
    EXPECT_EQ(parse_iso8601_micros("2025-06-12T14:03:05.000001Z"), base + 1);
    EXPECT_EQ(parse_iso8601_micros("2025-06-12T14:03:05.000000000000000000001Z"), base);
    EXPECT_EQ(parse_iso8601_micros("2025-06-12T16:03:05.5+02:00"), base + 500000);
}

TEST(ParseIso8601, LeapDays) {
    EXPECT_EQ(parse_iso8601_micros("2024-02-29T00:00:00Z"), 1709164800000000);
    EXPECT_EQ(parse_iso8601_micros("2024-02-29T12:34:56.789012Z"), 1709210096789012);
    EXPECT_EQ(parse_iso8601_micros("2000-02-29T00:00:00Z"), 951782400000000);  // divisible by 400
    EXPECT_FALSE(parse_iso8601_micros("2023-02-29T00:00:00Z"));
    EXPECT_FALSE(parse_iso8601_micros("1900-02-29T00:00:00Z"));  // divisible by 100, not 400
}

TEST(ParseIso8601, LeapSecondIsTheNextMinute) {
    EXPECT_EQ(parse_iso8601_micros("2016-12-31T23:59:60Z"),
              1483228800000000);  // 2017-01-01T00:00:00Z
}

TEST(ParseIso8601, BeforeTheEpoch) {
    EXPECT_EQ(parse_iso8601_micros("1969-12-31T23:59:59Z"), -1000000);
    EXPECT_EQ(parse_iso8601_micros("1969-12-31T23:59:59.5Z"), -500000);
    EXPECT_EQ(parse_iso8601_micros("1970-01-01T01:00:00+02:00"), -3600000000);
}

TEST(ParseIso8601, InvalidDatesAndTimes) {
    for (const char* bad :
         {"2025-02-30T00:00:00Z", "2025-04-31T00:00:00Z", "2025-13-01T00:00:00Z",
          "2025-00-10T00:00:00Z", "2025-06-00T00:00:00Z", "2025-06-32T00:00:00Z",
          "2025-06-12T24:00:00Z", "2025-06-12T23:60:00Z", "2025-06-12T23:59:61Z"}) {
        SCOPED_TRACE(bad);
        EXPECT_FALSE(parse_iso8601_micros(bad).has_value());
    }
}

TEST(ParseIso8601, MissingZoneIsRefused) {
    EXPECT_FALSE(parse_iso8601_micros("2025-06-12T14:03:05"));
    EXPECT_FALSE(parse_iso8601_micros("2025-06-12T14:03:05.123"));
    EXPECT_FALSE(parse_iso8601_micros("2025-06-12T14:03:05.123456789"));
}

TEST(ParseIso8601, MalformedOffsets) {
    for (const char* bad :
         {"2025-06-12T14:03:05+0200", "2025-06-12T14:03:05+02", "2025-06-12T14:03:05+2:00",
          "2025-06-12T14:03:05+24:00", "2025-06-12T14:03:05+02:60", "2025-06-12T14:03:05+02:0",
          "2025-06-12T14:03:05+", "2025-06-12T14:03:05 +02:00", "2025-06-12T14:03:05UTC",
          "2025-06-12T14:03:05+02:00:00"}) {
        SCOPED_TRACE(bad);
        EXPECT_FALSE(parse_iso8601_micros(bad).has_value());
    }
}

TEST(ParseIso8601, Garbage) {
    for (const char* bad :
         {"", "Z", "hello", "2025-06-12", "2025-06-12T14:03Z", "2025/06/12T14:03:05Z",
          "2025-06-12X14:03:05Z", "2025-6-12T14:03:05Z", "25-06-12T14:03:05Z",
          " 2025-06-12T14:03:05Z", "2025-06-12T14:03:05Z ", "2025-06-12T14:03:05Zjunk",
          "2025-06-12T14:03:05.Z", "2025-06-12T14:03:05,123Z", "2025-06-12T14-03-05Z",
          "+2025-06-12T14:03:05Z", "2025-06-12T1a:03:05Z", "1749736985120",
          "2025-06-12T14:03:05.12a3Z"}) {
        SCOPED_TRACE(bad);
        EXPECT_FALSE(parse_iso8601_micros(bad).has_value());
    }
}

TEST(ParseIso8601, ViewIsNotReadPastItsEnd) {
    // A view cut out of a longer string: what follows must not be read.
    const std::string text = "2025-06-12T14:03:05.120Z and more";
    EXPECT_EQ(parse_iso8601_micros(std::string_view(text).substr(0, 24)), 1749736985120000);
    EXPECT_FALSE(parse_iso8601_micros(std::string_view(text).substr(0, 23)));
    EXPECT_FALSE(parse_iso8601_micros(std::string_view(text).substr(0, 18)));
}

TEST(UnixMicros, MatchesTheSystemClock) {
    using namespace std::chrono;
    const auto before = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
    const auto now = unix_micros();
    const auto after = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
    EXPECT_GE(now, before);
    EXPECT_LE(now, after);
    EXPECT_GT(now, 1'700'000'000'000'000);  // after November 2023: microseconds, not ms or ns
    EXPECT_LT(now, 4'000'000'000'000'000);
}

}  // namespace
}  // namespace switchboard::base
