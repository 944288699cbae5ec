#include "switchboard/store/binary_array.hpp"

#include <algorithm>

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

void binary_array::grow(std::size_t n) {
    buffer_.resize(std::max({size_ + n, buffer_.size() * 2, std::size_t{256}}));
}

void binary_array::clear() {
    size_ = 0;
    char* p = extend(k_header);
    store32(p, 1);               // one dimension
    store32(p + k_flags_at, 0);  // flags, patched by finish()
    store32(p + 8, static_cast<std::uint32_t>(type_));
    store32(p + k_length_at, 0);  // length, patched by finish()
    store32(p + 16, 1);           // lower bound
    count_ = 0;
    nulls_ = false;
}

std::string_view binary_array::finish() {
    store32(buffer_.data() + k_flags_at, nulls_ ? 1 : 0);
    store32(buffer_.data() + k_length_at, count_);
    return {buffer_.data(), size_};
}

}  // namespace switchboard::store
