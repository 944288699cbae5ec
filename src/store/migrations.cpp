#include "switchboard/store/migrations.hpp"

#include "switchboard/ingest/hmac.hpp"

#include <openssl/evp.h>

#include <map>
#include <stdexcept>

namespace switchboard::store {
namespace {

// Any constant: it only has to be the same in every replica ("sb-migr" in ASCII).
constexpr const char* k_lock = "SELECT pg_advisory_lock(7310594658609522)";
constexpr const char* k_unlock = "SELECT pg_advisory_unlock(7310594658609522)";

std::string checksum(std::string_view text) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(text.data(), text.size(), out, &len, EVP_sha256(), nullptr);
    return ingest::encode_hex(std::string_view(reinterpret_cast<const char*>(out), len));
}

void check(const std::optional<pg_error>& e, const std::string& what) {
    if (e) throw std::runtime_error(what + ": " + e->message);
}

}  // namespace

std::vector<std::string> migrate(pg_connection& conn, const std::vector<migration>& all) {
    check(conn.exec(k_lock), "taking the migration lock");
    std::vector<std::string> applied_now;
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
            const std::string sum = checksum(m.sql);
            if (auto it = done.find(m.name); it != done.end()) {
                if (it->second != sum) {
                    throw std::runtime_error(
                        "migration " + std::string(m.name) +
                        " was changed after it was applied (checksum differs)");
                }
                continue;
            }
            check(conn.exec("BEGIN"), "BEGIN");
            if (auto e = conn.exec(std::string(m.sql).c_str())) {
                conn.exec("ROLLBACK");
                throw std::runtime_error("migration " + std::string(m.name) +
                                         " failed: " + e->message);
            }
            const std::string record =
                "INSERT INTO switchboard_migrations (name, checksum) VALUES ('" +
                std::string(m.name) + "', '" + sum + "')";
            check(conn.exec(record.c_str()), "recording " + std::string(m.name));
            check(conn.exec("COMMIT"), "committing " + std::string(m.name));
            applied_now.emplace_back(m.name);
        }
    } catch (...) {
        conn.exec(k_unlock);
        throw;
    }
    conn.exec(k_unlock);
    return applied_now;
}

}  // namespace switchboard::store
