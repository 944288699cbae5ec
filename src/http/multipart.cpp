#include "switchboard/http/multipart.hpp"

#include <algorithm>
#include <cctype>

namespace switchboard::http {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

/// The value of parameter `key` in a header value like `form-data; name="a"; filename="b"`.
std::optional<std::string> param_of(std::string_view header, std::string_view key) {
    constexpr auto npos = std::string_view::npos;
    std::size_t i = header.find(';');
    while (i != npos) {
        ++i;
        const std::size_t eq = header.find('=', i);
        if (eq == npos) return std::nullopt;
        const std::string k = lower(trim(header.substr(i, eq - i)));
        std::size_t j = eq + 1;
        std::string value;
        if (j < header.size() && header[j] == '"') {
            for (++j; j < header.size() && header[j] != '"'; ++j) {
                if (header[j] == '\\' && j + 1 < header.size()) ++j;
                value += header[j];
            }
            if (j < header.size()) ++j;
        } else {
            const std::size_t end = header.find(';', j);
            value = std::string(trim(header.substr(j, end == npos ? npos : end - j)));
            j = end == npos ? header.size() : end;
        }
        if (k == key) return value;
        i = header.find(';', j);
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::vector<multipart_part>> parse_multipart(std::string_view content_type,
                                                           std::string_view body,
                                                           std::string& error) {
    if (lower(content_type).rfind("multipart/form-data", 0) != 0) {
        error = "not multipart/form-data";
        return std::nullopt;
    }
    const auto boundary = param_of(content_type, "boundary");
    if (!boundary || boundary->empty() || boundary->size() > 70) {
        error = "no valid boundary in the Content-Type";
        return std::nullopt;
    }
    const std::string delim = "--" + *boundary;
    std::size_t pos = body.find(delim);
    if (pos == std::string_view::npos) {
        error = "the boundary does not occur in the body";
        return std::nullopt;
    }
    std::vector<multipart_part> parts;
    for (;;) {
        pos += delim.size();
        if (body.substr(pos, 2) == "--") return parts;  // closing delimiter
        if (body.substr(pos, 2) != "\r\n") {
            error = "malformed boundary line";
            return std::nullopt;
        }
        pos += 2;
        const std::size_t header_end = body.find("\r\n\r\n", pos);
        if (header_end == std::string_view::npos) {
            error = "a part has no header end";
            return std::nullopt;
        }
        multipart_part part;
        bool disposition = false;
        std::string_view headers = body.substr(pos, header_end - pos);
        while (!headers.empty()) {
            const std::size_t eol = headers.find("\r\n");
            const std::string_view line = headers.substr(0, eol);
            headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
            const std::size_t colon = line.find(':');
            if (colon == std::string_view::npos) continue;
            const std::string name = lower(trim(line.substr(0, colon)));
            const std::string_view value = trim(line.substr(colon + 1));
            if (name == "content-disposition") {
                disposition = true;
                part.name = param_of(value, "name").value_or("");
                if (auto f = param_of(value, "filename")) {
                    part.filename = *f;
                    part.has_filename = true;
                }
            } else if (name == "content-type") {
                part.content_type = std::string(value);
            }
        }
        if (!disposition) {
            error = "a part has no Content-Disposition";
            return std::nullopt;
        }
        const std::size_t data_start = header_end + 4;
        const std::size_t next = body.find("\r\n" + delim, data_start);
        if (next == std::string_view::npos) {
            error = "the body ends before the closing boundary";
            return std::nullopt;
        }
        part.data = body.substr(data_start, next - data_start);
        parts.push_back(std::move(part));
        pos = next + 2;
    }
}

}  // namespace switchboard::http
