#include "switchboard/store/migrations.hpp"

#include "switchboard/base/log.hpp"
#include "switchboard/ingest/hmac.hpp"

#include <openssl/evp.h>

#include <map>
#include <stdexcept>
#include <thread>

namespace switchboard::store {
namespace {

// Any constant: it only has to be the same in every replica ("sb-migr" in ASCII).
constexpr const char* k_lock = "SELECT pg_advisory_lock(7310594658609522)";
constexpr const char* k_unlock = "SELECT pg_advisory_unlock(7310594658609522)";

}  // namespace

std::string migration_checksum(std::string_view text) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(text.data(), text.size(), out, &len, EVP_sha256(), nullptr);
    return ingest::encode_hex(std::string_view(reinterpret_cast<const char*>(out), len));
}

namespace {

/// Earlier texts of migrations that were edited after they were committed, by their checksum:
/// a database that applied one of them is upgraded as if it had applied the file as it is now.
/// 012's edit was to its comment only. 004 changed three times on the day it was written
/// (2026-11-24); what its later text adds to a database that applied an earlier one is applied
/// by 018_early_call_state.sql, which changes nothing on any other database. No migration may
/// change once committed (tests/integration/migrations_pgtest.cpp); this list stays closed.
struct earlier_text {
    std::string_view name;
    std::string_view checksum;
};
constexpr earlier_text k_earlier_texts[] = {
    {"004_call_state.sql", "03cbc0273f36f34ef817a94bbf252aea015af7a148cf9b0c0660eb0e11acfe47"},
    {"004_call_state.sql", "b78942fccee4c907157fccb8a0f4f5c233dc99242c19a9f0d24f01f8ed744944"},
    {"004_call_state.sql", "6fdbba6e6cb24cc6ff04f0c7b29394424460be622b798e733edce2ca1629aa27"},
    {"012_calls_fillfactor.sql",
     "21d16558413e5918a36e8777da7ff4b01bc171c21c08fcabfc3ecb4598d3aac1"},
};

bool earlier_text_of(std::string_view name, std::string_view sum) {
    for (const auto& e : k_earlier_texts) {
        if (e.name == name && e.checksum == sum) return true;
    }
    return false;
}

void check(const std::optional<pg_error>& e, const std::string& what) {
    if (e) throw std::runtime_error(what + ": " + e->message);
}

}  // namespace

std::vector<std::string> migrate(pg_connection& conn, const std::vector<migration>& all,
                                 const migrate_options& options) {
    check(conn.exec(k_lock), "taking the migration lock");
    std::vector<std::string> applied_now;
    // One deadline for the whole run, however many migrations wait for locks.
    const auto give_up_at = std::chrono::steady_clock::now() + options.give_up_after;
    try {
        check(conn.exec("CREATE TABLE IF NOT EXISTS switchboard_migrations ("
                        " name text PRIMARY KEY,"
                        " checksum text NOT NULL,"
                        " applied_at timestamptz NOT NULL DEFAULT now())"),
              "creating switchboard_migrations");
        pg_result res(nullptr, &PQclear);
        check(conn.query("SELECT name, checksum FROM switchboard_migrations", res),
              "reading switchboard_migrations");
        std::map<std::string, std::string, std::less<>> done;
        for (int i = 0; i < PQntuples(res.get()); ++i) {
            done.emplace(PQgetvalue(res.get(), i, 0), PQgetvalue(res.get(), i, 1));
        }
        for (const auto& m : all) {
            const std::string sum = migration_checksum(m.sql);
            if (auto it = done.find(m.name); it != done.end()) {
                if (it->second != sum && !earlier_text_of(m.name, it->second)) {
                    throw std::runtime_error(
                        "migration " + std::string(m.name) +
                        " was changed after it was applied (checksum differs)");
                }
                continue;
            }
            const std::string set_timeout =
                "SET LOCAL lock_timeout = " + std::to_string(options.lock_timeout.count());
            for (unsigned attempt = 1;; ++attempt) {
                check(conn.exec("BEGIN"), "BEGIN");
                check(conn.exec(set_timeout.c_str()), "setting lock_timeout");
                auto e = conn.exec(std::string(m.sql).c_str());
                if (!e) break;
                conn.exec("ROLLBACK");
                constexpr std::string_view k_lock_not_available = "55P03";
                if (e->sqlstate != k_lock_not_available) {
                    throw std::runtime_error("migration " + std::string(m.name) +
                                             " failed: " + e->message);
                }
                if (std::chrono::steady_clock::now() + options.pause >= give_up_at) {
                    throw std::runtime_error(
                        "migration " + std::string(m.name) + " could not take its locks in " +
                        std::to_string(attempt) + " attempts of " +
                        std::to_string(options.lock_timeout.count()) +
                        " ms (another session holds a conflicting lock, a long transaction on "
                        "the table?): " +
                        e->message);
                }
                log::warn(
                    "msg=\"migration waits for a lock\" name={} attempt={} lock_timeout_ms={} "
                    "error=\"{}\"",
                    m.name, attempt, options.lock_timeout.count(), e->message);
                std::this_thread::sleep_for(options.pause);
            }
            const std::string record =
                "INSERT INTO switchboard_migrations (name, checksum) VALUES ('" +
                std::string(m.name) + "', '" + sum + "')";
            check(conn.exec(record.c_str()), "recording " + std::string(m.name));
            check(conn.exec("COMMIT"), "committing " + std::string(m.name));
            applied_now.emplace_back(m.name);
        }
    } catch (...) {
        // A failure inside a migration's transaction (its SET, its record, its COMMIT) leaves
        // the transaction aborted, where the unlock would fail too and the lock stay held for as
        // long as the connection lives. (Outside a transaction ROLLBACK only warns.)
        conn.exec("ROLLBACK");
        conn.exec(k_unlock);
        throw;
    }
    conn.exec(k_unlock);
    return applied_now;
}

}  // namespace switchboard::store
