#include "switchboard/http/multipart.hpp"

#include <algorithm>
#include <cstddef>
#include <functional>

namespace switchboard::http {
namespace {

constexpr std::size_t max_parts = 100;
constexpr std::size_t max_part_headers = std::size_t{8} * 1024;
constexpr std::size_t max_boundary = 70;  // RFC 2046 5.1.1

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) {
    constexpr std::string_view ws = " \t";
    const auto first = s.find_first_not_of(ws);
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(ws) - first + 1);
}

/// One `name=value` parameter of a header value (RFC 9110 5.6.6); the value unquoted.
struct parameter {
    std::string name;  ///< lower-cased
    std::string value;
};

/// Splits `value` at `;` outside quoted strings into its first item (the type) and parameters.
/// Quoted strings lose their quotes and backslash escapes. Returns false on an unterminated quote.
bool parse_parameters(std::string_view value, std::string_view& first,
                      std::vector<parameter>& params) {
    const auto semi = value.find(';');
    first = trim(value.substr(0, semi));
    std::size_t i = semi == std::string_view::npos ? value.size() : semi + 1;
    while (i < value.size()) {
        while (i < value.size() && (value[i] == ' ' || value[i] == '\t' || value[i] == ';')) ++i;
        if (i >= value.size()) break;
        parameter p;
        while (i < value.size() && value[i] != '=' && value[i] != ';') p.name += lower(value[i++]);
        while (!p.name.empty() && (p.name.back() == ' ' || p.name.back() == '\t'))
            p.name.pop_back();
        if (i < value.size() && value[i] == '=') {
            ++i;
            while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
            if (i < value.size() && value[i] == '"') {
                ++i;
                bool closed = false;
                while (i < value.size()) {
                    const char c = value[i++];
                    if (c == '"') {
                        closed = true;
                        break;
                    }
                    if (c == '\\' && i < value.size()) {
                        p.value += value[i++];
                    } else {
                        p.value += c;
                    }
                }
                if (!closed) return false;
                while (i < value.size() && value[i] != ';') ++i;  // junk after the quote
            } else {
                const auto end = value.find(';', i);
                const auto token =
                    trim(value.substr(i, end == std::string_view::npos ? end : end - i));
                p.value.assign(token);
                i = end == std::string_view::npos ? value.size() : end;
            }
        }
        if (!p.name.empty()) params.push_back(std::move(p));
    }
    return true;
}

