#include "switchboard/store/binary_array.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>

namespace switchboard::store {
namespace {

std::string be32(std::uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
            static_cast<char>(v)};
}

std::string header(std::uint32_t flags, pg_elem type, std::uint32_t n) {
    return be32(1) + be32(flags) + be32(static_cast<std::uint32_t>(type)) + be32(n) + be32(1);
}

TEST(BinaryArray, EmptyArrayIsOneDimensionOfLengthZero) {
    binary_array a(pg_elem::text);
    EXPECT_EQ(a.finish(), header(0, pg_elem::text, 0));
    EXPECT_EQ(a.size(), 0u);
}

TEST(BinaryArray, TextElementsAreSentAsIsWithTheirLength) {
    binary_array a(pg_elem::text);
    a.text(R"({"q":"a\"b\\c"})");
    a.text("");
    a.text_or_null("");
    const std::string body = R"({"q":"a\"b\\c"})";
    EXPECT_EQ(a.finish(), header(1, pg_elem::text, 3) +
                              be32(static_cast<std::uint32_t>(body.size())) + body + be32(0) +
                              be32(0xffffffffu));
    EXPECT_EQ(a.size(), 3u);
}

TEST(BinaryArray, IntegersTakeTheWidthOfTheElementType) {
    binary_array i8(pg_elem::int8), i4(pg_elem::int4), i2(pg_elem::int2);
    i8.integer(-2);
    i8.integer(std::optional<std::int64_t>{});
    i4.integer(0x01020304);
    i2.integer(-1);
    EXPECT_EQ(i8.finish(), header(1, pg_elem::int8, 2) + be32(8) + std::string(7, '\xff') + "\xfe" +
                               be32(0xffffffffu));
    EXPECT_EQ(i4.finish(), header(0, pg_elem::int4, 1) + be32(4) + "\x01\x02\x03\x04");
    EXPECT_EQ(i2.finish(), header(0, pg_elem::int2, 1) + be32(2) + "\xff\xff");
}

TEST(BinaryArray, TimestampsCountMicrosecondsFromPostgresEpoch) {
    binary_array a(pg_elem::timestamptz);
    a.timestamp_us(946'684'800'000'000);  // 2000-01-01 00:00:00 UTC
    a.timestamp_us(946'684'800'000'000 + 0x0102030405LL);
    a.timestamp_us(0);  // 1970: before Postgres' epoch
    EXPECT_EQ(a.finish(), header(0, pg_elem::timestamptz, 3) + be32(8) + std::string(8, '\0') +
                              be32(8) + std::string("\0\0\0\x01\x02\x03\x04\x05", 8) + be32(8) +
                              std::string("\xff\xfc\xa2\xfe\xc4\xc8\x20\x00", 8));
}

TEST(BinaryArray, UuidIsItsSixteenBytes) {
    binary_array a(pg_elem::uuid);
    std::array<std::uint8_t, 16> d{};
    for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<std::uint8_t>(i * 17);
    a.uuid(d);
    EXPECT_EQ(a.finish(), header(0, pg_elem::uuid, 1) + be32(16) +
                              std::string(reinterpret_cast<const char*>(d.data()), d.size()));
}

TEST(BinaryArray, AnElementBuiltFromPiecesIsTheirConcatenation) {
    binary_array a(pg_elem::text);
    a.open();
    a.append('[');
    a.append("1,");
    a.append("2");
    a.append(']');
    a.close();
    a.open();
    a.close();  // an empty element, not NULL
    a.bytes(std::string("\0\x01", 2));
    EXPECT_EQ(a.finish(), header(0, pg_elem::text, 3) + be32(5) + "[1,2]" + be32(0) + be32(2) +
                              std::string("\0\x01", 2));
    EXPECT_EQ(a.size(), 3u);
}

TEST(BinaryArray, ARecordIsItsFieldCountThenEachFieldsTypeLengthAndBytes) {
    const auto composite = static_cast<pg_elem>(16390);  // as a database would number the type
    binary_array ranks(pg_elem::int8);
    ranks.integer(3);
    ranks.null();
    binary_array a(composite);
    std::array<std::uint8_t, 16> d{};
    d[15] = 9;
    a.open_record(7);
    a.field_text("ab");
    a.field_text_or_null("");
    a.field_int2(-2);
    a.field_int8(std::int64_t{1} << 40);
    a.field_int8(std::nullopt);
    a.field_uuid(d);
    a.field_array(pg_elem::int8_array, ranks.finish());
    a.close();
    const std::string ranks_bytes =
        header(1, pg_elem::int8, 2) + be32(8) + be32(0) + be32(3) + be32(0xffffffffu);
    const std::string record =
        be32(7) + be32(25) + be32(2) + "ab" + be32(25) + be32(0xffffffffu) + be32(21) + be32(2) +
        std::string("\xff\xfe", 2) + be32(20) + be32(8) + be32(1u << 8) + be32(0) + be32(20) +
        be32(0xffffffffu) + be32(2950) + be32(16) +
        std::string(reinterpret_cast<const char*>(d.data()), d.size()) + be32(1016) +
        be32(static_cast<std::uint32_t>(ranks_bytes.size())) + ranks_bytes;
    EXPECT_EQ(a.finish(),
              header(0, composite, 1) + be32(static_cast<std::uint32_t>(record.size())) + record);
    EXPECT_EQ(a.size(), 1u);
}

TEST(BinaryArray, ClearKeepsTheTypeAndFinishCanBeRepeated) {
    binary_array a(pg_elem::int4);
    a.null();
    a.clear();
    a.integer(7);
    EXPECT_EQ(a.finish(), a.finish());
    EXPECT_EQ(a.finish(), header(0, pg_elem::int4, 1) + be32(4) + be32(7));
    a.reset(pg_elem::text);
    EXPECT_EQ(a.type(), pg_elem::text);
    EXPECT_EQ(a.finish(), header(0, pg_elem::text, 0));
}

}  // namespace
}  // namespace switchboard::store
