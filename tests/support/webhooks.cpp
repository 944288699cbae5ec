#include "support/webhooks.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdlib>
#include <sstream>

namespace switchboard::test {

std::string call_id_of(const std::string& body) {
    boost::system::error_code ec;
    const auto v = boost::json::parse(body, ec);
    if (ec || !v.is_object()) return {};
    const auto* msg = v.as_object().if_contains("message");
    if (msg == nullptr || !msg->is_object()) return {};
    const auto* call = msg->as_object().if_contains("call");
    if (call == nullptr || !call->is_object()) return {};
    const auto* id = call->as_object().if_contains("id");
    return id != nullptr && id->is_string() ? std::string(id->as_string()) : std::string{};
}

std::string with_call_id(const std::string& body, const std::string& call_id) {
    const std::string old = call_id_of(body);
    if (old.empty()) return body;
    std::string out;
    out.reserve(body.size() + 64);
    std::size_t pos = 0;
    for (;;) {
        const std::size_t hit = body.find(old, pos);
        if (hit == std::string::npos) break;
        out.append(body, pos, hit - pos);
        out += call_id;
        pos = hit + old.size();
    }
    out.append(body, pos, std::string::npos);
    return out;
}

std::string message_json(const std::string& body) {
    const auto v = boost::json::parse(body);
    return boost::json::serialize(v.as_object().at("message"));
}

std::string small_webhook(const std::string& call_id, std::string_view type,
                          std::optional<std::size_t> exact_size) {
    const std::string head = R"({"message":{"type":")" + std::string(type) + R"(","timestamp":)" +
                             std::to_string(unix_millis_now()) + R"(,"call":{"id":")" + call_id +
                             R"("})";
    if (!exact_size) return head + "}}";
    const std::string pad_open = R"(,"pad":")";
    const std::string pad_close = "\"}}";
    const std::size_t fixed = head.size() + pad_open.size() + pad_close.size();
    if (*exact_size < fixed) std::abort();  // a test asked for an impossible size
    return head + pad_open + std::string(*exact_size - fixed, ' ') + pad_close;
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned i = 0; i < len; ++i) {
        hex += k_hex[out[i] >> 4];
        hex += k_hex[out[i] & 15];
    }
    return hex;
}

std::optional<double> metric_value(const std::string& exposition, std::string_view series) {
    std::istringstream in(exposition);
    std::string line;
    while (std::getline(in, line)) {
        if (line.size() <= series.size() || line.compare(0, series.size(), series) != 0) continue;
        if (line[series.size()] != ' ') continue;
        return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
    return std::nullopt;
}

std::optional<std::string> json_error_text(const std::string& body) {
    boost::system::error_code ec;
    const auto v = boost::json::parse(body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto* e = v.as_object().if_contains("error");
    if (e == nullptr || !e->is_string()) return std::nullopt;
    return std::string(e->as_string());
}

long long unix_millis_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace switchboard::test
