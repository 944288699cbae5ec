// Micro-benchmark of the management API's token check at the listener (token_verifier::check_now,
// which runs on the I/O thread before a request's body is read): an HS256 Supabase access token,
// verified and its claims checked the first time the verifier sees it (`jwt_check_hs256`), and
// found among the tokens verified before (`jwt_check_hs256_remembered`: a front end sends the
// same token with every request until it expires).
//   build/release/bench/switchboard-micro --benchmark_filter=jwt --benchmark_min_time=0.5
// An ES256 token's check is dominated by one ECDSA P-256 verification: `openssl speed ecdsap256`.
#include "switchboard/manage/jwt.hpp"

#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace {
using namespace switchboard;

constexpr std::string_view k_secret = "micro-benchmark-secret-of-enough-length";

std::string b64url(std::string_view in) {
    std::string out(4 * ((in.size() + 2) / 3), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(in.data()),
                                  static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    while (!out.empty() && out.back() == '=') out.pop_back();
    for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
    return out;
}

std::string hs256_token(int n = 0) {
    const auto exp = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count() +
                     3600;
    const std::string input =
        b64url(R"({"alg":"HS256","typ":"JWT"})") + "." +
        b64url(R"({"sub":"8f2b6c1e-4a3d-4c5e-9f7a-1b2c3d4e5f60","aud":"authenticated",)"
               R"("role":"authenticated","email":"someone@example.com","n":)" +
               std::to_string(n) + R"(,"exp":)" + std::to_string(exp) + "}");
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    HMAC(EVP_sha256(), k_secret.data(), static_cast<int>(k_secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    return input + "." + b64url({reinterpret_cast<const char*>(mac), len});
}

manage::jwt_config hs256_config() {
    manage::jwt_config cfg;
    cfg.hs256_secret = std::string(k_secret);
    return cfg;
}

/// Tokens the verifier has not seen: each verifier (made outside the timing) sees each of
/// `k_distinct` tokens once.
void jwt_check_hs256(benchmark::State& state) {
    constexpr std::size_t k_distinct = 4096;
    std::vector<std::string> headers;
    headers.reserve(k_distinct);
    for (std::size_t i = 0; i < k_distinct; ++i) {
        headers.push_back("Bearer " + hs256_token(static_cast<int>(i)));
    }
    std::unique_ptr<manage::token_verifier> verifier;
    std::size_t i = 0;
    for (auto _ : state) {
        if (i % k_distinct == 0) {
            state.PauseTiming();
            verifier = std::make_unique<manage::token_verifier>(hs256_config(), nullptr);
            state.ResumeTiming();
        }
        if (verifier->check_now(headers[i % k_distinct])) {
            state.SkipWithError("the token does not verify");
            return;
        }
        ++i;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(jwt_check_hs256);

/// The same token again: remembered since its first check.
void jwt_check_hs256_remembered(benchmark::State& state) {
    const manage::token_verifier verifier(hs256_config(), nullptr);
    const std::string header = "Bearer " + hs256_token();
    if (verifier.check_now(header)) {
        state.SkipWithError("the token does not verify");
        return;
    }
    for (auto _ : state) benchmark::DoNotOptimize(verifier.check_now(header));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(jwt_check_hs256_remembered);

}  // namespace
