#include "switchboard/ingest/event_queue.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <thread>
#include <vector>

namespace switchboard::ingest {
namespace {

using namespace std::chrono_literals;

config::queue_config limits(std::size_t capacity, std::size_t max_bytes = std::size_t{1} << 30) {
    config::queue_config cfg;
    cfg.capacity = capacity;
    cfg.max_bytes = max_bytes;
    return cfg;
}

event make_event(const std::string& id, std::size_t body_size = 100) {
    event ev;
    ev.call_id = id;
    ev.type_name = "hang";
    ev.type = vapi::message_type::hang;
    ev.body = std::string(body_size, 'x');
    return ev;
}

/// Pops until `n` events arrived or nothing more comes for a while.
std::vector<event> pop_all(event_queue& q, std::size_t n) {
    auto token = q.consumer_token();
    std::vector<event> out;
    std::array<event, 16> buf;
    while (out.size() < n) {
        const std::size_t got = q.pop_bulk(token, buf.data(), buf.size(), 200ms);
        if (got == 0) break;
        for (std::size_t i = 0; i < got; ++i) out.push_back(std::move(buf[i]));
    }
    return out;
}

TEST(EventQueue, AdmitsUpToCapacityByCount) {
    event_queue q(limits(3));
    for (int i = 0; i < 3; ++i) {
        auto ev = make_event("e" + std::to_string(i));
        EXPECT_TRUE(q.try_push(ev));
        EXPECT_TRUE(ev.body.empty()) << "an admitted event is moved from";
    }
    EXPECT_EQ(q.depth(), 3u);

    auto rejected = make_event("e3");
    EXPECT_FALSE(q.try_push(rejected));
    EXPECT_EQ(q.depth(), 3u);
    // Not moved from: the caller still owns it, intact, and can answer 503 with it.
    EXPECT_EQ(rejected.call_id, "e3");
    EXPECT_EQ(rejected.body, std::string(100, 'x'));
    EXPECT_EQ(rejected.type_name, "hang");
}

// A message that expects a reply may go a sixteenth beyond the bounds (at least one event),
// so that calls are answered while ordinary messages fill the queue.
TEST(EventQueue, MessagesForAReplyHaveHeadroom) {
    event_queue q(limits(32));
    for (int i = 0; i < 32; ++i) {
        auto ev = make_event("e" + std::to_string(i));
        ASSERT_TRUE(q.try_push(ev));
    }
    auto ordinary = make_event("o");
    EXPECT_FALSE(q.try_push(ordinary));
    for (int i = 0; i < 2; ++i) {
        auto reply = make_event("r" + std::to_string(i));
        EXPECT_TRUE(q.try_push(reply, true)) << i;
    }
    auto third = make_event("r2");
    EXPECT_FALSE(q.try_push(third, true));
    EXPECT_EQ(q.depth(), 34u);
    event_queue tiny(limits(1));
    auto a = make_event("a");
    auto b = make_event("b");
    ASSERT_TRUE(tiny.try_push(a));
    EXPECT_TRUE(tiny.try_push(b, true));
}

TEST(EventQueue, AdmitsUpToMaxBytes) {
    auto probe = make_event("p", 1000);
    const std::size_t fp = probe.footprint();
    ASSERT_GE(fp, 1000u);
    event_queue q(limits(100, 2 * fp + fp / 2));

    auto a = make_event("a", 1000);
    auto b = make_event("b", 1000);
    auto c = make_event("c", 1000);
    ASSERT_EQ(a.footprint(), fp);
    EXPECT_TRUE(q.try_push(a));
    EXPECT_TRUE(q.try_push(b));
    EXPECT_EQ(q.bytes(), 2 * fp);
    EXPECT_FALSE(q.try_push(c));
    EXPECT_EQ(c.call_id, "c");
    EXPECT_EQ(c.body.size(), 1000u);
    EXPECT_EQ(q.depth(), 2u);
    EXPECT_EQ(q.bytes(), 2 * fp);

    // A smaller event still fits in what is left.
    auto small = make_event("s", 10);
    ASSERT_LE(small.footprint(), fp / 2);
    EXPECT_TRUE(q.try_push(small));
    EXPECT_EQ(q.depth(), 3u);
}

TEST(EventQueue, ByteBoundIsInclusive) {
    auto probe = make_event("p", 500);
    const std::size_t fp = probe.footprint();
    event_queue q(limits(100, 2 * fp));
    auto a = make_event("a", 500);
    auto b = make_event("b", 500);
    auto c = make_event("c", 500);
    EXPECT_TRUE(q.try_push(a));
    EXPECT_TRUE(q.try_push(b));
    EXPECT_EQ(q.bytes(), 2 * fp);
    EXPECT_FALSE(q.try_push(c));
}

TEST(EventQueue, OneEventLargerThanTheByteBoundIsRefused) {
    event_queue q(limits(100, 1000));
    auto big = make_event("big", 5000);
    EXPECT_FALSE(q.try_push(big));
    EXPECT_EQ(big.body.size(), 5000u);
    EXPECT_EQ(q.depth(), 0u);
    EXPECT_EQ(q.bytes(), 0u);
}

TEST(EventQueue, ReleaseFreesRoom) {
    event_queue q(limits(2));
    auto a = make_event("a");
    auto b = make_event("b");
    auto c = make_event("c");
    const std::size_t fp = a.footprint();
    ASSERT_TRUE(q.try_push(a));
    ASSERT_TRUE(q.try_push(b));
    ASSERT_FALSE(q.try_push(c));

    // Popping alone does not free room: the event counts until its writer commits it.
    auto popped = pop_all(q, 2);
    ASSERT_EQ(popped.size(), 2u);
    EXPECT_EQ(q.depth(), 2u);
    EXPECT_FALSE(q.try_push(c));

    q.release(1, fp);
    EXPECT_EQ(q.depth(), 1u);
    EXPECT_EQ(q.bytes(), fp);
    EXPECT_TRUE(q.try_push(c));
    EXPECT_EQ(q.depth(), 2u);

    q.release(2, 2 * fp);
    EXPECT_EQ(q.depth(), 0u);
    EXPECT_EQ(q.bytes(), 0u);
}

TEST(EventQueue, PopBulkReturnsEventsInPushOrder) {
    event_queue q(limits(100));
    for (int i = 0; i < 10; ++i) {
        auto ev = make_event("e" + std::to_string(i), 10 + i);
        ASSERT_TRUE(q.try_push(ev));
    }
    EXPECT_EQ(q.queued(), 10u);
    const auto out = pop_all(q, 10);
    ASSERT_EQ(out.size(), 10u);
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(out[i].call_id, "e" + std::to_string(i));
        EXPECT_EQ(out[i].body.size(), static_cast<std::size_t>(10 + i));
    }
    EXPECT_EQ(q.queued(), 0u);
}

TEST(EventQueue, PopBulkRespectsMax) {
    event_queue q(limits(100));
    for (int i = 0; i < 5; ++i) {
        auto ev = make_event("e" + std::to_string(i));
        ASSERT_TRUE(q.try_push(ev));
    }
    auto token = q.consumer_token();
    std::array<event, 2> buf;
    EXPECT_EQ(q.pop_bulk(token, buf.data(), 2, 100ms), 2u);
    EXPECT_EQ(buf[0].call_id, "e0");
    EXPECT_EQ(buf[1].call_id, "e1");
    EXPECT_EQ(q.try_pop_bulk(token, buf.data(), 2), 2u);
    EXPECT_EQ(buf[0].call_id, "e2");
    EXPECT_EQ(buf[1].call_id, "e3");
    EXPECT_EQ(q.try_pop_bulk(token, buf.data(), 2), 1u);
    EXPECT_EQ(buf[0].call_id, "e4");
}

TEST(EventQueue, PopOnEmptyQueueTimesOut) {
    event_queue q(limits(10));
    auto token = q.consumer_token();
    std::array<event, 4> buf;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(q.pop_bulk(token, buf.data(), buf.size(), 20ms), 0u);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 15ms);
    EXPECT_EQ(q.try_pop_bulk(token, buf.data(), buf.size()), 0u);
}