const parameter* find_parameter(const std::vector<parameter>& params, std::string_view name) {
    const auto it = std::find_if(params.begin(), params.end(),
                                 [name](const parameter& p) { return p.name == name; });
    return it == params.end() ? nullptr : &*it;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// An RFC 5987 ext-value: charset'language'percent-encoded. UTF-8 is kept as it is and
/// ISO-8859-1 converted to UTF-8; other charsets (and broken encodings) give nullopt.
std::optional<std::string> decode_ext_value(std::string_view v) {
    const auto q1 = v.find('\'');
    if (q1 == std::string_view::npos) return std::nullopt;
    const auto q2 = v.find('\'', q1 + 1);
    if (q2 == std::string_view::npos) return std::nullopt;
    const std::string_view charset = v.substr(0, q1);
    const bool latin1 = iequals(charset, "iso-8859-1");
    if (!latin1 && !iequals(charset, "utf-8")) return std::nullopt;
    std::string out;
    for (std::size_t i = q2 + 1; i < v.size(); ++i) {
        auto c = static_cast<unsigned char>(v[i]);
        if (c == '%') {
            if (i + 2 >= v.size()) return std::nullopt;
            const int hi = hex_value(v[i + 1]);
            const int lo = hex_value(v[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            c = static_cast<unsigned char>(hi * 16 + lo);
            i += 2;
        }
        if (latin1 && c >= 0x80) {
            out += static_cast<char>(0xC0 | (c >> 6));
            out += static_cast<char>(0x80 | (c & 0x3F));
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

/// The end of the line starting at `pos` (the index of its '\n'), or npos.
std::size_t line_end(std::string_view s, std::size_t pos) {
    return s.find('\n', pos);
}

/// The line [pos, nl) without its trailing '\r'.
std::string_view line_at(std::string_view s, std::size_t pos, std::size_t nl) {
    std::string_view line = s.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

/// Reads the part's header lines starting at `pos`; on success `pos` is the first byte of the
/// part's data.
bool parse_part_headers(std::string_view body, std::size_t& pos, multipart_part& part,
                        std::string& error) {
    const std::size_t start = pos;
    bool disposition = false;
    for (;;) {
        const std::size_t nl = line_end(body, pos);
        if (nl == std::string_view::npos || nl - start > max_part_headers) {
            error = nl == std::string_view::npos ? "no closing boundary" : "part headers too large";
            return false;
        }
        const std::string_view line = line_at(body, pos, nl);
        pos = nl + 1;
        if (line.empty()) break;
        // A part's headers are passed on (its Content-Type goes into the upload to Vapi): a
        // control character there (a bare CR) could start a header of its own.
        if (std::any_of(line.begin(), line.end(), [](char ch) {
                const auto c = static_cast<unsigned char>(ch);
                return (c < 0x20 && c != '\t') || c == 0x7f;
            })) {
            error = "control character in a part header";
            return false;
        }
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) {
            error = "malformed part header";
            return false;
        }
        const std::string_view name = trim(line.substr(0, colon));
        const std::string_view value = trim(line.substr(colon + 1));
        if (iequals(name, "content-disposition")) {
            std::string_view type;
            std::vector<parameter> params;
            if (!parse_parameters(value, type, params)) {
                error = "malformed Content-Disposition";
                return false;
            }
            if (!iequals(type, "form-data")) {
                error = "part is not form-data";
                return false;
            }
            const parameter* n = find_parameter(params, "name");
            if (n == nullptr) {
                error = "part without a name";
                return false;
            }
            part.name = n->value;
            if (const parameter* ext = find_parameter(params, "filename*")) {
                std::optional<std::string> decoded = decode_ext_value(ext->value);
                if (!decoded) {
                    error = "malformed filename*";
                    return false;
                }
                part.filename = std::move(*decoded);
                part.has_filename = true;
            } else if (const parameter* f = find_parameter(params, "filename")) {
                part.filename = f->value;
                part.has_filename = true;
            }
            disposition = true;
        } else if (iequals(name, "content-type")) {
            part.content_type.assign(value);
        }
    }
    if (!disposition) {
        error = "part without Content-Disposition";
        return false;
    }
    return true;
}

/// After a delimiter ending at `pos`: "--" closes the body; otherwise optional whitespace and a
/// line end must follow. Returns 1 for the close delimiter, 0 for a part delimiter (`pos` moved
/// past its line end), -1 when this is not a delimiter at all (the boundary text followed by
/// other bytes, which may happen inside data).
int after_delimiter(std::string_view body, std::size_t& pos) {
    if (body.substr(pos, 2) == "--") return 1;
    std::size_t i = pos;
    while (i < body.size() && (body[i] == ' ' || body[i] == '\t')) ++i;
    if (i < body.size() && body[i] == '\n') {
        pos = i + 1;
        return 0;
    }
    if (i + 1 < body.size() && body[i] == '\r' && body[i + 1] == '\n') {
        pos = i + 2;
        return 0;
    }
    return -1;
}

}  // namespace

std::optional<std::vector<multipart_part>> parse_multipart(std::string_view content_type,
                                                           std::string_view body,
                                                           std::string& error) {
    std::string_view media_type;
    std::vector<parameter> params;
    if (!parse_parameters(content_type, media_type, params)) {
        error = "malformed Content-Type";
        return std::nullopt;
    }
    if (!iequals(media_type, "multipart/form-data")) {
        error = "Content-Type is not multipart/form-data";
        return std::nullopt;
    }
    const parameter* b = find_parameter(params, "boundary");
    if (b == nullptr || b->value.empty()) {
        error = "missing boundary";
        return std::nullopt;
    }
    if (b->value.size() > max_boundary) {
        error = "boundary longer than 70 characters";
        return std::nullopt;
    }

    // A delimiter is "--boundary" at the very start of the body or right after a line break.
    const std::string delimiter = "--" + b->value;
    const std::string line_delimiter = "\n" + delimiter;
    const std::boyer_moore_horspool_searcher find_delimiter(line_delimiter.begin(),
                                                            line_delimiter.end());
    // Finds the next delimiter line at or after `from`; returns the position of its '\n' (or 0
    // for the body's start when `from` is 0) and sets `after` past the delimiter.
    auto next_delimiter = [&](std::size_t from, std::size_t& after) -> std::size_t {
        if (from == 0 && body.substr(0, delimiter.size()) == delimiter) {
            after = delimiter.size();
            return 0;
        }
        const auto it = std::search(body.begin() + static_cast<std::ptrdiff_t>(from), body.end(),
                                    find_delimiter);
        if (it == body.end()) return std::string_view::npos;
        const auto at = static_cast<std::size_t>(it - body.begin());
        after = at + line_delimiter.size();
        return at;
    };

    // The first delimiter: anything before it is preamble.
    std::size_t pos = 0;
    std::size_t after = 0;
    for (std::size_t from = 0;;) {
        const std::size_t at = next_delimiter(from, after);
        if (at == std::string_view::npos) {
            error = "no opening boundary";
            return std::nullopt;
        }
        pos = after;
        const int kind = after_delimiter(body, pos);
        if (kind == 1) return std::vector<multipart_part>{};  // no parts: only the close
        if (kind == 0) break;
        from = at + 1;
    }

    std::vector<multipart_part> parts;
    for (;;) {
        if (parts.size() == max_parts) {
            error = "too many parts (at most 100)";
            return std::nullopt;
        }
        multipart_part part;
        if (!parse_part_headers(body, pos, part, error)) return std::nullopt;
        const std::size_t data_start = pos;
        for (std::size_t from = data_start == 0 ? 0 : data_start - 1;;) {
            // The '\n' before the delimiter may be the one ending the blank line after the
            // headers (an empty part), hence the search from data_start - 1.
            const std::size_t at = next_delimiter(std::max<std::size_t>(from, 1), after);
            if (at == std::string_view::npos) {
                error = "no closing boundary";
                return std::nullopt;
            }
            std::size_t next = after;
            const int kind = after_delimiter(body, next);
            if (kind < 0) {
                from = at + 1;
                continue;
            }
            // The line break before the delimiter belongs to it, not to the data.
            std::size_t data_end = std::max(at, data_start);
            if (data_end > data_start && body[data_end - 1] == '\r') --data_end;
            part.data = body.substr(data_start, data_end - data_start);
            parts.push_back(std::move(part));
            if (kind == 1) return parts;  // the epilogue is ignored
            pos = next;
            break;
        }
    }
}

}  // namespace switchboard::http
