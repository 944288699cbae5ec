#include "switchboard/ingest/event_queue.hpp"

#include <algorithm>
#include <functional>

namespace switchboard::ingest {

event_queue::event_queue(const config::queue_config& cfg, std::size_t shards)
    : cfg_(cfg),
      reply_capacity_(cfg.capacity + std::max<std::size_t>(1, cfg.capacity / 16)),
      reply_max_bytes_(cfg.max_bytes +
                       std::max<std::size_t>(std::size_t{1} << 20, cfg.max_bytes / 16)) {
    for (std::size_t i = 0; i < std::max<std::size_t>(1, shards); ++i) {
        shards_.push_back(std::make_unique<shard_queue>(1024));
    }
}

std::size_t event_queue::shard_of(std::string_view call_id) const noexcept {
    return shards_.size() == 1 ? 0 : std::hash<std::string_view>{}(call_id) % shards_.size();
}

moodycamel::ConsumerToken event_queue::consumer_token(std::size_t shard) {
    return moodycamel::ConsumerToken(*shards_[shard]);
}

std::size_t event_queue::queued() const noexcept {
    std::size_t n = 0;
    for (const auto& s : shards_) n += s->size_approx();
    return n;
}

bool event_queue::try_push(event& ev, bool for_reply) {
    const std::size_t size = ev.footprint();
    const std::size_t capacity = for_reply ? reply_capacity_ : cfg_.capacity;
    const std::size_t max_bytes = for_reply ? reply_max_bytes_ : cfg_.max_bytes;
    const std::size_t before = depth_.fetch_add(1, std::memory_order_relaxed);
    if (before >= capacity) {
        depth_.fetch_sub(1, std::memory_order_relaxed);
        return false;
    }
    if (before == 0) {
        progress_at_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                           std::memory_order_relaxed);
    }
    if (bytes_.fetch_add(size, std::memory_order_relaxed) + size > max_bytes) {
        bytes_.fetch_sub(size, std::memory_order_relaxed);
        depth_.fetch_sub(1, std::memory_order_relaxed);
        return false;
    }
    if (!shards_[shard_of(ev.call_id)]->enqueue(std::move(ev))) {  // allocation failure
        release(1, size);
        return false;
    }
    return true;
}

std::size_t event_queue::pop_bulk(std::size_t shard, moodycamel::ConsumerToken& token, event* out,
                                  std::size_t max, std::chrono::microseconds timeout) {
    return shards_[shard]->wait_dequeue_bulk_timed(token, out, max, timeout);
}

std::size_t event_queue::try_pop_bulk(std::size_t shard, moodycamel::ConsumerToken& token,
                                      event* out, std::size_t max) {
    return shards_[shard]->try_dequeue_bulk(token, out, max);
}

void event_queue::release(std::size_t events, std::size_t bytes) noexcept {
    progress_at_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                       std::memory_order_relaxed);
    depth_.fetch_sub(events, std::memory_order_relaxed);
    bytes_.fetch_sub(bytes, std::memory_order_relaxed);
}

std::chrono::steady_clock::duration event_queue::stalled_for() const noexcept {
    if (depth() == 0) return {};
    const std::chrono::steady_clock::duration since(
        std::chrono::steady_clock::now().time_since_epoch().count() -
        progress_at_.load(std::memory_order_relaxed));
    return std::max(since, std::chrono::steady_clock::duration::zero());
}

bool event_queue::saturated() const noexcept {
    return depth() * 10 >= cfg_.capacity * 9 || bytes() * 10 >= cfg_.max_bytes * 9;
}

}  // namespace switchboard::ingest
