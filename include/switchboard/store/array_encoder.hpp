#pragma once
/// Builds one Postgres array literal in text format (`{"a","b\"c",NULL,12}`) into a reusable
/// buffer. The batch writer sends each column of a batch as one array parameter of a prepared
/// statement and unnests it server-side: one statement per table however many rows.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::store {

class array_encoder {
  public:
    /// A quoted element; `"` and `\` are escaped, everything else is sent as is.
    void text(std::string_view value);
    /// Empty strings become NULL.
    void text_or_null(std::string_view value) { value.empty() ? null() : text(value); }
    void integer(std::int64_t value);
    void integer(const std::optional<std::int64_t>& value) { value ? integer(*value) : null(); }
    void null();

    /// The literal, closed; valid until the next clear().
    const char* finish();
    void clear();
    std::size_t size() const noexcept { return count_; }

  private:
    void separator();

    std::string buffer_ = "{";
    std::size_t count_ = 0;
    bool finished_ = false;
};

}  // namespace switchboard::store
