#include "support/test_db.hpp"

#include "switchboard/store/export.hpp"
#include "switchboard/store/migrations.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <unistd.h>
#include <atomic>
#include <cstdlib>
#include <random>
#include <thread>

namespace switchboard::test {

std::string admin_database_url() {
    const char* url = std::getenv("SWITCHBOARD_TEST_DATABASE_URL");
    if (url == nullptr || *url == '\0') {
        ADD_FAILURE()
            << "SWITCHBOARD_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, "
               "which starts a throwaway Postgres";
        return {};
    }
    return url;
}

std::string with_database(const std::string& url, const std::string& dbname) {
    // postgresql://user@host:port/db?params → replace "db"
    const auto scheme = url.find("://");
    const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    if (slash == std::string::npos) return url + "/" + dbname;
    const auto query = url.find('?', slash);
    return url.substr(0, slash + 1) + dbname +
           (query == std::string::npos ? "" : url.substr(query));
}

namespace {

store::pg_connection connect_or_fail(const std::string& url) {
    std::string error;
    auto c = store::pg_connection::connect(url, std::chrono::seconds(10), error);
    if (!c) {
        ADD_FAILURE() << "cannot connect to " << url << ": " << error;
        return {};
    }
    return std::move(*c);
}

}  // namespace

test_db::test_db() : admin_url_(admin_database_url()) {
    static std::atomic<int> counter{0};
    std::random_device rd;
    name_ = "sbtest_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
            std::to_string(rd() % 100000);
    url_ = with_database(admin_url_, name_);
    if (admin_url_.empty()) return;
    auto admin = connect_or_fail(admin_url_);
    if (!admin.ok()) return;
    if (auto e = admin.exec(("CREATE DATABASE " + name_).c_str())) {
        ADD_FAILURE() << "CREATE DATABASE failed: " << e->message;
    }
}

test_db::~test_db() {
    conn_.reset();
    if (admin_url_.empty()) return;
    std::string error;
    auto admin = store::pg_connection::connect(admin_url_, std::chrono::seconds(10), error);
    if (!admin) return;  // the server may have been stopped by the test; nothing to clean then
    admin->exec(("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)").c_str());
}

store::pg_connection& test_db::conn() {
    if (!conn_.ok()) conn_ = connect_or_fail(url_);
    return conn_;
}

std::vector<std::string> test_db::column(const std::string& sql) {
    store::pg_result res(nullptr, &PQclear);
    std::vector<std::string> out;
    if (auto e = conn().query(sql.c_str(), res)) {
        ADD_FAILURE() << "query failed: " << sql << ": " << e->message;
        return out;
    }
    for (int i = 0; i < PQntuples(res.get()); ++i) {
        out.emplace_back(PQgetisnull(res.get(), i, 0) ? "<null>" : PQgetvalue(res.get(), i, 0));
    }
    return out;
}

std::string test_db::scalar(const std::string& sql) {
    auto rows = column(sql);
    return rows.empty() ? std::string{} : rows.front();
}

void test_db::wait_derived(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string left;
    while ((left = scalar("SELECT count(*) FROM call_derive_pending")) != "0" &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(left, "0") << "calls whose derived state was not applied in time";
}

void test_db::exec(const std::string& sql) {
    if (auto e = conn().exec(sql.c_str()))
        ADD_FAILURE() << "exec failed: " << sql << ": " << e->message;
}

std::vector<std::string> query_column(const std::string& url, const std::string& sql) {
    auto conn = connect_or_fail(url);
    std::vector<std::string> out;
    if (!conn.ok()) return out;
    store::pg_result res(nullptr, &PQclear);
    if (auto e = conn.query(sql.c_str(), res)) {
        ADD_FAILURE() << "query failed: " << sql << ": " << e->message;
        return out;
    }
    for (int i = 0; i < PQntuples(res.get()); ++i) {
        out.emplace_back(PQgetisnull(res.get(), i, 0) ? "<null>" : PQgetvalue(res.get(), i, 0));
    }
    return out;
}

std::vector<std::string> test_db::exported(const std::string& call_id) {
    std::vector<std::string> out;
    if (auto e = store::export_call(conn(), call_id, out))
        ADD_FAILURE() << "export failed: " << e->message;
    return out;
}

int test_db::count_stored(const std::string& call_id, const std::string& message_json) {
    const auto wanted = boost::json::parse(message_json);
    int n = 0;
    for (const auto& m : exported(call_id)) n += boost::json::parse(m) == wanted ? 1 : 0;
    return n;
}

void test_db::migrate() {
    store::migrate(conn(), store::embedded_migrations());
}

}  // namespace switchboard::test
