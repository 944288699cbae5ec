#pragma once
/// A multipart/form-data body (RFC 7578) split into its parts, for file uploads.
/// The parts' data are views into the body given to parse_multipart.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::http {

struct multipart_part {
    std::string name;
    std::string filename;
    bool has_filename = false;
    std::string content_type;
    std::string_view data;
};

/// Parses `body` with the boundary of `content_type`; nullopt with `error` set when malformed.
std::optional<std::vector<multipart_part>> parse_multipart(std::string_view content_type,
                                                           std::string_view body,
                                                           std::string& error);

}  // namespace switchboard::http
