#include "switchboard/ingest/hmac.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <stdexcept>

namespace switchboard::ingest {

hmac::hmac(config::hmac_algorithm algorithm, std::string key)
    : mac_(EVP_MAC_fetch(nullptr, "HMAC", nullptr)), key_(std::move(key)) {
    switch (algorithm) {
        case config::hmac_algorithm::sha1:
            digest_name_ = "SHA1", size_ = 20;
            break;
        case config::hmac_algorithm::sha512:
            digest_name_ = "SHA512", size_ = 64;
            break;
        case config::hmac_algorithm::sha256:
        default:
            digest_name_ = "SHA256", size_ = 32;
            break;
    }
    if (mac_ == nullptr) throw std::runtime_error("OpenSSL has no HMAC implementation");
}

hmac::~hmac() {
    EVP_MAC_free(mac_);
}

std::size_t hmac::compute(std::span<const std::string_view> parts, digest& out) const noexcept {
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac_);
    if (ctx == nullptr) return 0;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest_name_), 0),
        OSSL_PARAM_construct_end()};
    std::size_t written = 0;
    bool ok = EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key_.data()), key_.size(),
                           params) == 1;
    for (std::string_view part : parts) {
        if (!ok) break;
        ok = EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(part.data()),
                            part.size()) == 1;
    }
    if (ok) ok = EVP_MAC_final(ctx, out.data(), &written, out.size()) == 1;
    EVP_MAC_CTX_free(ctx);
    return ok ? written : 0;
}

std::optional<std::string> decode_hex(std::string_view text) {
    if (text.size() % 2 != 0) return std::nullopt;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out(text.size() / 2, '\0');
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int hi = nibble(text[2 * i]);
        const int lo = nibble(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<char>(hi << 4 | lo);
    }
    return out;
}

std::optional<std::string> decode_base64(std::string_view text) {
    // EVP_DecodeBlock alone accepts '=' anywhere, surplus padding and a lone final character,
    // and then returns wrong bytes ("YWJj=" gave "ab"). So the shape is checked first: base64
    // characters, then only the '=' that complete the last group of four.
    std::size_t data = text.size();
    while (data > 0 && text[data - 1] == '=') --data;
    const std::size_t pad = text.size() - data;
    if (data % 4 == 1 || pad > (4 - data % 4) % 4) return std::nullopt;
    for (const char c : text.substr(0, data)) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (!ok) return std::nullopt;
    }
    std::string padded(text.substr(0, data));
    while (padded.size() % 4 != 0) padded += '=';
    std::string out(padded.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(padded.data()),
                                  static_cast<int>(padded.size()));
    if (n < 0) return std::nullopt;
    // EVP_DecodeBlock counts padding as zero bytes: drop them.
    out.resize(static_cast<std::size_t>(n) - (padded.size() - data));
    return out;
}

std::string encode_hex(std::string_view bytes) {
    static constexpr char k_digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += k_digits[c >> 4];
        out += k_digits[c & 15];
    }
    return out;
}

std::string encode_base64(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool secret_matches(std::string_view received, std::string_view expected) noexcept {
    // As many bytes are compared as were received, whether the lengths match or not. (Hashing
    // both sides with SHA-256 gave the same guarantee for 3,000 instructions per request.)
    const bool same_size = received.size() == expected.size();
    const std::string_view against = same_size ? expected : received;
    const bool same = CRYPTO_memcmp(received.data(), against.data(), received.size()) == 0;
    return same & same_size & !expected.empty();
}

}  // namespace switchboard::ingest
