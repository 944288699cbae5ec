#include "switchboard/store/writer_pool.hpp"

#include "switchboard/base/thread_name.hpp"

namespace switchboard::store {

writer_pool::writer_pool(const config::store_config& cfg, ingest::event_queue& queue,
                         metrics::registry& reg)
    : metrics_(reg), given_up_(cfg.writers, 0) {
    for (unsigned i = 0; i < cfg.writers; ++i) {
        writers_.push_back(std::make_unique<batch_writer>(i, cfg, queue, metrics_));
    }
}

writer_pool::~writer_pool() {
    if (!threads_.empty()) stop(std::chrono::seconds(0));
}

void writer_pool::start() {
    for (std::size_t i = 0; i < writers_.size(); ++i) {
        threads_.emplace_back([this, i] {
            base::name_this_thread("sb-writer-" + std::to_string(i));
            given_up_[i] = writers_[i]->run(stop_, give_up_after_);
        });
    }
}

std::size_t writer_pool::stop(std::chrono::steady_clock::duration timeout) {
    give_up_after_ = (std::chrono::steady_clock::now() + timeout).time_since_epoch().count();
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
    std::size_t total = 0;
    for (auto n : given_up_) total += n;
    return total;
}

unsigned writer_pool::connected() const {
    unsigned n = 0;
    for (const auto& w : writers_) n += w->connected() ? 1 : 0;
    return n;
}

}  // namespace switchboard::store
