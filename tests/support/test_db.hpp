#pragma once
/// A scratch database for one test: created from SWITCHBOARD_TEST_DATABASE_URL (an admin
/// connection to a throwaway server, see scripts/test.sh) and dropped afterwards. Tests that
/// need Postgres fail, rather than skip, when the variable is missing.

#include "switchboard/store/pg.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace switchboard::test {

/// The admin URL; fails the current test (ADD_FAILURE) and returns "" when unset.
std::string admin_database_url();

class test_db {
  public:
    test_db();   ///< creates a database with a unique name
    ~test_db();  ///< drops it (terminating leftover connections)
    test_db(const test_db&) = delete;
    test_db& operator=(const test_db&) = delete;

    const std::string& url() const { return url_; }
    const std::string& name() const { return name_; }

    /// Runs SQL and returns the first column of every row (NULL → "<null>"). Fails the test on
    /// error.
    std::vector<std::string> column(const std::string& sql);
    /// First column of the first row ("" when no row).
    std::string scalar(const std::string& sql);
    /// Runs statements; fails the test on error.
    void exec(const std::string& sql);

    /// The call's stored messages, rebuilt from skeletons and parts (store::export_call).
    std::vector<std::string> exported(const std::string& call_id);
    /// How many stored messages of the call are JSON-equal to `message_json`.
    int count_stored(const std::string& call_id, const std::string& message_json);

    /// Applies the embedded migrations.
    void migrate();

    /// Waits (at most `timeout`, then fails the test) until the service has applied the derived
    /// call state (the calls row) of every committed message: no call_derive_pending row
    /// is left (schemas/sql/010; applied within --derive-delay-ms).
    void wait_derived(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  private:
    store::pg_connection& conn();

    std::string admin_url_;
    std::string name_;
    std::string url_;
    store::pg_connection conn_;
};

/// Runs `sql` on a new connection to `url` and returns the first column of every row
/// (NULL → "<null>"), e.g. to read a dedicated cluster's database. Fails the test on error.
std::vector<std::string> query_column(const std::string& url, const std::string& sql);

/// Replaces the database name in a postgresql:// URL.
std::string with_database(const std::string& url, const std::string& dbname);

}  // namespace switchboard::test
