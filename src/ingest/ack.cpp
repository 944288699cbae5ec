#include "switchboard/ingest/ack.hpp"

#include <boost/asio/as_tuple.hpp>
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

void ack_slot::complete(ack_status status, std::string detail) {
    boost::asio::post(timer_.get_executor(),
                      [self = shared_from_this(), status, detail = std::move(detail)]() mutable {
                          self->status_ = status;
                          self->detail_ = std::move(detail);
                          self->in_flight_ = false;
                          self->timer_.cancel();
                      });
}

}  // namespace switchboard::ingest
