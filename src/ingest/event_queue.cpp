#include "switchboard/ingest/event_queue.hpp"

namespace switchboard::ingest {

event_queue::event_queue(const config::queue_config& cfg) : cfg_(cfg), queue_(1024) {}

bool event_queue::try_push(event& ev) {
    const std::size_t size = ev.footprint();
    if (depth_.fetch_add(1, std::memory_order_relaxed) >= cfg_.capacity) {
        depth_.fetch_sub(1, std::memory_order_relaxed);
        return false;
    }
    if (bytes_.fetch_add(size, std::memory_order_relaxed) + size > cfg_.max_bytes) {
        bytes_.fetch_sub(size, std::memory_order_relaxed);
        depth_.fetch_sub(1, std::memory_order_relaxed);
        return false;
    }
    if (!queue_.enqueue(std::move(ev))) {  // allocation failure
        release(1, size);
        return false;
    }
    return true;
}

std::size_t event_queue::pop_bulk(moodycamel::ConsumerToken& token, event* out, std::size_t max,
                                  std::chrono::microseconds timeout) {
    return queue_.wait_dequeue_bulk_timed(token, out, max, timeout);
}

std::size_t event_queue::try_pop_bulk(moodycamel::ConsumerToken& token, event* out,
                                      std::size_t max) {
    return queue_.try_dequeue_bulk(token, out, max);
}

void event_queue::release(std::size_t events, std::size_t bytes) noexcept {
    depth_.fetch_sub(events, std::memory_order_relaxed);
    bytes_.fetch_sub(bytes, std::memory_order_relaxed);
}

bool event_queue::saturated() const noexcept {
    return depth() * 10 >= cfg_.capacity * 9 || bytes() * 10 >= cfg_.max_bytes * 9;
}

}  // namespace switchboard::ingest