TEST(EventQueue, PopWakesWhenAnEventArrives) {
    event_queue q(limits(10));
    std::thread producer([&] {
        std::this_thread::sleep_for(20ms);
        auto ev = make_event("late");
        EXPECT_TRUE(q.try_push(ev));
    });
    auto token = q.consumer_token();
    std::array<event, 4> buf;
    const std::size_t got = q.pop_bulk(token, buf.data(), buf.size(), 5s);
    producer.join();
    ASSERT_EQ(got, 1u);
    EXPECT_EQ(buf[0].call_id, "late");
}

TEST(EventQueue, MessageViewSurvivesTheQueue) {
    event_queue q(limits(10));
    auto ev = make_event("v");
    ev.body = R"({"message":{"type":"hang"}})";
    ev.message_offset = 11;
    ev.message_length = 15;
    ASSERT_EQ(ev.message(), R"({"type":"hang"})");
    ASSERT_TRUE(q.try_push(ev));
    const auto out = pop_all(q, 1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].message(), R"({"type":"hang"})");
}

TEST(EventQueue, SaturatedAboveNinetyPercentOfCount) {
    event_queue q(limits(10));
    for (int i = 0; i < 8; ++i) {
        auto ev = make_event("e");
        ASSERT_TRUE(q.try_push(ev));
    }
    EXPECT_FALSE(q.saturated());  // 80 %
    auto ninth = make_event("e");
    ASSERT_TRUE(q.try_push(ninth));
    EXPECT_TRUE(q.saturated());  // 90 %
    auto probe = make_event("e");
    q.release(1, probe.footprint());
    EXPECT_FALSE(q.saturated());
}

