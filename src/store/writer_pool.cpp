#include "switchboard/store/writer_pool.hpp"

#include "switchboard/base/log.hpp"
#include "switchboard/base/thread_name.hpp"

namespace switchboard::store {

writer_pool::writer_pool(const config::store_config& cfg, ingest::event_queue& queue,
                         metrics::registry& reg, spool* given_up)
    : metrics_(reg), given_up_(cfg.writers, 0) {
    for (unsigned i = 0; i < cfg.writers; ++i) {
        writers_.push_back(std::make_unique<batch_writer>(i, cfg, queue, metrics_));
        writers_.back()->set_spool(given_up);
        done_.push_back(std::make_unique<std::atomic<bool>>(false));
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
            done_[i]->store(true);
        });
    }
}

std::size_t writer_pool::stop(std::chrono::steady_clock::duration timeout) {
    using clock = std::chrono::steady_clock;
    const auto give_up_at = clock::now() + timeout;
    give_up_after_ = give_up_at.time_since_epoch().count();
    stop_ = true;
    // A writer gives up between attempts; one waiting for an answer that does not come (a lock
    // on a table, a stopped server) would wait forever. After the give-up time, and every
    // second after it, such a writer's connections are shut down under it.
    auto next_abort = give_up_at + std::chrono::seconds(1);
    for (;;) {
        bool all_done = true;
        for (const auto& d : done_) all_done = all_done && d->load();
        if (all_done) break;
        if (clock::now() >= next_abort) {
            for (std::size_t i = 0; i < writers_.size(); ++i) {
                if (!done_[i]->load()) {
                    log::warn(
                        "msg=\"writer still waiting for Postgres at the give-up time: "
                        "closing its connections\" writer={}",
                        i);
                    writers_[i]->abort_connections();
                }
            }
            next_abort = clock::now() + std::chrono::seconds(1);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
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
