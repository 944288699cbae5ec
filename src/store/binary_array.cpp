#include "switchboard/store/binary_array.hpp"

#include <cstring>

namespace switchboard::store {
namespace {
// Header: ndim, flags (1: has NULLs), element type, then per dimension its length and lower
// bound. Elements follow, each a 32-bit length (-1: NULL) and its bytes. All big-endian.
constexpr std::size_t k_flags_at = 4;
constexpr std::size_t k_length_at = 12;
constexpr std::size_t k_header = 20;
}  // namespace

binary_array::binary_array(pg_elem type) : type_(type) {
    clear();
}

void binary_array::reset(pg_elem type) {
    type_ = type;
    clear();
}

void binary_array::put32(std::uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
    buffer_.append(b, 4);
}

void binary_array::patch32(std::size_t at, std::uint32_t v) {
    buffer_[at] = static_cast<char>(v >> 24);
    buffer_[at + 1] = static_cast<char>(v >> 16);
    buffer_[at + 2] = static_cast<char>(v >> 8);
    buffer_[at + 3] = static_cast<char>(v);
}

void binary_array::clear() {
    buffer_.clear();
    put32(1);  // one dimension
    put32(0);  // flags, patched by finish()
    put32(static_cast<std::uint32_t>(type_));
    put32(0);  // length, patched by finish()
    put32(1);  // lower bound
    count_ = 0;
    nulls_ = false;
}

void binary_array::text(std::string_view value) {
    put32(static_cast<std::uint32_t>(value.size()));
    buffer_.append(value);
    ++count_;
}

void binary_array::integer(std::int64_t value) {
    const auto v = static_cast<std::uint64_t>(value);
    switch (type_) {
        case pg_elem::int2:
            put32(2);
            buffer_ += static_cast<char>(v >> 8);
            buffer_ += static_cast<char>(v);
            break;
        case pg_elem::int4:
            put32(4);
            put32(static_cast<std::uint32_t>(v));
            break;
        default:
            put32(8);
            put32(static_cast<std::uint32_t>(v >> 32));
            put32(static_cast<std::uint32_t>(v));
            break;
    }
    ++count_;
}

void binary_array::uuid(std::span<const std::uint8_t, 16> bytes) {
    put32(16);
    buffer_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    ++count_;
}

void binary_array::open() {
    open_at_ = buffer_.size();
    put32(0);  // patched by close()
}

void binary_array::close() {
    patch32(open_at_, static_cast<std::uint32_t>(buffer_.size() - open_at_ - 4));
    ++count_;
}

void binary_array::null() {
    put32(0xffffffffu);
    nulls_ = true;
    ++count_;
}

std::string_view binary_array::finish() {
    patch32(k_flags_at, nulls_ ? 1 : 0);
    patch32(k_length_at, count_);
    static_assert(k_header == 20);
    return buffer_;
}

}  // namespace switchboard::store
