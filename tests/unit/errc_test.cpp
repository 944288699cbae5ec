#include "switchboard/ingest/errc.hpp"

#include <gtest/gtest.h>

#include <set>

namespace switchboard::ingest {
namespace {

constexpr errc k_all[] = {errc::unauthenticated, errc::malformed_json, errc::invalid_envelope,
                          errc::missing_type,    errc::invalid_field,  errc::queue_full,
                          errc::commit_timeout,  errc::store_rejected};

TEST(IngestErrc, HttpStatusMapping) {
    EXPECT_EQ(http_status(errc::unauthenticated), 401u);
    EXPECT_EQ(http_status(errc::malformed_json), 400u);
    EXPECT_EQ(http_status(errc::invalid_envelope), 400u);
    EXPECT_EQ(http_status(errc::missing_type), 400u);
    EXPECT_EQ(http_status(errc::invalid_field), 400u);
    EXPECT_EQ(http_status(errc::store_rejected), 422u);
    EXPECT_EQ(http_status(errc::queue_full), 503u);
    EXPECT_EQ(http_status(errc::commit_timeout), 503u);
}

TEST(IngestErrc, ErrorCodesCarryTheCategoryAndDistinctMessages) {
    std::set<std::string> messages;
    for (errc e : k_all) {
        const boost::system::error_code ec = e;  // via is_error_code_enum
        SCOPED_TRACE(ec.message());
        EXPECT_TRUE(ec.failed());
        EXPECT_EQ(ec.value(), static_cast<int>(e));
        EXPECT_STREQ(ec.category().name(), "switchboard.ingest");
        EXPECT_EQ(&ec.category(), &ingest_category());
        EXPECT_NE(ec.message(), "unknown ingest error");
        EXPECT_TRUE(messages.insert(ec.message()).second);
        EXPECT_EQ(ec, make_error_code(e));
    }
    EXPECT_EQ(ingest_category().message(0), "unknown ingest error");
    EXPECT_EQ(ingest_category().message(999), "unknown ingest error");
}

TEST(IngestErrc, NotEqualToGenericErrorsWithTheSameValue) {
    const boost::system::error_code ours = errc::unauthenticated;
    const boost::system::error_code generic(1, boost::system::generic_category());
    EXPECT_NE(ours, generic);
}

}  // namespace
}  // namespace switchboard::ingest
