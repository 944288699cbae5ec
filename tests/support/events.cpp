#include "support/events.hpp"

#include "switchboard/ingest/parse.hpp"

#include <gtest/gtest.h>

namespace switchboard::test {

ingest::event make_event(const std::string& body, std::int64_t received_us) {
    std::string padded = body;
    padded.reserve(padded.size() + 64);
    ingest::event ev;
    auto r = ingest::parse_webhook(padded, ev);
    EXPECT_TRUE(r) << (r ? "" : r.error().detail);
    ev.body = std::move(padded);
    ev.received_us = received_us;
    return ev;
}

}  // namespace switchboard::test
