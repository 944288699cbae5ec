#include "support/manage.hpp"
#include "support/webhooks.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>

namespace switchboard::test {

std::string base64url(std::string_view data) {
    static const char k[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    unsigned val = 0;
    int bits = -6;
    for (unsigned char c : data) {
        val = (val << 8) + c;
        bits += 8;
        while (bits >= 0) {
            out.push_back(k[(val >> bits) & 0x3F]);
            bits -= 6;
        }
    }
    if (bits > -6) out.push_back(k[((val << 8) >> (bits + 8)) & 0x3F]);
    return out;
}

std::string hs256_sign(const std::string& claims_json, const std::string& secret) {
    const std::string input =
        base64url(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url(claims_json);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    return input + "." + base64url(std::string_view(reinterpret_cast<const char*>(mac), len));
}

std::string hs256_token(const std::string& sub, const std::string& secret,
                        const std::string& audience, long long ttl_s) {
    const long long now = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    boost::json::object claims{{"sub", sub},
                               {"aud", audience},
                               {"role", "authenticated"},
                               {"iat", now},
                               {"exp", now + ttl_s}};
    return hs256_sign(boost::json::serialize(claims), secret);
}

manage_service::manage_service(const env_list& extra, bool with_vapi_key,
                               const std::string& database_url) {
    env_list env = {
        {"SUPABASE_JWT_SECRET", k_jwt_secret},
        {"VAPI_BASE_URL", fake_.base_url()},
        {"SWITCHBOARD_PUBLIC_URL", "https://switchboard.example"},
        {"VAPI_TIMEOUT_MS", "5000"},
    };
    if (with_vapi_key) env.emplace_back("VAPI_API_KEY", fake_.api_key());
    for (const auto& e : extra) env.push_back(e);
    svc_ = std::make_unique<service_process>(service_process::options{
        .env = service_env(database_url.empty() ? db_.url() : database_url, env)});
    client_ = std::make_unique<http_client>("127.0.0.1", svc_->port(), std::chrono::seconds(60));
}

http_reply manage_service::call(const std::string& method, const std::string& path,
                                const std::string& token, const std::string& body,
                                header_list headers) {
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    bool has_type = false;
    for (const auto& [k, v] : headers) has_type = has_type || k == "Content-Type";
    if (!has_type && !body.empty()) headers.emplace_back("Content-Type", "application/json");
    return client_->request(method, "/functions/v1/" + path, body, headers);
}

boost::json::value json_of(const http_reply& r) {
    boost::system::error_code ec;
    auto v = boost::json::parse(r.body, ec);
    return ec ? boost::json::value(nullptr) : v;
}

std::string id_of(const http_reply& r) {
    auto v = json_of(r);
    if (!v.is_object() || !v.get_object().contains("id")) return {};
    return std::string(v.at("id").as_string());
}

std::string error_of(const http_reply& r) {
    return json_error_text(r.body).value_or("<none>");
}

boost::json::array fake_objects(fake_vapi& fake, const std::string& kind) {
    auto st = fake.state();
    if (!st.is_object()) return {};
    const auto* v = st.get_object().if_contains(kind);
    return v != nullptr && v->is_array() ? v->get_array() : boost::json::array{};
}

std::string multipart_body(const std::vector<form_part_spec>& parts, const std::string& boundary) {
    std::string out;
    for (const auto& p : parts) {
        out += "--" + boundary + "\r\n";
        out += "Content-Disposition: form-data; name=\"" + p.name + "\"";
        if (!p.filename.empty()) out += "; filename=\"" + p.filename + "\"";
        out += "\r\n";
        if (!p.content_type.empty()) out += "Content-Type: " + p.content_type + "\r\n";
        out += "\r\n" + p.data + "\r\n";
    }
    out += "--" + boundary + "--\r\n";
    return out;
}

}  // namespace switchboard::test
