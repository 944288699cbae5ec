#include "support/load_driver.hpp"

#include "support/webhooks.hpp"

#include <gtest/gtest.h>

namespace switchboard::test {

load_driver::load_driver(options opts) : opts_(std::move(opts)) {
    template_call_id_ = call_id_of(opts_.body_template);
    if (template_call_id_.empty()) ADD_FAILURE() << "load_driver: the template body has no call id";
}

load_driver::~load_driver() {
    stop();
}

void load_driver::start() {
    for (unsigned i = 0; i < opts_.threads; ++i)
        threads_.emplace_back([this, i] { thread_body(i); });
}

void load_driver::stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
}

void load_driver::thread_body(unsigned index) {
    http_client client("127.0.0.1", opts_.port, opts_.client_timeout);
    const auto deadline = std::chrono::steady_clock::now() + opts_.max_duration;
    for (std::size_t i = 0; i < opts_.max_requests_per_thread; ++i) {
        if (stop_.load() || std::chrono::steady_clock::now() > deadline) break;
        request_record rec;
        rec.call_id = opts_.id_prefix + "-" + std::to_string(index) + "-" + std::to_string(i);
        const std::string body = with_call_id(opts_.body_template, rec.call_id);
        rec.phase_at_send = phase_.load();
        const auto sent = std::chrono::steady_clock::now();
        auto reply = client.post(opts_.target, body, opts_.headers);
        rec.latency = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - sent);
        rec.phase_at_reply = phase_.load();
        rec.status = reply.status;
        rec.retry_after = reply.headers.count("retry-after") != 0;
        rec.error = reply.error;
        {
            std::lock_guard lock(mutex_);
            records_.push_back(std::move(rec));
        }
        ++completed_;
        if (reply.status == 0) std::this_thread::sleep_for(opts_.pause_after_error);
    }
}

std::size_t load_driver::count(unsigned status) const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& r : records_) n += r.status == status ? 1 : 0;
    return n;
}

std::size_t load_driver::count(unsigned status, int phase) const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& r : records_) n += r.status == status && r.phase_at_reply == phase ? 1 : 0;
    return n;
}

std::vector<request_record> load_driver::records() const {
    std::lock_guard lock(mutex_);
    return records_;
}

}  // namespace switchboard::test
