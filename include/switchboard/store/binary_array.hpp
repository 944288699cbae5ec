#pragma once
/// Builds one one-dimensional Postgres array in binary format (the format of `array_send`) into
/// a reusable buffer. The batch writer sends each column of a batch as one such array parameter
/// of a prepared statement and unnests it server-side: Postgres copies the elements instead of
/// parsing a text literal (`array_in`), and integers and uuids are not formatted and parsed.
///
/// The element type is fixed per encoder and must be the element type of the parameter's
/// declared type in the statement (`$1::text[]` → text), or Postgres refuses the parameter.

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::store {

/// Element types used by the writer (their fixed OIDs, pg_type.dat). A composite type has no
/// fixed OID: its elements' type is the OID the database gave it (`static_cast<pg_elem>(oid)`).
enum class pg_elem : std::uint32_t {
    bytea = 17,
    int2 = 21,
    int4 = 23,
    int8 = 20,
    text = 25,
    int8_array = 1016,
    timestamptz = 1184,
    uuid = 2950,
};

class binary_array {
  public:
    explicit binary_array(pg_elem type = pg_elem::text);

    /// Sets the element type; clears the array.
    void reset(pg_elem type);

    /// A text element, sent as is (valid UTF-8 without NUL bytes, as Postgres requires of text).
    void text(std::string_view value) {
        put_bytes(value);
        ++count_;
    }
    /// Empty strings become NULL.
    void text_or_null(std::string_view value) { value.empty() ? null() : text(value); }
    /// An integer element of the encoder's type (int2, int4 or int8).
    void integer(std::int64_t value) {
        put_integer(type_, value);
        ++count_;
    }
    void integer(const std::optional<std::int64_t>& value) { value ? integer(*value) : null(); }
    /// A timestamptz element (encoder of type timestamptz) from microseconds since 1970.
    void timestamp_us(std::int64_t unix_us) { integer(unix_us - k_pg_epoch_us); }
    /// A uuid element: its 16 bytes.
    void uuid(std::span<const std::uint8_t, 16> bytes) {
        put_uuid(bytes);
        ++count_;
    }
    void null() {
        put_null();
        nulls_ = true;
        ++count_;
    }
    /// A bytea element: the bytes as they are.
    void bytes(std::string_view value) { text(value); }
    /// Empty values become NULL.
    void bytes_or_null(std::string_view value) { text_or_null(value); }

    /// One element built from pieces: `open()`, any number of `append()`, then `close()`.
    void open() {
        open_at_ = size_;
        store32(extend(4), 0);  // patched by close()
    }
    void append(std::string_view piece) {
        if (!piece.empty()) std::memcpy(extend(piece.size()), piece.data(), piece.size());
    }
    void append(char c) { *extend(1) = c; }
    void close() {
        store32(buffer_.data() + open_at_, static_cast<std::uint32_t>(size_ - open_at_ - 4));
        ++count_;
    }

    /// One element of a composite type (the format of `record_send`): `open_record()` with the
    /// type's number of fields, then each field in the type's order, each with the field's own
    /// type (Postgres refuses a field of another type), then `close()`.
    void open_record(std::uint32_t fields) {
        open();
        store32(extend(4), fields);
    }
    /// Each field is its type's OID, then its value as an element of that type would be.
    void field_text(std::string_view value) {
        put_type(pg_elem::text);
        put_bytes(value);
    }
    /// Empty strings become NULL.
    void field_text_or_null(std::string_view value) {
        value.empty() ? field_null(pg_elem::text) : field_text(value);
    }
    void field_int2(std::int16_t value) {
        put_type(pg_elem::int2);
        put_integer(pg_elem::int2, value);
    }
    void field_int8(const std::optional<std::int64_t>& value) {
        if (!value) return field_null(pg_elem::int8);
        put_type(pg_elem::int8);
        put_integer(pg_elem::int8, *value);
    }
    void field_uuid(std::span<const std::uint8_t, 16> bytes) {
        put_type(pg_elem::uuid);
        put_uuid(bytes);
    }
    /// An array field: `array`'s bytes (finish()) as a value of the array type `type`.
    void field_array(pg_elem type, std::string_view array) {
        put_type(type);
        put_bytes(array);
    }
    void field_null(pg_elem type) {
        put_type(type);
        put_null();
    }

    /// The parameter's bytes (valid until the next change).
    std::string_view finish();
    void clear();
    std::size_t size() const noexcept { return count_; }
    pg_elem type() const noexcept { return type_; }

  private:
    /// 2000-01-01 00:00:00 UTC, Postgres' epoch, in microseconds since 1970.
    static constexpr std::int64_t k_pg_epoch_us = 946'684'800'000'000;

    /// Room for `n` more bytes at the end; returns where they go. (Inline, and without
    /// std::string's per-append bookkeeping: the writer appends a few million small pieces a
    /// second; bench/analysis.md, session 15.)
    char* extend(std::size_t n) {
        if (size_ + n > buffer_.size()) [[unlikely]]
            grow(n);
        char* p = buffer_.data() + size_;
        size_ += n;
        return p;
    }
    void grow(std::size_t n);

    // One value (an element's or a field's): its 32-bit length (-1: NULL), then its bytes.
    void put_bytes(std::string_view value) {
        char* p = extend(4 + value.size());
        store32(p, static_cast<std::uint32_t>(value.size()));
        if (!value.empty()) std::memcpy(p + 4, value.data(), value.size());
    }
    /// As int2, int4 or int8 (any other type: int8).
    void put_integer(pg_elem width, std::int64_t value) {
        const auto v = static_cast<std::uint64_t>(value);
        switch (width) {
            case pg_elem::int2: {
                char* p = extend(6);
                store32(p, 2);
                p[4] = static_cast<char>(v >> 8);
                p[5] = static_cast<char>(v);
                break;
            }
            case pg_elem::int4: {
                char* p = extend(8);
                store32(p, 4);
                store32(p + 4, static_cast<std::uint32_t>(v));
                break;
            }
            default: {
                char* p = extend(12);
                store32(p, 8);
                store32(p + 4, static_cast<std::uint32_t>(v >> 32));
                store32(p + 8, static_cast<std::uint32_t>(v));
                break;
            }
        }
    }
    void put_uuid(std::span<const std::uint8_t, 16> bytes) {
        char* p = extend(20);
        store32(p, 16);
        std::memcpy(p + 4, bytes.data(), bytes.size());
    }
    void put_null() { store32(extend(4), 0xffffffffu); }
    /// A record field's type.
    void put_type(pg_elem type) { store32(extend(4), static_cast<std::uint32_t>(type)); }
    static void store32(char* p, std::uint32_t v) {
        p[0] = static_cast<char>(v >> 24);
        p[1] = static_cast<char>(v >> 16);
        p[2] = static_cast<char>(v >> 8);
        p[3] = static_cast<char>(v);
    }

    pg_elem type_;
    std::vector<char> buffer_;  ///< its size is the capacity; size_ bytes are used
    std::size_t size_ = 0;
    std::uint32_t count_ = 0;
    bool nulls_ = false;
    std::size_t open_at_ = 0;  ///< where the length of the element being built goes
};

}  // namespace switchboard::store
