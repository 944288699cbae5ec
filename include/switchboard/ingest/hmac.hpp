#pragma once
/// HMAC (SHA-1/256/512) over a sequence of byte ranges, with OpenSSL 3's EVP_MAC, and the
/// decoders the signature check needs. Immutable after construction: safe from any thread.

#include "switchboard/config/config.hpp"

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>

struct evp_mac_st;

namespace switchboard::ingest {

class hmac {
  public:
    static constexpr std::size_t max_digest = 64;
    using digest = std::array<unsigned char, max_digest>;

    /// Throws std::runtime_error when OpenSSL lacks the algorithm.
    hmac(config::hmac_algorithm algorithm, std::string key);
    ~hmac();
    hmac(const hmac&) = delete;
    hmac& operator=(const hmac&) = delete;

    std::size_t digest_size() const noexcept { return size_; }

    /// HMAC of the concatenation of `parts`; returns the number of bytes written to `out`, or 0
    /// when OpenSSL fails.
    std::size_t compute(std::span<const std::string_view> parts, digest& out) const noexcept;

  private:
    evp_mac_st* mac_;
    std::string key_;
    const char* digest_name_;
    std::size_t size_;
};

/// Hex (either case) or standard base64 (padding optional) to bytes; nullopt when malformed.
std::optional<std::string> decode_hex(std::string_view text);
std::optional<std::string> decode_base64(std::string_view text);
std::string encode_hex(std::string_view bytes);
std::string encode_base64(std::string_view bytes);

/// Constant-time equality of two byte strings (the time depends only on the lengths).
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

/// A received credential against the expected one, in a time that depends only on what was
/// received: neither the expected value nor its length shows. False when `expected` is empty.
bool secret_matches(std::string_view received, std::string_view expected) noexcept;

}  // namespace switchboard::ingest
