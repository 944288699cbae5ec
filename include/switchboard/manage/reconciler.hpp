#pragma once
/// Compensations that failed: a Vapi object created (or a file attached) whose mirror write in
/// Postgres failed, and whose removal from Vapi failed too. Each one is kept here and retried
/// in the background until Vapi confirms the removal (2xx, or 404: already gone), logged on every
/// step and counted in the gauge `switchboard_manage_unreconciled`, so no half-state is silent.
///
/// Kept in memory: a restart loses the list (the error log names every entry).
/// Threads: `add` from any thread; the retry loop runs on the executor given to `start`.

#include "switchboard/metrics/registry.hpp"
#include "switchboard/vapi/rest_client.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace switchboard::manage {

class reconciler {
  public:
    reconciler(vapi::rest_client& vapi, metrics::registry& reg,
               std::chrono::milliseconds interval = std::chrono::seconds(5));
    ~reconciler();
    reconciler(const reconciler&) = delete;
    reconciler& operator=(const reconciler&) = delete;

    /// Records a Vapi request (`method` on `path`, e.g. DELETE /assistant/<id>) still to be done.
    void add(boost::beast::http::verb method, std::string path);

    /// Starts the retry loop on `executor`.
    void start(const boost::asio::any_io_executor& executor);
    /// Ends the retry loop (at its next wake-up at the latest). Entries left are logged.
    void stop();

    std::size_t pending() const;

  private:
    struct entry {
        boost::beast::http::verb method;
        std::string path;
    };
    boost::asio::awaitable<void> loop();

    vapi::rest_client& vapi_;
    prometheus::Gauge& gauge_;
    std::chrono::milliseconds interval_;
    mutable std::mutex mutex_;
    std::vector<entry> entries_;
    std::atomic<bool> stopping_{false};
    struct timer_holder;
    std::shared_ptr<timer_holder> timer_;
};

}  // namespace switchboard::manage
