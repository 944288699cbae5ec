// The flusher against a real Postgres (store/commit_flusher.hpp): it confirms the batches sent
// while its connection was open, and hands back to the writer every batch whose durability it
// cannot vouch for: sent before its connection opened, or held when that connection failed.
#include "support/test_db.hpp"

#include "switchboard/metrics/registry.hpp"
#include "switchboard/store/commit_flusher.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

namespace switchboard::test {
namespace {

using namespace std::chrono_literals;
using store::commit_flusher;

/// A batch of `n` events, told apart by their call ids.
commit_flusher::batch events(const std::string& prefix, int n) {
    commit_flusher::batch b(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) b[static_cast<std::size_t>(i)].call_id = prefix + std::to_string(i);
    return b;
}

class CommitFlusher : public ::testing::Test {
  protected:
    CommitFlusher() {
        cfg_.database_url = db_.url();
        cfg_.reconnect_max_backoff = 100ms;
        flusher_ = std::make_unique<commit_flusher>(0, cfg_, metrics_, [this](auto& b) {
            std::lock_guard lock(mutex_);
            for (auto& ev : b) confirmed_.push_back(ev.call_id);
        });
        flusher_->start();
    }
    ~CommitFlusher() override { flusher_->stop(); }

    /// Waits (bounded) until `done()` holds.
    template <class Pred>
    bool wait_until(Pred done, std::chrono::milliseconds timeout = 10s) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            std::this_thread::sleep_for(5ms);
        }
        return true;
    }
    std::uint64_t connected_epoch() {
        EXPECT_TRUE(wait_until([&] { return flusher_->epoch() != 0; })) << "flusher not connected";
        return flusher_->epoch();
    }
    std::vector<std::string> confirmed() {
        std::lock_guard lock(mutex_);
        return confirmed_;
    }
    double flushes() { return metrics_.flush_seconds.Collect().histogram.sample_count; }

    test_db db_;
    metrics::registry registry_;
    store::store_metrics metrics_{registry_};
    config::store_config cfg_;
    std::unique_ptr<commit_flusher> flusher_;
    std::mutex mutex_;
    std::vector<std::string> confirmed_;
};

TEST_F(CommitFlusher, ConfirmsBatchesSentWhileItsConnectionWasOpen) {
    const auto epoch = connected_epoch();
    flusher_->submit(events("a", 3), epoch);
    flusher_->submit(events("b", 1), epoch);
    ASSERT_TRUE(wait_until([&] { return confirmed().size() == 4; })) << confirmed().size();
    EXPECT_TRUE(wait_until([&] { return flusher_->outstanding() == 0; }));
    EXPECT_FALSE(flusher_->has_returned());
    EXPECT_GE(flushes(), 1);
    EXPECT_LE(flushes(), 2);
    EXPECT_EQ(flusher_->epoch(), epoch);
}

TEST_F(CommitFlusher, HandsBackABatchSentBeforeItsConnectionOpened) {
    const auto epoch = connected_epoch();
    flusher_->submit(events("early", 2), 0);  // sent while the flusher had no connection
    flusher_->submit(events("older", 1), epoch + 1);  // any other connection than this one
    flusher_->submit(events("now", 1), epoch);
    ASSERT_TRUE(wait_until([&] { return flusher_->has_returned() && confirmed().size() == 1; }));
    EXPECT_EQ(confirmed(), std::vector<std::string>{"now0"});
    const auto back = flusher_->take_returned();
    ASSERT_EQ(back.size(), 2u);
    EXPECT_EQ(back[0].size() + back[1].size(), 3u);
    EXPECT_FALSE(flusher_->has_returned());
    EXPECT_EQ(flusher_->outstanding(), 0u);
    EXPECT_EQ(metrics_.flush_returned.Value(), 2);
}

TEST_F(CommitFlusher, HandsBackWhatItHeldWhenItsConnectionFailsAndReconnects) {
    const auto epoch = connected_epoch();
    // The flusher's backend is the one whose last statement set synchronous_commit.
    db_.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
        "current_database() AND pid <> pg_backend_pid() AND query LIKE 'SET synchronous_commit%'");
    flusher_->submit(events("held", 2), epoch);
    ASSERT_TRUE(wait_until([&] { return flusher_->has_returned(); }));
    EXPECT_TRUE(confirmed().empty()) << "confirmed on a connection that failed";
    const auto back = flusher_->take_returned();
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0].size(), 2u);
    EXPECT_EQ(back[0][0].call_id, "held0");

    // It reconnects by itself; a batch sent now is confirmed by the new connection.
    ASSERT_TRUE(wait_until([&] { return flusher_->epoch() != 0 && flusher_->epoch() != epoch; }));
    flusher_->submit(events("again", 2), flusher_->epoch());
    EXPECT_TRUE(wait_until([&] { return confirmed().size() == 2; }));
    EXPECT_EQ(metrics_.errors[0]->Value(), 1);  // one connection error
}

TEST_F(CommitFlusher, KeepsWhatItCannotFlushUntilTakenWhenStopped) {
    connected_epoch();
    flusher_->stop();
    flusher_->submit(events("late", 2), 1);
    EXPECT_EQ(flusher_->outstanding(), 1u);
    const auto all = flusher_->take_all();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].size(), 2u);
    EXPECT_EQ(flusher_->outstanding(), 0u);
    EXPECT_TRUE(confirmed().empty());
}

}  // namespace
}  // namespace switchboard::test
