#pragma once
/// Builds rows in Postgres' COPY text format (tab-separated, backslash escapes, \N for NULL)
/// into one reusable buffer.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::store {

class copy_encoder {
  public:
    void text(std::string_view value);
    /// Empty strings become NULL.
    void text_or_null(std::string_view value) { value.empty() ? null() : text(value); }
    void integer(std::int64_t value);
    void integer(const std::optional<std::int64_t>& value) { value ? integer(*value) : null(); }
    void real(const std::optional<double>& value);
    void null();
    void end_row();

    std::string_view data() const { return buffer_; }
    void clear() { buffer_.clear(), at_row_start_ = true; }

  private:
    void separator();

    std::string buffer_;
    bool at_row_start_ = true;
};

}  // namespace switchboard::store
