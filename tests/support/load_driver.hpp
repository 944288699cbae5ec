#pragma once
/// Concurrent webhook senders for the durability tests. Each thread has its own keep-alive
/// http_client and gives every request a call id of its own (substituted into a template body),
/// so every acknowledged request must produce a distinct row in call_events. Loops are bounded
/// by a request count per thread and by a total duration; only 127.0.0.1 is ever targeted.

#include "support/http_client.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::test {

struct request_record {
    std::string call_id;
    unsigned status = 0;  ///< 0: transport error (see `error`)
    bool retry_after = false;
    std::string error;
    int phase_at_send = 0;   ///< the driver's phase when the request was sent…
    int phase_at_reply = 0;  ///< …and when its answer (or error) came
    std::chrono::milliseconds latency{0};
};

class load_driver {
  public:
    struct options {
        std::uint16_t port = 0;
        unsigned threads = 4;
        std::string body_template;  ///< a webhook body with a message.call.id
        header_list headers;
        std::string id_prefix = "load";
        std::string target = "/receive";
        std::size_t max_requests_per_thread = 2000;
        std::chrono::milliseconds max_duration{60'000};
        std::chrono::milliseconds client_timeout{10'000};
        std::chrono::milliseconds pause_after_error{20};  ///< avoid spinning on a dead server
    };

    explicit load_driver(options opts);
    ~load_driver();  ///< stops and joins
    load_driver(const load_driver&) = delete;
    load_driver& operator=(const load_driver&) = delete;

    void start();
    /// Asks the threads to stop after their current request and joins them.
    void stop();

    /// A label the test moves forward (e.g. 0 before an outage, 1 during, 2 after); every
    /// record carries the phase at send and at reply time.
    void set_phase(int phase) { phase_.store(phase); }

    /// Requests answered (or failed) so far.
    std::size_t completed() const { return completed_.load(); }
    /// Requests answered with `status` so far.
    std::size_t count(unsigned status) const;
    /// Requests answered with `status` whose reply came in `phase`.
    std::size_t count(unsigned status, int phase) const;

    /// Every record (call after stop()).
    std::vector<request_record> records() const;

  private:
    void thread_body(unsigned index);

    options opts_;
    std::string template_call_id_;
    std::atomic<bool> stop_{false};
    std::atomic<int> phase_{0};
    std::atomic<std::size_t> completed_{0};
    mutable std::mutex mutex_;
    std::vector<request_record> records_;
    std::vector<std::thread> threads_;
};

}  // namespace switchboard::test
