// The spool of given-up events (store/spool): what is appended is taken back whole, a record cut
// short by a crash ends the file without losing the ones before it, and one process at a time
// holds a directory.
#include "switchboard/store/spool.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace switchboard::test {
namespace {

class Spool : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = ::testing::TempDir() + "sb-spool-unit-" + std::to_string(::getpid()) + "-" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name();
        std::filesystem::remove_all(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    static std::vector<ingest::event> events(std::initializer_list<std::string> bodies) {
        std::vector<ingest::event> out;
        std::int64_t t = 1'764'000'000'000'000;
        for (const auto& b : bodies) {
            ingest::event ev;
            ev.body = b;
            ev.received_us = ++t;
            out.push_back(std::move(ev));
        }
        return out;
    }
    std::string dir_;
};

TEST_F(Spool, WhatIsAppendedIsTakenBackThenRemoved) {
    store::spool s(dir_);
    ASSERT_TRUE(s.enabled());
    EXPECT_TRUE(s.take().empty());
    const auto first = events({R"({"message":{"type":"hang"}})", "{\n \"multi\": \"line\"\n}"});
    ASSERT_TRUE(s.append(first));
    ASSERT_TRUE(s.append(events({R"({"message":{"type":"status-update"}})"})));
    const auto taken = s.take();
    ASSERT_EQ(taken.size(), 3u);
    EXPECT_EQ(taken[0].body, first[0].body);
    EXPECT_EQ(taken[0].received_us, first[0].received_us);
    EXPECT_EQ(taken[1].body, first[1].body);
    EXPECT_EQ(taken[2].body, R"({"message":{"type":"status-update"}})");
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/switchboard.spool"));
    EXPECT_TRUE(std::filesystem::exists(dir_ + "/switchboard.spool.replaying"));

    // Given up again during the replay: a new file; a start before the replay finished takes
    // both.
    ASSERT_TRUE(s.append(events({"{}"})));
    EXPECT_EQ(s.take().size(), 4u);
    s.replayed();
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/switchboard.spool.replaying"));
    EXPECT_TRUE(s.take().empty());
}

TEST_F(Spool, ARecordCutShortEndsTheFile) {
    {
        store::spool s(dir_);
        ASSERT_TRUE(s.append(events({"{\"a\":1}", "{\"b\":2}"})));
    }
    std::ofstream(dir_ + "/switchboard.spool", std::ios::app | std::ios::binary)
        << "SBSPOOL1 1764000000000009 40\n{\"cut\":";
    store::spool s(dir_);
    const auto taken = s.take();
    ASSERT_EQ(taken.size(), 2u);
    EXPECT_EQ(taken[1].body, "{\"b\":2}");
}

TEST_F(Spool, OneProcessADirectoryAndOffWithoutOne) {
    store::spool held(dir_);
    EXPECT_THROW(store::spool second(dir_), std::runtime_error);
    store::spool off("");
    EXPECT_FALSE(off.enabled());
    EXPECT_FALSE(off.append(events({"{}"})));
    EXPECT_TRUE(off.take().empty());
}

}  // namespace
}  // namespace switchboard::test
