#include "switchboard/manage/reconciler.hpp"

#include "switchboard/base/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/verb.hpp>

namespace switchboard::manage {
namespace asio = boost::asio;

struct reconciler::timer_holder {
    explicit timer_holder(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
};

reconciler::reconciler(vapi::rest_client& vapi, metrics::registry& reg,
                       std::chrono::milliseconds interval)
    : vapi_(vapi),
      gauge_(prometheus::BuildGauge()
                 .Name("switchboard_manage_unreconciled")
                 .Help("Vapi objects left behind by a failed mirror write whose removal from "
                       "Vapi has not succeeded yet (retried in the background)")
                 .Register(reg.prom())
                 .Add({})),
      interval_(interval) {}

reconciler::~reconciler() {
    stop();
}

void reconciler::add(boost::beast::http::verb method, std::string path) {
    log::error("msg=\"Vapi compensation failed; kept for the reconciler\" method={} path={}",
               std::string(boost::beast::http::to_string(method)), path);
    std::lock_guard lock(mutex_);
    entries_.push_back(entry{method, std::move(path)});
    gauge_.Set(static_cast<double>(entries_.size()));
}

std::size_t reconciler::pending() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

void reconciler::start(const asio::any_io_executor& executor) {
    timer_ = std::make_shared<timer_holder>(executor);
    asio::co_spawn(executor, loop(), asio::detached);
}

void reconciler::stop() {
    if (stopping_.exchange(true)) return;
    if (timer_) {
        asio::post(timer_->timer.get_executor(), [t = timer_] { t->timer.cancel(); });
    }
    std::lock_guard lock(mutex_);
    for (const auto& e : entries_) {
        log::error("msg=\"unreconciled Vapi object at shutdown\" method={} path={}",
                   std::string(boost::beast::http::to_string(e.method)), e.path);
    }
}

asio::awaitable<void> reconciler::loop() {
    auto holder = timer_;
    while (!stopping_.load()) {
        holder->timer.expires_after(interval_);
        co_await holder->timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (stopping_.load()) break;
        std::vector<entry> todo;
        {
            std::lock_guard lock(mutex_);
            todo = entries_;
        }
        for (const auto& e : todo) {
            auto r = co_await vapi_.call(e.method, e.path);
            const bool done = r.has_value() || (r.error().code == vapi::rest_errc::rejected &&
                                                r.error().status == 404);
            if (!done) {
                log::warn("msg=\"reconcile attempt failed\" path={} error=\"{}\"", e.path,
                          r.error().message);
                continue;
            }
            log::info("msg=\"reconciled\" method={} path={}",
                      std::string(boost::beast::http::to_string(e.method)), e.path);
            std::lock_guard lock(mutex_);
            std::erase_if(entries_, [&e](const entry& x) {
                return x.method == e.method && x.path == e.path;
            });
            gauge_.Set(static_cast<double>(entries_.size()));
        }
    }
}

}  // namespace switchboard::manage
