#include "switchboard/store/array_encoder.hpp"

#include <charconv>
#include <cstring>

namespace switchboard::store {

void array_encoder::separator() {
    if (count_++ != 0) buffer_ += ',';
}

void array_encoder::text(std::string_view value) {
    separator();
    buffer_ += '"';
    // Copy runs of ordinary bytes at once; only '"' and '\' need a backslash inside quotes.
    std::size_t run = 0;
    for (std::size_t i = 0; i < value.size(); ++i) {
        const char c = value[i];
        if (c != '"' && c != '\\') continue;
        buffer_.append(value.data() + run, i - run);
        buffer_ += '\\';
        buffer_ += c;
        run = i + 1;
    }
    buffer_.append(value.data() + run, value.size() - run);
    buffer_ += '"';
}

void array_encoder::integer(std::int64_t value) {
    separator();
    char tmp[24];
    auto [end, ec] = std::to_chars(tmp, tmp + sizeof tmp, value);
    buffer_.append(tmp, end);
}

void array_encoder::null() {
    separator();
    buffer_ += "NULL";
}

const char* array_encoder::finish() {
    if (!finished_) buffer_ += '}';
    finished_ = true;
    return buffer_.c_str();
}

void array_encoder::clear() {
    buffer_.assign(1, '{');
    count_ = 0;
    finished_ = false;
}

}  // namespace switchboard::store
