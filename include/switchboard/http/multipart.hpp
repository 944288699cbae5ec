#pragma once
/// A multipart/form-data parser (RFC 7578 over RFC 2046) for file uploads: Boost has none.
/// It parses a complete body held in memory and copies nothing of the parts' contents.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::http {

/// One part of a multipart/form-data body. `data` views the body given to parse_multipart, so
/// a part lives no longer than that body.
struct multipart_part {
    std::string name;      ///< Content-Disposition name
    std::string filename;  ///< Content-Disposition filename (empty when absent); filename* (RFC
                           ///< 5987) decoded
    bool has_filename = false;
    std::string content_type;  ///< the part's Content-Type, empty when absent
    std::string_view data;     ///< the part's bytes: a view into the body passed in
};

/// Parses `body` given the request's Content-Type header value (must be multipart/form-data with a
/// boundary). Returns the parts in order, or std::nullopt with `error` set to a message fit for an
/// API caller ("missing boundary", "no closing boundary", …).
///
/// Accepts a quoted or bare boundary, CRLF or bare LF line ends, a preamble and an epilogue, and
/// case-insensitive header names. Limits: at most 100 parts, at most 8 KiB of headers per part.
/// Pure function: safe from any thread.
std::optional<std::vector<multipart_part>> parse_multipart(std::string_view content_type,
                                                           std::string_view body,
                                                           std::string& error);

}  // namespace switchboard::http
