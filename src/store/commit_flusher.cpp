#include "switchboard/store/commit_flusher.hpp"

#include "switchboard/base/log.hpp"
#include "switchboard/base/thread_name.hpp"

#include <algorithm>

namespace switchboard::store {

using clock = std::chrono::steady_clock;

namespace {
constexpr const char* k_flush_sql = "SELECT pg_logical_emit_message(true, 'switchboard', '')";
}  // namespace

commit_flusher::commit_flusher(unsigned id, const config::store_config& cfg,
                               store_metrics& metrics, confirm_fn confirm)
    : id_(id), cfg_(cfg), metrics_(metrics), confirm_(std::move(confirm)) {}

commit_flusher::~commit_flusher() { stop(); }

void commit_flusher::start() {
    if (thread_.joinable()) return;
    {
        std::lock_guard lock(mutex_);
        stop_ = false;
    }
    thread_ = std::thread([this] {
        base::name_this_thread("sb-flush-" + std::to_string(id_));
        loop();
    });
}

void commit_flusher::stop() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    epoch_.store(0, std::memory_order_release);
    conn_.reset();
}

void commit_flusher::submit(batch events, std::uint64_t epoch) {
    {
        std::lock_guard lock(mutex_);
        waiting_.push_back({std::move(events), epoch});
    }
    cv_.notify_one();
}

std::vector<commit_flusher::batch> commit_flusher::take_returned() {
    std::vector<batch> out;
    std::lock_guard lock(mutex_);
    out.reserve(returned_.size());
    for (auto& it : returned_) out.push_back(std::move(it.events));
    returned_.clear();
    returned_flag_.store(false, std::memory_order_release);
    return out;
}

std::size_t commit_flusher::outstanding() const {
    std::lock_guard lock(mutex_);
    return waiting_.size() + returned_.size() + in_progress_;
}

std::vector<commit_flusher::batch> commit_flusher::take_all() {
    std::vector<batch> out;
    std::lock_guard lock(mutex_);
    for (auto* list : {&returned_, &waiting_}) {
        for (auto& it : *list) out.push_back(std::move(it.events));
        list->clear();
    }
    returned_flag_.store(false, std::memory_order_release);
    return out;
}

void commit_flusher::give_back(std::vector<item>& items) {
    if (!items.empty()) metrics_.flush_returned.Increment(static_cast<double>(items.size()));
    std::lock_guard lock(mutex_);
    for (auto& it : items) returned_.push_back(std::move(it));
    if (!items.empty()) returned_flag_.store(true, std::memory_order_release);
    in_progress_ = 0;
}

bool commit_flusher::ensure_connected() {
    if (conn_.ok()) return true;
    epoch_.store(0, std::memory_order_release);
    std::string error;
    auto c = pg_connection::connect(cfg_.database_url, cfg_.connect_timeout, error);
    // A flush must wait for the disk (and for synchronous standbys, where the server has them)
    // whatever the server's default; `local` keeps the standbys out of it, so it is not enough.
    if (c) {
        if (auto e = c->exec("SET synchronous_commit = on")) {
            error = e->message;
        } else {
            conn_ = std::move(*c);
            epoch_.store(++connections_, std::memory_order_release);
            return true;
        }
    }
    log::warn("msg=\"flusher cannot reach Postgres\" writer={} error=\"{}\"", id_, error);
    return false;
}

void commit_flusher::loop() {
    auto backoff = std::chrono::milliseconds(50);
    std::vector<item> taken, stale;
    for (;;) {
        if (!ensure_connected()) {
            std::unique_lock lock(mutex_);
            if (cv_.wait_for(lock, backoff, [&] { return stop_; })) return;
            backoff = std::min(backoff * 2, cfg_.reconnect_max_backoff);
            continue;
        }
        backoff = std::chrono::milliseconds(50);
        {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [&] { return stop_ || !waiting_.empty(); });
            if (stop_) return;
            taken.swap(waiting_);
            in_progress_ = taken.size();
        }
        // Sent before this connection was open: a crash may have come between.
        const std::uint64_t epoch = epoch_.load(std::memory_order_relaxed);
        const auto from = std::stable_partition(taken.begin(), taken.end(),
                                                [&](const item& it) { return it.epoch == epoch; });
        for (auto it = from; it != taken.end(); ++it) stale.push_back(std::move(*it));
        taken.erase(from, taken.end());
        if (!taken.empty()) {
            const auto started = clock::now();
            // A synchronous commit waits for the WAL flush only when its transaction wrote WAL
            // (an xid alone is not enough: such a commit is not waited for). A transactional
            // logical message is the least WAL a statement can write; no table, no privilege
            // beyond the default, and ignored by logical decoding unless asked for.
            if (auto e = conn_.exec(k_flush_sql)) {
                metrics_.error(e->what);
                log::warn("msg=\"flusher lost its Postgres connection\" writer={} error=\"{}\"",
                          id_, e->message);
                conn_.reset();
                epoch_.store(0, std::memory_order_release);
                for (auto& it : taken) stale.push_back(std::move(it));
            } else {
                metrics_.flush_seconds.Observe(
                    std::chrono::duration<double>(clock::now() - started).count());
                metrics_.flush_batches.Observe(static_cast<double>(taken.size()));
                for (auto& it : taken) confirm_(it.events);
            }
        }
        give_back(stale);  // and the flush is over
        taken.clear();
        stale.clear();
    }
}

}  // namespace switchboard::store