TEST(EventQueue, SaturatedAboveNinetyPercentOfBytes) {
    auto probe = make_event("p", 1000);
    const std::size_t fp = probe.footprint();
    event_queue q(limits(1000, 10 * fp));
    for (int i = 0; i < 8; ++i) {
        auto ev = make_event("e", 1000);
        ASSERT_TRUE(q.try_push(ev));
    }
    EXPECT_FALSE(q.saturated());
    auto ninth = make_event("e", 1000);
    ASSERT_TRUE(q.try_push(ninth));
    EXPECT_TRUE(q.saturated());
    EXPECT_EQ(q.depth(), 9u);  // well below the count bound: the bytes decided
}

TEST(EventQueue, EmptyQueueIsNotSaturated) {
    event_queue q(limits(1));
    EXPECT_FALSE(q.saturated());
    EXPECT_EQ(q.depth(), 0u);
    EXPECT_EQ(q.bytes(), 0u);
    EXPECT_EQ(q.config().capacity, 1u);
}

TEST(EventQueue, ConcurrentProducersNeverExceedTheBound) {
    constexpr std::size_t k_capacity = 1000;
    event_queue q(limits(k_capacity));
    std::atomic<std::size_t> admitted{0};
    std::vector<std::thread> producers;
    for (int t = 0; t < 4; ++t) {
        producers.emplace_back([&, t] {
            for (int i = 0; i < 400; ++i) {
                auto ev = make_event(std::to_string(t) + ":" + std::to_string(i), 16);
                if (q.try_push(ev)) {
                    admitted.fetch_add(1);
                } else {
                    EXPECT_FALSE(ev.body.empty());
                }
            }
        });
    }
    for (auto& p : producers) p.join();
    EXPECT_EQ(admitted.load(), k_capacity);
    EXPECT_EQ(q.depth(), k_capacity);
    const auto out = pop_all(q, k_capacity);
    EXPECT_EQ(out.size(), k_capacity);
    // Per producer, events come out in the order they went in.
    std::array<int, 4> last{-1, -1, -1, -1};
    for (const auto& ev : out) {
        const auto colon = ev.call_id.find(':');
        const int t = std::stoi(ev.call_id.substr(0, colon));
        const int i = std::stoi(ev.call_id.substr(colon + 1));
        EXPECT_GT(i, last[t]);
        last[t] = i;
    }
}

}  // namespace
}  // namespace switchboard::ingest

namespace switchboard::ingest {
namespace {

TEST(EventQueueShards, EveryEventOfACallGoesToTheSameShardAndBoundsAreGlobal) {
    config::queue_config cfg;
    cfg.capacity = 40;
    event_queue q(cfg, 4);
    ASSERT_EQ(q.shards(), 4u);
    // 10 calls × 4 events fill the global bound exactly; the 41st is refused whatever its shard.
    for (int call = 0; call < 10; ++call) {
        for (int i = 0; i < 4; ++i) {
            event ev;
            ev.call_id = "call-" + std::to_string(call);
            ev.dedupe_key = std::to_string(i);
            ASSERT_TRUE(q.try_push(ev));
        }
    }
    event extra;
    extra.call_id = "call-extra";
    EXPECT_FALSE(q.try_push(extra));
    std::size_t total = 0;
    for (std::size_t shard = 0; shard < q.shards(); ++shard) {
        auto token = q.consumer_token(shard);
        std::vector<event> out(64);
        const std::size_t n = q.try_pop_bulk(shard, token, out.data(), out.size());
        EXPECT_EQ(q.queued(shard), 0u);
        for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(q.shard_of(out[i].call_id), shard);
        total += n;
    }
    EXPECT_EQ(total, 40u);
    EXPECT_NE(q.shard_of("call-0"), q.shards());  // a valid shard index
}

}  // namespace
}  // namespace switchboard::ingest
