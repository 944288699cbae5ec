#include "switchboard/store/copy_encoder.hpp"

#include <charconv>
#include <cmath>

namespace switchboard::store {

void copy_encoder::separator() {
    if (!at_row_start_) buffer_ += '\t';
    at_row_start_ = false;
}

void copy_encoder::text(std::string_view value) {
    separator();
    // Copy runs of ordinary bytes at once; escape only what COPY treats specially.
    std::size_t run = 0;
    for (std::size_t i = 0; i < value.size(); ++i) {
        const char c = value[i];
        const char* esc = nullptr;
        switch (c) {
            case '\\':
                esc = "\\\\";
                break;
            case '\t':
                esc = "\\t";
                break;
            case '\n':
                esc = "\\n";
                break;
            case '\r':
                esc = "\\r";
                break;
            default:
                continue;
        }
        buffer_.append(value.data() + run, i - run);
        buffer_.append(esc);
        run = i + 1;
    }
    buffer_.append(value.data() + run, value.size() - run);
}

void copy_encoder::integer(std::int64_t value) {
    separator();
    char tmp[24];
    auto [end, ec] = std::to_chars(tmp, tmp + sizeof tmp, value);
    buffer_.append(tmp, end);
}

void copy_encoder::real(const std::optional<double>& value) {
    if (!value || !std::isfinite(*value)) return null();
    separator();
    char tmp[32];
    auto [end, ec] = std::to_chars(tmp, tmp + sizeof tmp, *value);
    buffer_.append(tmp, end);
}

void copy_encoder::null() {
    separator();
    buffer_ += "\\N";
}

void copy_encoder::end_row() {
    buffer_ += '\n';
    at_row_start_ = true;
}

}  // namespace switchboard::store
