// How much memory a management request's JSON body takes once parsed (boost::json, as the
// management API parses it): the bytes the tree allocates per byte of text, counted exactly by
// a memory resource, for two shapes of 1 MiB: an array of small numbers (the worst) and an
// object of many small members.
//   build/release/bench/switchboard-micro --benchmark_filter=json_tree
// The counter tree_bytes_per_text_byte is what manage_config::json_copies must cover.
#include <benchmark/benchmark.h>
#include <boost/json/memory_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <new>
#include <string>

namespace {

/// Allocates from the global heap and counts what is held at the most.
class counting_resource final : public boost::json::memory_resource {
  public:
    std::size_t peak() const { return peak_; }

  private:
    void* do_allocate(std::size_t n, std::size_t align) override {
        held_ += n;
        if (held_ > peak_) peak_ = held_;
        return ::operator new(n, std::align_val_t(align));
    }
    void do_deallocate(void* p, std::size_t n, std::size_t align) override {
        held_ -= n;
        ::operator delete(p, n, std::align_val_t(align));
    }
    bool do_is_equal(const boost::json::memory_resource& other) const noexcept override {
        return this == &other;
    }
    std::size_t held_ = 0;
    std::size_t peak_ = 0;
};

std::string body_of(bool array, std::size_t size) {
    std::string s = R"({"action":"create","data":{"name":"x","a":)";
    s += array ? '[' : '{';
    for (int i = 0; s.size() < size; ++i) {
        if (array) {
            s += "0,";
        } else {
            s += '"' + std::to_string(i) + "\":0,";
        }
    }
    s += array ? "0]}}" : "\"z\":0}}}";
    return s;
}

void json_tree(benchmark::State& state, bool array) {
    const std::string text = body_of(array, std::size_t{1} << 20);
    std::size_t peak = 0;
    for (auto _ : state) {
        counting_resource mr;
        {
            boost::json::value v = boost::json::parse(text, &mr);
            benchmark::DoNotOptimize(v);
        }
        peak = mr.peak();
    }
    state.counters["tree_bytes_per_text_byte"] =
        static_cast<double>(peak) / static_cast<double>(text.size());
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK_CAPTURE(json_tree, array_of_zeros, true);
BENCHMARK_CAPTURE(json_tree, object_of_small_members, false);

}  // namespace
