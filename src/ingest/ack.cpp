#include "switchboard/ingest/ack.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace switchboard::ingest {

ack_slot::ack_slot(boost::asio::any_io_executor strand) : timer_(std::move(strand)) {}

bool ack_slot::arm() {
    if (in_flight_) return false;
    in_flight_ = true;
    status_ = ack_status::pending;
    detail_.clear();
    return true;
}

boost::asio::awaitable<ack_status> ack_slot::wait(std::chrono::milliseconds timeout) {
    // The completion is posted to this strand, so it cannot run between the check below and
    // the timer wait: if it has not run yet, it will cancel the timer we are about to wait on.
    if (status_ != ack_status::pending) co_return status_;
    timer_.expires_after(timeout);
    co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    co_return status_ == ack_status::pending ? ack_status::timed_out : status_;
}

void ack_slot::finish(ack_status status, std::string detail) {
    status_ = status;
    detail_ = std::move(detail);
    in_flight_ = false;
    timer_.cancel();
}

void ack_slot::complete(ack_status status, std::string detail) {
    boost::asio::post(timer_.get_executor(),
                      [self = shared_from_this(), status, detail = std::move(detail)]() mutable {
                          self->finish(status, std::move(detail));
                      });
}

void ack_slot::complete_all(std::vector<std::shared_ptr<ack_slot>> slots, ack_status status,
                            const std::string& detail) {
    if (slots.empty()) return;
    // Posted to the first slot's strand: that one is completed directly; dispatching to the
    // others from an I/O thread runs each inline unless its strand is busy on another thread
    // (then it is queued there): either way no further wake-up from this thread.
    auto ex = slots.front()->timer_.get_executor();
    boost::asio::post(ex, [slots = std::move(slots), status, detail]() mutable {
        slots.front()->finish(status, detail);
        for (std::size_t i = 1; i < slots.size(); ++i) {
            auto slot_ex = slots[i]->timer_.get_executor();
            boost::asio::dispatch(
                slot_ex, [s = std::move(slots[i]), status, detail] { s->finish(status, detail); });
        }
    });
}

}  // namespace switchboard::ingest
