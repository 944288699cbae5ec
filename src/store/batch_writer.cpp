#include "switchboard/store/batch_writer.hpp"
#include "switchboard/store/spool.hpp"

#include "switchboard/base/check.hpp"
#include "switchboard/base/log.hpp"
#include "switchboard/base/thread_name.hpp"
#include "switchboard/ingest/parse.hpp"
#include "switchboard/store/derive_slices.hpp"
#include "switchboard/store/export.hpp"
#include "switchboard/vapi/call_status.hpp"

#include <algorithm>

#include <sys/socket.h>
#include <array>
#include <bit>
#include <cstring>
#include <iterator>
#include <random>
#include <thread>
#include <unordered_map>

#include <xxhash.h>

namespace switchboard::store {
namespace {

using clock = std::chrono::steady_clock;

// Each batch is a few prepared statements sent in one pipeline (one round trip, one implicit
// transaction committed at its Sync): the events, their new parts, the records of calls in
// call_derive_pending; the derived state (the calls row) goes in a transaction of its own.
// Every column of the batch is one array parameter in binary format (store/binary_array), unnested
// server-side; the element type each encoder sends must be the one declared here (the constructor
// sets them). Rows are sent in key order so that concurrent writers take row locks in the same
// order. Of the deliveries of one message (same key; they differ only where Vapi regenerates
// things, the report's presigned URLs and maybe its timestamp), the row keeps the earliest (lowest
// Vapi timestamp, then the earliest expiry of the presigned URLs, then the lowest skeleton): the
// same row whatever the order of arrival; a delivery without a Vapi timestamp counts as the latest,
// and the last tie-breaker is the cut-out parts' references (deliveries that differ only in the
// `call` object). ON CONFLICT DO UPDATE may touch a row once per statement,
// so the writer sends each key at most once per statement (encode: identical deliveries are
// dropped, differing ones go to a further round of the same statement). Deduplicating here instead
// of with DISTINCT ON saves the server a sort of the batch's rows with their JSON.
constexpr const char* k_insert_events = R"sql(
INSERT INTO call_events AS e (call_id, sent_at, dedupe_key, type, vapi_timestamp, received_at,
                              org_id, skeleton, refs_packed, received_bytes)
SELECT c, s, d, t, v, r, o, sk::jsonb, rf, b
FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::bigint[],
            $6::timestamptz[], $7::text[], $8::text[], $9::bytea[], $10::int[])
     AS u(c, s, d, t, v, r, o, sk, rf, b)
ON CONFLICT (call_id, sent_at, dedupe_key) DO UPDATE SET
    type = excluded.type, vapi_timestamp = excluded.vapi_timestamp,
    received_at = excluded.received_at, org_id = excluded.org_id, skeleton = excluded.skeleton,
    refs = NULL, refs_packed = excluded.refs_packed, received_bytes = excluded.received_bytes
WHERE (coalesce(excluded.vapi_timestamp, 9223372036854775807),
       coalesce(excluded.skeleton #>> '{artifact,presignedUrlsExpiresAt}', ''), excluded.skeleton,
       coalesce(excluded.refs_packed, ''::bytea))
    < (coalesce(e.vapi_timestamp, 9223372036854775807),
       coalesce(e.skeleton #>> '{artifact,presignedUrlsExpiresAt}', ''), e.skeleton,
       coalesce(e.refs_packed, ''::bytea))
)sql";

// A part whole (base NULL), or a `call` object as the members that differ from a version
// stored whole (schemas/sql/014; encode_blob).
constexpr const char* k_insert_blobs = R"sql(
INSERT INTO call_blobs (call_id, hash, body, base)
SELECT c, h, b::jsonb, p
FROM unnest($1::text[], $2::uuid[], $3::text[], $4::uuid[]) AS u(c, h, b, p)
ORDER BY c, h
ON CONFLICT DO NOTHING
)sql";

// One row per run of new items of an array (schemas/sql/007): the writer sends only the items
// after the longest prefix it knows to be stored, as one JSON array with their chain nodes.
constexpr const char* k_insert_runs = R"sql(
INSERT INTO call_array_runs (call_id, node, parent, position, nodes, items)
SELECT c, n, p, i, ns, it::jsonb
FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::int[], $5::bytea[], $6::text[])
     AS u(c, n, p, i, ns, it)
ORDER BY c, n
ON CONFLICT DO NOTHING
)sql";

// The calls whose derived state a writer holds in memory, by generation (schemas/sql/010, 011).
constexpr const char* k_mark = R"sql(
INSERT INTO call_derive_pending (owner, call_id, generation)
SELECT o, c, g FROM unnest($1::int[], $2::text[], $3::bigint[]) AS u(o, c, g)
ORDER BY c, g
ON CONFLICT DO NOTHING
)sql";

// An application deletes, per call, the records of the generations it covers.
constexpr const char* k_unmark = R"sql(
DELETE FROM call_derive_pending d
USING unnest($1::int[], $2::text[], $3::bigint[]) AS u(o, c, below)
WHERE d.owner = u.o AND d.call_id = u.c AND d.generation < u.below
)sql";

/// The advisory lock class of the owner numbers: (k_owner_lock, owner), held by a writer's
/// connection while it lives.
constexpr int k_owner_lock = 73105946;
/// (k_apply_lock, owner): held shared by each application of an owner's derived state, for
/// its transaction; a writer taking over the owner's records takes it exclusively first, so it
/// never derives a call while an application of it is still running on the derive connection.
constexpr int k_apply_lock = 73105947;
const char* apply_lock_sql() {
    static const std::string sql = "SELECT pg_advisory_xact_lock_shared(" +
                                   std::to_string(k_apply_lock) +
                                   ", o) FROM unnest($1::int[]) AS u(o)";
    return sql.c_str();
}

/// Every unmark limit above every generation: all of a call's records.
constexpr std::int64_t k_all_generations = std::numeric_limits<std::int64_t>::max();

/// Sends the named prepared statements with the columns as their binary array parameters, as
/// one transaction (a pipeline ending with a Sync). Empty statements (no rows) are left out;
/// returns how many were sent in `sent`.
struct statement_columns {
    const char* name;
    std::span<binary_array> cols;
};
std::optional<pg_error> send_columns(pg_connection& conn, std::span<const statement_columns> list,
                                     std::size_t& sent) {
    constexpr std::size_t k_max_params = 10;  // the events' statement
    static constexpr auto k_binary = [] {
        std::array<int, k_max_params> f{};
        f.fill(1);
        return f;
    }();
    struct params {
        std::array<const char*, k_max_params> values{};
        std::array<int, k_max_params> lengths{};
        std::size_t n = 0;
    };
    std::vector<params> p(list.size());
    std::vector<pg_connection::pipelined> queries(list.size());
    std::size_t nq = 0;
    for (const auto& [name, cols] : list) {
        if (cols.empty() || cols[0].size() == 0) continue;
        SWITCHBOARD_ASSERT(cols.size() <= k_max_params);
        params& x = p[nq];
        x.n = cols.size();
        for (std::size_t i = 0; i < x.n; ++i) {
            const std::string_view v = cols[i].finish();
            x.values[i] = v.data();
            x.lengths[i] = static_cast<int>(v.size());
        }
        queries[nq++] = {name, std::span(x.values.data(), x.n), std::span(x.lengths.data(), x.n),
                         std::span(k_binary.data(), x.n)};
    }
    sent = nq;
    // libpq copies the parameters into its output buffer: the columns can be reused at once.
    return conn.send_pipeline(std::span(queries.data(), nq));
}

/// Session settings and prepared statements of a writer's connections. The writer's statements
/// are key lookups and inserts. Their generic plans are made once, often while the tables are
/// still small; a plan made then (a seq scan, or a hash join over a table that was empty) would
/// stay in use as the tables grow. Only index paths, always. Values the writer compresses
/// (TOAST) use lz4 whatever the column says: several times cheaper than pglz on the write path
/// (pglz_compress was still in Postgres' profile).
std::optional<pg_error> set_up_session(
    pg_connection& conn, std::initializer_list<std::pair<const char*, const char*>> statements) {
    std::optional<pg_error> e = conn.exec(
        "SET enable_seqscan = off; SET enable_hashjoin = off; SET enable_mergejoin = off;"
        " SET enable_memoize = off; SET default_toast_compression = lz4");
    // A writer sends a batch whole (BEGIN ... COMMIT in one pipeline). Should the writer let go
    // of a connection whose statement is held (a lock, at a stop that gave up: abort_connections),
    // its backend would still run the batch to its COMMIT once the lock goes, long after the
    // events went to the spool or to a 503. Postgres 14 and later look for the client while a
    // statement runs and end such a backend instead. Not every platform has the check (a
    // server there refuses the value): the writer then goes on without it.
    if (!e && PQserverVersion(conn.get()) >= 140000) {
        if (auto unsupported = conn.exec("SET client_connection_check_interval = '1s'")) {
            log::warn("msg=\"server does not check for a lost client\" error=\"{}\"",
                      unsupported->message);
        }
    }
    for (const auto& [name, sql] : statements) {
        if (!e) e = conn.prepare(name, sql);
    }
    return e;
}

/// Whether two deliveries of one key store the same row: the same Vapi timestamp, skeleton and
/// cut-out parts.
bool same_delivery(const ingest::event& a, const ingest::event& b) {
    const auto same_ref = [](const ingest::part_ref& x, const ingest::part_ref& y) {
        return x.path == y.path && x.hash == y.hash && x.is_array == y.is_array &&
               x.empty == y.empty;
    };
    return a.timestamp_ms == b.timestamp_ms && a.skeleton == b.skeleton &&
           std::equal(a.refs.begin(), a.refs.end(), b.refs.begin(), b.refs.end(), same_ref);
}

/// What decides whether a delivery can change its row (k_insert_events' WHERE): the row's key,
/// the Vapi timestamp, the skeleton (which holds the presigned URLs' expiry) and the references
/// of the cut-out parts.
ingest::digest delivery_digest(const ingest::event& ev) {
    const auto text_hash = [](std::string_view text, std::uint64_t seed) {
        return XXH3_64bits_withSeed(text.data(), text.size(), seed);
    };
    std::uint64_t seed = text_hash(ev.call_id, 0x5b0a4dc3u);
    seed = text_hash(ev.dedupe_key, seed ^ static_cast<std::uint64_t>(ev.sent_at_ms));
    seed = XXH3_64bits_withSeed(
        &seed, sizeof seed,
        ev.timestamp_ms ? static_cast<std::uint64_t>(*ev.timestamp_ms) : 0x9e3779b97f4a7c15u);
    for (const auto& r : ev.refs) {
        const std::uint8_t code = static_cast<std::uint8_t>(
            static_cast<unsigned>(r.path) | (r.is_array ? 0x40u : 0u) | (r.empty ? 0x80u : 0u));
        seed = XXH3_64bits_withSeed(&code, 1, seed);
        seed = XXH3_64bits_withSeed(r.hash.data(), r.hash.size(), seed);
    }
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical,
                             XXH3_128bits_withSeed(ev.skeleton.data(), ev.skeleton.size(), seed));
    ingest::digest d;
    std::memcpy(d.data(), canonical.digest, d.size());
    return d;
}

template <class T>
void keep_min(std::optional<T>& a, const std::optional<T>& b) {
    if (b && (!a || *b < *a)) a = b;
}
template <class T>
void keep_max(std::optional<T>& a, const std::optional<T>& b) {
    if (b && (!a || *b > *a)) a = b;
}

using ingest::fact;
using ingest::fact_count;
using ingest::fact_kind;

/// The `calls` upsert, generated from the fact table (ingest/event.hpp). Its input is one array
/// of call_state_input (schemas/sql/024), sent in binary: per call its facts and the rank of the
/// message each value came from. That type is an interface between a build and the schema and
/// never changes: replicas of an older build may still be sending its fields (a rolling
/// deploy). A build whose fields differ (a fact added) names a new type, created by its own
/// migration (call_state_input_2, …), in k_input_type. The merge keeps, in each
/// column, the value of the higher rank. That merge is associative and commutative, so any order,
/// batching or repetition of the messages gives the same row. The conversation is kept the same
/// way: the rank and head (last chain node) of the best snapshot; the view call_messages reads its
/// turns from the runs back from that head (schemas/sql/015).
const char* cast_of(fact_kind k) {
    switch (k) {
        case fact_kind::text:
            return "";
        case fact_kind::number:
            return "::numeric";
        case fact_kind::micros:
            return "::bigint";
        case fact_kind::json:
            return "::jsonb";
    }
    return "";
}

/// The input type this build sends (see calls_upsert): a build with other fields names another.
constexpr std::string_view k_input_type = "call_state_input";

/// call_state_input's fields before the facts: id, status, status_rank, first_us, last_us,
/// fact_ranks, conversation_rank, conversation_head.
constexpr std::size_t k_call_columns = 8;

const std::string& calls_upsert() {
    static const std::string sql = [] {
        std::string cols, select, set, ranks;
        for (std::size_t i = 0; i < fact_count; ++i) {
            const auto& d = ingest::definition(static_cast<fact>(i));
            const std::string col(d.column);
            const std::string n = std::to_string(i + 1);
            cols += ", " + col;
            select += d.kind == fact_kind::micros ? ", timestamptz 'epoch' + u." + col +
                                                        "::bigint * interval '1 microsecond'"
                                                  : ", u." + col + cast_of(d.kind);
            set += ",\n    " + col + " = CASE WHEN excluded.fact_ranks[" + n +
                   "] > coalesce(c.fact_ranks[" + n + "], 0) THEN excluded." + col + " ELSE c." +
                   col + " END";
            ranks += std::string(i == 0 ? "" : ", ") + "greatest(c.fact_ranks[" + n +
                     "], excluded.fact_ranks[" + n + "])";
        }
        return "INSERT INTO calls AS c (id, status, status_rank, first_event_at, last_event_at, "
               "fact_ranks, conversation_rank, conversation_head" +
               cols +
               ")\nSELECT u.id, u.status, u.status_rank,"
               " timestamptz 'epoch' + u.first_us * interval '1 microsecond',"
               " timestamptz 'epoch' + u.last_us * interval '1 microsecond', u.fact_ranks,"
               " u.conversation_rank, u.conversation_head" +
               select + "\nFROM unnest($1::" + std::string(k_input_type) +
               "[]) AS u"
               "\nORDER BY u.id\nON CONFLICT (id) DO UPDATE SET\n"
               // the conversation's snapshot: the highest rank (a NULL rank: none in the batch)
               "    conversation_head = CASE WHEN excluded.conversation_rank >\n"
               "        coalesce(c.conversation_rank, 0) THEN excluded.conversation_head\n"
               "        ELSE c.conversation_head END,\n"
               "    conversation_rank =\n"
               "        greatest(c.conversation_rank, excluded.conversation_rank),\n"
               // the status: the highest rank; of two of equal rank (ended and not-found, or two
               // unknown to the lifecycle) the greater, bytewise, so that no order decides
               "    status = CASE WHEN excluded.status_rank > c.status_rank OR c.status IS NULL\n"
               "                   OR (excluded.status_rank = c.status_rank AND\n"
               "                       excluded.status COLLATE \"C\" > c.status COLLATE \"C\")\n"
               "                  THEN coalesce(excluded.status, c.status) ELSE c.status END,\n"
               "    status_rank = greatest(c.status_rank, excluded.status_rank),\n"
               "    first_event_at = least(c.first_event_at, excluded.first_event_at),\n"
               "    last_event_at = greatest(c.last_event_at, excluded.last_event_at)" +
               set + ",\n    fact_ranks = ARRAY[" + ranks + "],\n    updated_at = now()";
    }();
    return sql;
}

/// call_state_input's fields as this build sends them, "name type" in order, comma-separated (as
/// call_state_input_type() reads them from the database).
const std::string& call_state_input_fields() {
    static const std::string fields = [] {
        std::string f =
            "id text,status text,status_rank smallint,first_us bigint,last_us bigint,"
            "fact_ranks bigint[],conversation_rank bigint,conversation_head uuid";
        for (std::size_t i = 0; i < fact_count; ++i)
            f += "," + std::string(ingest::definition(static_cast<fact>(i)).column) + " text";
        return f;
    }();
    return fields;
}

/// The OID of call_state_input on `conn`'s database, after checking that its fields are the ones
/// this build sends: a fact table changed without a migration would otherwise fail only at the
/// first application, as a refused one.
std::optional<pg_error> call_state_input_type(pg_connection& conn, std::uint32_t& oid) {
    pg_result res(nullptr, &PQclear);
    const std::string type(k_input_type);
    const std::string sql =
        "SELECT t.oid, (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, NULL),"
        " ',' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = t.typrelid"
        " AND a.attnum > 0 AND NOT a.attisdropped)"
        " FROM pg_type t WHERE t.oid = to_regtype('" +
        type + "')";
    if (auto e = conn.query(sql.c_str(), res)) return e;
    if (PQntuples(res.get()) != 1) {
        return pg_error{pg_error::kind::other,
                        {},
                        "type " + type +
                            " is missing: the schema is older than this build (run its "
                            "migrations)"};
    }
    const std::string_view fields = PQgetvalue(res.get(), 0, 1);
    if (fields != call_state_input_fields()) {
        return pg_error{pg_error::kind::other,
                        {},
                        "type " + type + " has fields (" + std::string(fields) +
                            ") where this build sends (" + call_state_input_fields() +
                            "): the schema and the build do not match"};
    }
    oid = static_cast<std::uint32_t>(std::stoul(PQgetvalue(res.get(), 0, 0)));
    return std::nullopt;
}

/// The conversation snapshot a message carries: conversation-update's `messages`, the
/// end-of-call report's `artifact.messages`.
const ingest::part_ref* conversation_of(const ingest::event& ev) {
    ingest::ref_path path;
    if (ev.type == vapi::message_type::conversation_update) {
        path = ingest::ref_path::messages;
    } else if (ev.type == vapi::message_type::end_of_call_report) {
        path = ingest::ref_path::artifact_messages;
    } else {
        return nullptr;
    }
    for (const auto& r : ev.refs) {
        if (r.is_array && r.path == path) return &r;
    }
    return nullptr;
}

/// Sets `r` (an array ref) to what the stored refs say of its path: `"path": "uuid"` or
/// `"path": null` (jsonb's text form).
void stored_array_ref(std::string_view refs, ingest::part_ref& r) {
    const std::string key = "\"" + std::string(ingest::path_name(r.path)) + "\": ";
    const auto at = refs.find(key);
    if (at == std::string_view::npos) return;
    std::string_view v = refs.substr(at + key.size());
    if (v.starts_with("null")) {
        r.empty = true;
        r.hash = {};
        return;
    }
    if (!v.starts_with('"')) return;
    std::size_t n = 0;
    ingest::digest d{};
    for (std::size_t i = 1; i < v.size() && v[i] != '"' && n < 32; ++i) {
        const char c = v[i];
        if (c == '-') continue;
        const int x = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (x < 0) return;
        d[n / 2] = static_cast<std::uint8_t>(d[n / 2] << 4 | x);
        ++n;
    }
    if (n != 32) return;
    r.empty = false;
    r.hash = d;
}

}  // namespace

store_metrics::store_metrics(metrics::registry& reg)
    : batch_rows(prometheus::BuildHistogram()
                     .Name("switchboard_batch_rows")
                     .Help("Events per committed batch")
                     .Register(reg.prom())
                     .Add({}, metrics::count_buckets(8192))),
      commit_seconds(prometheus::BuildHistogram()
                         .Name("switchboard_batch_commit_seconds")
                         .Help("Time to write and commit one batch")
                         .Register(reg.prom())
                         .Add({}, metrics::latency_buckets())),
      inserted(prometheus::BuildCounter()
                   .Name("switchboard_events_inserted_total")
                   .Help("Events stored as new rows of call_events")
                   .Register(reg.prom())
                   .Add({})),
      duplicates(prometheus::BuildCounter()
                     .Name("switchboard_events_duplicate_total")
                     .Help("Events acknowledged that were already stored")
                     .Register(reg.prom())
                     .Add({})),
      repeats(prometheus::BuildCounter()
                  .Name("switchboard_events_repeat_total")
                  .Help("Events identical to one already committed, acknowledged without a "
                        "statement (counted in switchboard_events_duplicate_total too)")
                  .Register(reg.prom())
                  .Add({})),
      rejected(prometheus::BuildCounter()
                   .Name("switchboard_events_rejected_total")
                   .Help("Events Postgres refused to store")
                   .Register(reg.prom())
                   .Add({})),
      reconnects(prometheus::BuildCounter()
                     .Name("switchboard_pg_reconnects_total")
                     .Help("Postgres connections re-established by writers")
                     .Register(reg.prom())
                     .Add({})),
      connected_writers(prometheus::BuildGauge()
                            .Name("switchboard_pg_connected_writers")
                            .Help("Batch writers with a working Postgres connection")
                            .Register(reg.prom())
                            .Add({})),
      derive_pending(prometheus::BuildGauge()
                         .Name("switchboard_derive_pending_calls")
                         .Help("Calls whose derived state (calls, call_messages) is merged in "
                               "memory and not yet applied")
                         .Register(reg.prom())
                         .Add({})),
      derive_seconds(prometheus::BuildHistogram()
                         .Name("switchboard_derive_apply_seconds")
                         .Help("Time to apply the derived state of the pending calls")
                         .Register(reg.prom())
                         .Add({}, metrics::latency_buckets())) {
    auto& family = prometheus::BuildCounter()
                       .Name("switchboard_pg_errors_total")
                       .Help("Postgres errors seen by writers, by kind")
                       .Register(reg.prom());
    const char* kinds[] = {"connection", "transient", "data", "other"};
    for (std::size_t i = 0; i < errors.size(); ++i) errors[i] = &family.Add({{"kind", kinds[i]}});
}

batch_writer::batch_writer(unsigned id, const config::store_config& cfg, ingest::event_queue& queue,
                           store_metrics& metrics)
    : id_(id), cfg_(cfg), queue_(queue), metrics_(metrics) {
    // The element types of the statements' array parameters, column by column.
    auto types = [](auto& cols, std::initializer_list<pg_elem> t) {
        std::size_t i = 0;
        for (pg_elem e : t) cols[i++].reset(e);
    };
    using enum pg_elem;
    types(blob_cols_, {text, uuid, text, uuid});
    types(run_cols_, {text, uuid, uuid, int4, bytea, text});
    types(mark_cols_, {int4, text, int8});
}

bool batch_writer::connect(std::string& error) {
    auto c = pg_connection::connect(cfg_.database_url, cfg_.connect_timeout, error);
    if (!c) return false;
    conn_ = std::move(*c);
    conn_fd_.store(PQsocket(conn_.get()));
    // The statements name call_state_input: its check first, for its message.
    std::uint32_t input_type = 0;
    std::optional<pg_error> e = call_state_input_type(conn_, input_type);
    if (!e)
        e = set_up_session(conn_, {{"sb_events", k_insert_events},
                                   {"sb_blobs", k_insert_blobs},
                                   {"sb_runs", k_insert_runs},
                                   {"sb_calls", calls_upsert().c_str()},
                                   {"sb_mark", k_mark},
                                   {"sb_unmark", k_unmark},
                                   {"sb_apply_lock", apply_lock_sql()}});
    if (e) {
        error = e->message;
        conn_.reset();
        return false;
    }
    // An acknowledgement promises durability: never let a server default of
    // synchronous_commit=off weaken it (stronger settings such as remote_apply are kept).
    pg_result res(nullptr, &PQclear);
    if (!conn_.query("SELECT current_setting('synchronous_commit')", res) &&
        PQntuples(res.get()) == 1) {
        const std::string_view v = PQgetvalue(res.get(), 0, 0);
        if (v == "off" || v == "local") conn_.exec("SET synchronous_commit = on");
    }
    derived_cols_.input_type(input_type);
    // The rows of call_derive_pending recorded on an earlier connection are no longer this
    // writer's to delete; whoever takes their owner's lock derives those calls again.
    marked_.clear();
    refused_.clear();
    // What the writer knows to be committed was committed on the server it was connected to.
    // A new connection may reach another one (a failover to a replica that had not received
    // everything), so nothing is taken as stored any more: a repeat gets its statement again, a
    // part is sent again (ON CONFLICT DO NOTHING) and a `call` object whole. Reconnections are
    // rare; the cost is a few batches that send more.
    forget_committed();
    if (auto re = recover_abandoned()) {
        error = "deriving the calls of writers gone: " + re->message;
        conn_.reset();
        return false;
    }
    connected_ = true;
    metrics_.connected_writers.Increment();
    return true;
}

void batch_writer::forget_committed() {
    stored_parts_.clear();
    bases_.clear();
    std::fill(stored_deliveries_.begin(), stored_deliveries_.end(), ingest::digest{});
}

void batch_writer::abort_connections() noexcept {
    for (const std::atomic<int>* fd : {&conn_fd_, &derive_fd_}) {
        if (const int s = fd->load(); s >= 0) ::shutdown(s, SHUT_RDWR);
    }
}

void batch_writer::give_up(std::span<ingest::event> events) {
    if (spool_ != nullptr && spool_->append(events)) {
        log::warn(
            "msg=\"events given up, kept in the spool for the next start\" writer={} events={}",
            id_, events.size());
    } else {
        given_up_ += events.size();
    }
    complete(events, ingest::ack_status::failed);
}

bool batch_writer::giving_up() const {
    return stop_ != nullptr && stop_->load() &&
           clock::now().time_since_epoch().count() > give_up_after_->load();
}

bool batch_writer::reconnect_with_backoff() {
    auto backoff = std::chrono::milliseconds(50);
    for (int attempt = 1;; ++attempt) {
        if (giving_up()) return false;
        std::string error;
        if (connect(error)) {
            metrics_.reconnects.Increment();
            log::info("msg=\"writer reconnected\" writer={} attempts={}", id_, attempt);
            return true;
        }
        if (attempt == 1 || attempt % 20 == 0) {
            log::warn("msg=\"writer cannot reach Postgres\" writer={} attempt={} error=\"{}\"", id_,
                      attempt, error);
        }
        for (auto slept = std::chrono::milliseconds(0); slept < backoff;
             slept += std::chrono::milliseconds(25)) {
            if (giving_up()) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(25));
        }
        backoff = std::min(backoff * 2, cfg_.reconnect_max_backoff);
    }
}

void batch_writer::complete(std::span<ingest::event> events, ingest::ack_status status,
                            const std::string& detail) {
    // Out of the queue's bound first: a sender that has its answer must not find its webhook
    // still counted as queued (e.g. in /metrics).
    std::size_t bytes = 0;
    for (const auto& ev : events) bytes += ev.footprint();
    queue_.release(events.size(), bytes);
    // One post for the whole batch (ack_slot::complete_all), not one wake-up per event.
    std::vector<std::shared_ptr<ingest::ack_slot>> slots;
    slots.reserve(events.size());
    for (auto& ev : events) {
        if (ev.ack) slots.push_back(std::move(ev.ack));
    }
    ingest::ack_slot::complete_all(std::move(slots), status, detail);
}

std::size_t batch_writer::part_key_hash::operator()(const part_key& k) const noexcept {
    // The part hash is already uniform: its first eight bytes, mixed with the call's number.
    std::uint64_t h = 0;
    std::memcpy(&h, k.hash.data(), sizeof h);
    return static_cast<std::size_t>(h ^ (static_cast<std::uint64_t>(k.call) * 0x9e3779b97f4a7c15u));
}

ingest::digest& batch_writer::delivery_place(const ingest::digest& d) {
    std::uint64_t h = 0;
    std::memcpy(&h, d.data(), sizeof h);
    return stored_deliveries_[h & (k_delivery_places - 1)];
}

bool batch_writer::delivery_committed(const ingest::digest& d) {
    return d != ingest::digest{} && delivery_place(d) == d;
}

std::size_t batch_writer::answer_repeats(ingest::event* events, std::size_t n,
                                         const std::vector<ingest::digest>* in_flight,
                                         std::vector<ingest::event>& riders) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const ingest::digest d = events[i].delivery = delivery_digest(events[i]);
        if (delivery_committed(d)) {
            repeats_.push_back(std::move(events[i]));
        } else if (in_flight != nullptr &&
                   std::binary_search(in_flight->begin(), in_flight->end(), d)) {
            riders.push_back(std::move(events[i]));
        } else if (kept++ != i) {
            events[kept - 1] = std::move(events[i]);
        }
    }
    if (!repeats_.empty()) {
        metrics_.repeats.Increment(static_cast<double>(repeats_.size()));
        metrics_.duplicates.Increment(static_cast<double>(repeats_.size()));
        complete(repeats_, ingest::ack_status::committed);
        repeats_.clear();
    }
    for (std::size_t i = kept; i < n; ++i) events[i] = ingest::event{};
    return kept;
}

std::uint64_t batch_writer::call_number(const std::string& call_id) {
    if (const auto* known = call_numbers_.use(std::string_view(call_id))) return known->second;
    const std::uint64_t n = next_call_number_++;
    call_numbers_.emplace(call_id, n);
    return n;
}

bool batch_writer::remember(std::uint64_t call, const ingest::digest& hash) {
    const part_key key{call, hash};
    if (stored_parts_.use(key) != nullptr) return false;
    return batch_parts_.insert(key).second;
}

void batch_writer::encode_events(std::span<const ingest::event> events) {
    // Key order; deliveries of one message keep their order of arrival.
    order_.resize(events.size());
    for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<std::uint32_t>(i);
    const auto key = [&](std::uint32_t i) {
        const auto& ev = events[i];
        return std::tie(ev.call_id, ev.sent_at_ms, ev.dedupe_key);
    };
    std::stable_sort(order_.begin(), order_.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return key(a) < key(b); });
    round_of_.assign(order_.size(), 0);
    rounds_used_ = 0;
    std::size_t group = 0;  // where the deliveries of the current key start in order_
    for (std::size_t k = 0; k < order_.size(); ++k) {
        const auto& ev = events[order_[k]];
        if (k == 0 || key(order_[k - 1]) != key(order_[k])) group = k;
        // A delivery identical to one committed or already sent changes nothing: the row keeps
        // the first of equals. Any other goes one round after the last different one.
        const ingest::digest delivery =
            ev.delivery != ingest::digest{} ? ev.delivery : delivery_digest(ev);
        if (delivery_committed(delivery)) {
            round_of_[k] = k_dropped;
            continue;
        }
        std::size_t round = 0;
        bool identical = false;
        for (std::size_t j = group; j < k && !identical; ++j) {
            const auto& prior = events[order_[j]];
            if (round_of_[j] == k_dropped) continue;
            identical = same_delivery(prior, ev);
            round = std::max<std::size_t>(round, round_of_[j] + 1);
        }
        if (identical) {
            round_of_[k] = k_dropped;
            continue;
        }
        round_of_[k] = static_cast<std::uint32_t>(round);
        batch_deliveries_.push_back(delivery);
        if (event_rounds_.size() <= round) {
            auto& cols = event_rounds_.emplace_back();
            using enum pg_elem;
            std::size_t i = 0;
            for (pg_elem t :
                 {text, timestamptz, text, text, int8, timestamptz, text, text, bytea, int4})
                cols[i++].reset(t);
        }
        rounds_used_ = std::max(rounds_used_, round + 1);
        auto& e = event_rounds_[round];
        e[0].text(ev.call_id);
        e[1].timestamp_us(ev.sent_at_ms * 1000);
        e[2].text(ev.dedupe_key);
        e[3].text(ev.type_name);
        e[4].integer(ev.timestamp_ms);
        e[5].timestamp_us(ev.received_us);
        e[6].text_or_null(ev.org_id);
        e[7].text(ev.skeleton);
        packed_refs_.clear();
        append_refs_packed(ev, packed_refs_);
        e[8].bytes_or_null(packed_refs_);
        e[9].integer(static_cast<std::int64_t>(ev.body.size()));
    }
}

void batch_writer::encode_runs(const ingest::event& ev, std::uint64_t call) {
    // ev.nodes holds the event's arrays one after the other, each from position 0.
    const auto& nodes = ev.nodes;
    for (std::size_t first = 0, end = 0; first < nodes.size(); first = end) {
        end = first + 1;
        while (end < nodes.size() && nodes[end].position != 0) ++end;
        // The longest prefix already stored or in this batch ends at a run's last node; only
        // run ends are rows, so only they are remembered. Runs of the batch still in flight
        // ahead of this one do not count: that transaction may yet fail (and its event be
        // rejected), which would leave this run's parent missing. A call's next update in the
        // very next batch therefore repeats the items of the one before it.
        const std::size_t head = end - 1;
        std::size_t from = first;  // the run's first item
        for (std::size_t i = end; i > first; --i) {
            const part_key key{call, nodes[i - 1].node};
            if (batch_parts_.contains(key) || stored_parts_.use(key) != nullptr) {
                from = i;
                break;
            }
        }
        if (from == end) continue;  // the whole array is known
        batch_parts_.insert(part_key{call, nodes[head].node});
        run_cols_[0].text(ev.call_id);
        run_cols_[1].uuid(nodes[head].node);
        if (from == first) {
            run_cols_[2].null();
        } else {
            run_cols_[2].uuid(nodes[from - 1].node);
        }
        run_cols_[3].integer(nodes[from].position);
        auto& ids = run_cols_[4];
        ids.open();
        for (std::size_t i = from; i < end; ++i) {
            ids.append(std::string_view(reinterpret_cast<const char*>(nodes[i].node.data()),
                                        nodes[i].node.size()));
        }
        ids.close();
        auto& items = run_cols_[5];
        items.open();
        items.append('[');
        for (std::size_t i = from; i < end; ++i) {
            if (i != from) items.append(',');
            items.append(ev.text(nodes[i].item));
        }
        items.append(']');
        items.close();
    }
}

namespace {

/// Whether status `b` (non-empty) replaces `a` by the rules of the calls upsert: a higher rank
/// wins; of equal ranks the greater string, bytewise (the upsert compares with COLLATE "C").
bool status_wins(std::int16_t b_rank, std::string_view b, std::int16_t a_rank, std::string_view a) {
    return b_rank > a_rank || a.empty() || (b_rank == a_rank && b > a);
}

/// Merges `b` into `a` by the rules of the calls upsert (associative and commutative). `A` is a
/// call_row (views) or a pending_call (owned); `set` stores a value into it.
template <class A, class B, class Set>
void merge_row(A& a, const B& b, Set set) {
    if (!b.status.empty() && status_wins(b.status_rank, b.status, a.status_rank, a.status)) {
        set(a.status, b.status);
    }
    a.status_rank = std::max(a.status_rank, b.status_rank);
    keep_min(a.first_sent_ms, b.first_sent_ms);
    keep_max(a.last_sent_ms, b.last_sent_ms);
    for (std::uint64_t bits = b.stated; bits != 0; bits &= bits - 1) {
        const auto i = static_cast<std::size_t>(std::countr_zero(bits));
        if (b.rank[i] > a.rank[i]) {
            a.rank[i] = b.rank[i];
            set(a.value[i], b.value[i]);
        }
    }
    if (b.conv_rank > a.conv_rank) {
        a.conv_rank = b.conv_rank;
        a.conv_empty = b.conv_empty;
        a.conv_head = b.conv_head;
    }
}

const auto own_set = [](std::string& to, std::string_view from) {
    if (to != from) to.assign(from);
};

}  // namespace

namespace {
template <class Cols>
void clear_all(Cols& cols) {
    for (auto& c : cols) c.clear();
}
}  // namespace

batch_writer::derive_columns::derive_columns() {
    using enum pg_elem;
    ranks.reset(int8);
    std::size_t i = 0;
    for (pg_elem e : {int4, text, int8}) unmark[i++].reset(e);
    lock[0].reset(int4);
}

void batch_writer::derive_columns::input_type(std::uint32_t oid) {
    calls[0].reset(static_cast<pg_elem>(oid));
}

void batch_writer::derive_columns::clear() {
    clear_all(calls);
    clear_all(unmark);
    clear_all(lock);
}

void batch_writer::clear_columns() {
    for (auto& round : event_rounds_) clear_all(round);
    rounds_used_ = 0;
    clear_all(blob_cols_);
    clear_all(run_cols_);
    clear_all(mark_cols_);
    derived_cols_.clear();
}

void batch_writer::collect_rows(std::span<const ingest::event> events,
                                std::vector<call_row>& rows) {
    rows.clear();
    row_of_call_.clear();
    for (const auto& ev : events) {
        if (ev.call_id.empty()) continue;
        auto [it, fresh] = row_of_call_.try_emplace(ev.call_id, rows.size());
        if (fresh) rows.emplace_back().id = ev.call_id;  // built in place: rows are large
        merge_event(rows[it->second], ev);
    }
}

void batch_writer::merge_event(call_row& a, const ingest::event& ev) {
    // merge_row's rules, with the event's own row as `b` (not built: most of a row is facts
    // the event does not state, which could not win).
    const auto& f = ev.call;
    if (!f.status.empty()) {
        const auto rank = vapi::call_status_rank(f.status);
        if (status_wins(rank, f.status, a.status_rank, a.status)) a.status = f.status;
        a.status_rank = std::max(a.status_rank, rank);
    }
    // The report counts at the time it is filed under (its end time): a redelivery may carry a
    // new timestamp, which must not move first/last_event_at.
    std::optional<std::int64_t> sent = ev.timestamp_ms;
    if (ev.type == vapi::message_type::end_of_call_report) {
        sent = ev.sent_at_ms != 0 ? std::optional(ev.sent_at_ms) : std::nullopt;
    }
    keep_min(a.first_sent_ms, sent);
    keep_max(a.last_sent_ms, sent);
    for (const auto& v : f.values) {  // at most one per fact
        const auto i = static_cast<std::size_t>(v.name);
        if (f.rank > a.rank[i]) {
            a.rank[i] = f.rank;
            a.value[i] = std::string_view(f.text).substr(v.offset, v.length);
            a.stated |= std::uint64_t{1} << i;
        }
    }
    if (const auto* conv = conversation_of(ev); conv != nullptr && f.rank > a.conv_rank) {
        a.conv_rank = f.rank;
        a.conv_empty = conv->empty;
        a.conv_head = conv->hash;
    }
}

void batch_writer::encode(std::span<ingest::event> events, sent_batch& out) {
    clear_columns();
    batch_parts_.clear();
    batch_deliveries_.clear();
    batch_bases_.clear();
    out.marks.clear();
    out.derived_applied = false;
    out.generation = generation_;
    encode_events(events);
    for (const auto& ev : events) {
        // The repeated parts: only those not already committed for this call (by this writer)
        // and not already in this batch.
        const std::uint64_t call =
            ev.blobs.empty() && ev.nodes.empty() ? 0 : call_number(ev.call_id);
        for (const auto& blob : ev.blobs) {
            if (remember(call, blob.hash)) encode_blob(ev, call, blob);
        }
        encode_runs(ev, call);
    }
    collect_rows(events, out.rows);
    if (cfg_.derive_delay.count() == 0) {
        // In the messages' own transaction: the state is complete at every commit.
        encode_derived(out.rows);
        out.derived_applied = true;
        return;
    }
    // Applied later: record the calls not yet recorded in this generation, in this transaction.
    for (const auto& row : out.rows) {
        if (marked_.contains(row.id)) continue;
        mark_cols_[0].integer(owner_);
        mark_cols_[1].text(row.id);
        mark_cols_[2].integer(generation_);
        out.marks.emplace_back(row.id);
    }
}

void batch_writer::encode_blob(const ingest::event& ev, std::uint64_t call,
                               const ingest::blob_part& blob) {
    const std::string_view text = ev.text(blob.text);
    blob_cols_[0].text(ev.call_id);
    blob_cols_[1].uuid(blob.hash);
    // The `call` object changes during a call (status, endedAt, costs, …) and each version was
    // stored whole: most of the blobs' bytes (bench/analysis.md, session 9). The other parts
    // rarely change, and then into another object.
    bool is_call = false;
    for (const auto& r : ev.refs)
        is_call = is_call || (r.path == ingest::ref_path::call && r.hash == blob.hash);
    bool unique_keys = is_call && ingest::object_members(text, members_);
    for (std::size_t i = 0; unique_keys && i < members_.size(); ++i) {
        for (std::size_t j = i + 1; j < members_.size(); ++j)
            unique_keys = unique_keys && members_[i].key_hash != members_[j].key_hash;
    }
    if (!unique_keys) {  // (a base with a repeated key would make `||` pick the wrong value)
        blob_cols_[2].text(text);
        blob_cols_[3].null();
        return;
    }
    // The base: this batch's latest version sent whole, else the one committed.
    const part_base* base = nullptr;
    for (auto it = batch_bases_.rbegin(); it != batch_bases_.rend() && base == nullptr; ++it) {
        if (it->first == call) base = &it->second;
    }
    if (base == nullptr) {
        if (const auto* held = bases_.use(call)) base = &held->second;
    }
    if (base != nullptr) {
        // A patch applies with `base || patch`: it can replace and add members, not drop one.
        bool kept_all = true;
        for (const auto& [key, member] : base->members) {
            bool found = false;
            for (const auto& m : members_) found = found || m.key_hash == key;
            kept_all = kept_all && found;
        }
        patch_.assign(1, '{');
        for (const auto& m : members_) {
            bool same = false;
            for (const auto& [key, member] : base->members) same = same || member == m.member_hash;
            if (same) continue;
            if (patch_.size() > 1) patch_ += ',';
            patch_.append(text.substr(m.begin, m.end - m.begin));
        }
        patch_ += '}';
        if (kept_all && patch_.size() * 2 <= text.size()) {
            blob_cols_[2].text(patch_);
            blob_cols_[3].uuid(base->hash);
            return;
        }
    }
    blob_cols_[2].text(text);
    blob_cols_[3].null();
    part_base next{blob.hash, {}};
    next.members.reserve(members_.size());
    for (const auto& m : members_) next.members.emplace_back(m.key_hash, m.member_hash);
    batch_bases_.emplace_back(call, std::move(next));
}

void batch_writer::encode_call(derive_columns& cols, const call_row& row) {
    auto& c = cols.calls[0];
    c.open_record(static_cast<std::uint32_t>(k_call_columns + fact_count));
    c.field_text(row.id);
    c.field_text_or_null(row.status);
    c.field_int2(static_cast<std::int16_t>(row.status_rank));
    c.field_int8(row.first_sent_ms ? std::optional(*row.first_sent_ms * 1000) : std::nullopt);
    c.field_int8(row.last_sent_ms ? std::optional(*row.last_sent_ms * 1000) : std::nullopt);
    cols.ranks.clear();
    for (std::size_t i = 0; i < fact_count; ++i) {
        row.rank[i] == 0 ? cols.ranks.null() : cols.ranks.integer(row.rank[i]);
    }
    c.field_array(pg_elem::int8_array, cols.ranks.finish());
    c.field_int8(row.conv_rank != 0 ? std::optional(row.conv_rank) : std::nullopt);
    if (row.conv_rank != 0 && !row.conv_empty) {
        c.field_uuid(row.conv_head);
    } else {
        c.field_null(pg_elem::uuid);
    }
    for (std::size_t i = 0; i < fact_count; ++i) {
        if (row.rank[i] == 0) {
            c.field_null(pg_elem::text);
        } else {
            c.field_text(row.value[i]);
        }
    }
    c.close();
}

void batch_writer::encode_derived(std::span<const call_row> rows) {
    for (const auto& row : rows) encode_call(derived_cols_, row);
}

namespace {
/// A pending call as the row it states (views into `p`).
template <class Row, class Pending>
Row row_of(std::string_view id, const Pending& p) {
    Row r{.id = id,
          .status = p.status,
          .status_rank = p.status_rank,
          .first_sent_ms = p.first_sent_ms,
          .last_sent_ms = p.last_sent_ms,
          .rank = p.rank,
          .conv_rank = p.conv_rank,
          .conv_empty = p.conv_empty,
          .conv_head = p.conv_head};
    for (std::size_t i = 0; i < fact_count; ++i) {
        r.value[i] = p.value[i];
        if (r.rank[i] != 0) r.stated |= std::uint64_t{1} << i;
    }
    return r;
}
}  // namespace

std::optional<pg_error> batch_writer::apply(pg_connection& conn, derive_columns& cols,
                                            const pending_map& calls, std::int32_t owner) {
    cols.clear();
    cols.lock[0].integer(owner);
    for (const auto& [id, p] : calls) {
        encode_call(cols, row_of<call_row>(id, p));
        cols.unmark[0].integer(owner);
        cols.unmark[1].text(id);
        cols.unmark[2].integer(p.unmark_below);
    }
    const statement_columns list[] = {
        {"sb_apply_lock", cols.lock}, {"sb_calls", cols.calls}, {"sb_unmark", cols.unmark}};
    std::size_t sent = 0;
    if (auto e = send_columns(conn, list, sent)) return e;
    return conn.read_pipeline(sent, nullptr);
}

void batch_writer::pending_changed(std::size_t before) {
    metrics_.derive_pending.Increment(static_cast<double>(pending_.size()) -
                                      static_cast<double>(before));
}

void batch_writer::keep_derived(sent_batch& batch, clock::time_point now) {
    if (batch.derived_applied || batch.rows.empty()) return;
    const std::size_t before = pending_.size();
    if (pending_.empty()) oldest_since_ = now;
    for (const auto& row : batch.rows) {
        auto it = pending_.find(row.id);
        if (it == pending_.end()) {
            it = pending_.emplace(std::string(row.id), pending_call{}).first;
            it->second.since = now;
        }
        merge_row(it->second, row, own_set);
    }
    // The batch's records stand for its calls until an application deletes them. One that
    // began while the batch was in flight kept them (start_apply), whatever their generation.
    // A call recorded already keeps its lower generation: a batch in flight may rely on it.
    for (auto& id : batch.marks) marked_.try_emplace(std::move(id), batch.generation);
    batch.marks.clear();
    pending_changed(before);
}

bool batch_writer::flush_due(clock::time_point now) const {
    return !pending_.empty() && now >= next_apply();
}

clock::time_point batch_writer::next_apply() const {
    return derive_slices::next(last_apply_, oldest_since_, pending_.size(), cfg_.derive_delay);
}

void batch_writer::choose_due(clock::time_point now) {
    due_.clear();
    std::vector<std::string_view> ids;
    std::vector<clock::time_point> since;
    ids.reserve(pending_.size());
    since.reserve(pending_.size());
    for (const auto& [id, p] : pending_) {
        ids.emplace_back(id);
        since.push_back(p.since);
    }
    std::vector<std::size_t> chosen;
    derive_slices::choose(since, now, cfg_.derive_delay, chosen);
    due_.reserve(chosen.size());
    for (const std::size_t i : chosen) due_.push_back(ids[i]);
}

void batch_writer::derive_failed(const pg_error& e, pending_map& calls) {
    metrics_.error(e.what);
    // The next attempt after another delay.
    const auto now = clock::now();
    for (auto& [id, p] : calls) p.since = now;
    if (e.what == pg_error::kind::data) {
        // A fault of the derivation itself, not of any message. The call_derive_pending rows
        // stay: these calls are derived again from their messages at the next start. So no
        // later application of them may delete a row (refused_): a later one covers only
        // what came after.
        log::error("msg=\"derived call state refused\" writer={} calls={} error=\"{}\"", id_,
                   calls.size(), e.message);
        for (const auto& [id, p] : calls) refused_.insert(id);
        metrics_.derive_pending.Decrement(static_cast<double>(calls.size()));
        calls.clear();
        return;
    }
    log::warn("msg=\"applying derived call state failed\" writer={} error=\"{}\"", id_, e.message);
    // Whether it committed or not (a connection lost at the commit), applying the same merged
    // state again gives the same rows; its records are there until an application succeeds.
    const std::size_t before = pending_.size();
    if (pending_.empty()) oldest_since_ = now;
    for (auto& [id, p] : calls) {
        auto it = pending_.find(id);
        if (it == pending_.end()) {
            pending_.emplace(id, std::move(p));
        } else {
            merge_row(it->second, row_of<call_row>(id, p), own_set);
        }
    }
    // The calls were counted as pending while they were applied.
    metrics_.derive_pending.Decrement(static_cast<double>(calls.size()) -
                                      static_cast<double>(pending_.size() - before));
    calls.clear();
}

void batch_writer::start_apply(const sent_batch* in_flight,
                               std::span<const std::string_view> take) {
    const auto now = clock::now();
    boost::unordered_flat_set<std::string_view> in_batch;
    if (in_flight != nullptr && !in_flight->derived_applied) {
        for (const auto& row : in_flight->rows) in_batch.insert(row.id);
    }
    pending_map calls;
    for (const std::string_view id : take) {
        auto it = pending_.find(id);
        if (it == pending_.end()) continue;
        auto node = pending_.extract(it);
        node.mapped().unmark_below = refused_.contains(id) ? 0 : generation_ + 1;
        // The batch in flight keeps the record it relies on: the one it made, of its own
        // generation, or the one it found (marked_), made by an earlier batch. What it states
        // is not in this application. Every other record of the call is covered.
        if (in_batch.contains(id)) {
            std::int64_t keep = in_flight->generation;
            if (auto m = marked_.find(id); m != marked_.end()) keep = std::min(keep, m->second);
            node.mapped().unmark_below = std::min(node.mapped().unmark_below, keep);
        }
        // Its next batch records it again, under the new generation.
        if (auto m = marked_.find(id); m != marked_.end()) marked_.erase(m);
        calls.insert(std::move(node));
    }
    // From now on batches record their calls under the new generation, of which no
    // application running now deletes a record.
    ++generation_;
    last_apply_ = now;
    oldest_since_ = now;
    for (const auto& [id, p] : pending_) oldest_since_ = std::min(oldest_since_, p.since);
    {
        std::lock_guard lock(derive_mutex_);
        job_.calls = std::move(calls);
        job_.owner = owner_;
        job_.started = now;
        job_.error.reset();
        job_queued_ = true;
    }
    job_busy_ = true;
    derive_cv_.notify_all();
}

void batch_writer::finish_apply(bool wait) {
    if (!job_busy_) return;
    if (!wait && !job_ready_.load(std::memory_order_acquire)) return;
    std::unique_lock lock(derive_mutex_);
    derive_cv_.wait(lock, [this] { return job_done_; });
    job_done_ = false;
    job_ready_.store(false, std::memory_order_relaxed);
    job_busy_ = false;
    if (job_.error) {
        derive_failed(*job_.error, job_.calls);
    } else {
        metrics_.derive_seconds.Observe(
            std::chrono::duration<double>(job_.finished - job_.started).count());
        metrics_.derive_pending.Decrement(static_cast<double>(job_.calls.size()));
    }
    job_.calls.clear();
}

void batch_writer::job_finished(std::optional<pg_error> e) {
    {
        std::lock_guard lock(derive_mutex_);
        job_.error = std::move(e);
        job_.finished = clock::now();
        job_done_ = true;
        job_ready_.store(true, std::memory_order_release);
    }
    derive_cv_.notify_all();
}

void batch_writer::derive_loop() {
    for (;;) {
        {
            std::unique_lock lock(derive_mutex_);
            derive_cv_.wait(lock, [this] { return job_queued_ || derive_stop_; });
            if (!job_queued_) break;
            job_queued_ = false;
        }
        job_finished(run_job());  // job_ is this thread's until then
        // Under steady load writer 0 is never idle, where run() keeps the partitions ahead of
        // time; its derive connection, busy a few ms in each slice of the derived state, does it
        // then.
        if (id_ == 0 && derive_conn_.ok()) maintain_partitions(derive_conn_);
    }
    derive_conn_.reset();
}

void batch_writer::maintain_partitions(pg_connection& conn) {
    const clock::rep now = clock::now().time_since_epoch().count();
    clock::rep last = last_maintenance_.load();
    if (last != 0 && clock::duration(now - last) < k_maintenance_interval) return;
    if (!last_maintenance_.compare_exchange_strong(last, now)) return;  // the other thread's
    if (auto e = conn.exec("SELECT switchboard_ensure_event_partitions()")) {
        log::warn("msg=\"partition maintenance failed\" error=\"{}\"", e->message);
    }
}

std::optional<pg_error> batch_writer::run_job() {
    std::optional<pg_error> e;
    if (!derive_conn_.ok()) {
        std::string error;
        if (auto c = pg_connection::connect(cfg_.database_url, cfg_.connect_timeout, error)) {
            derive_conn_ = std::move(*c);
            derive_fd_.store(PQsocket(derive_conn_.get()));
            std::uint32_t input_type = 0;
            e = call_state_input_type(derive_conn_, input_type);
            if (!e) {
                e = set_up_session(derive_conn_, {{"sb_calls", calls_upsert().c_str()},
                                                  {"sb_unmark", k_unmark},
                                                  {"sb_apply_lock", apply_lock_sql()}});
            }
            // An application needs no flush to disk before the next one: until it is durable,
            // so are the records it deletes, and a crash derives those calls again.
            if (!e) e = derive_conn_.exec("SET synchronous_commit = off");
            if (e) {
                derive_conn_.reset();
            } else {
                apply_cols_.input_type(input_type);
            }
        } else {
            e = pg_error{pg_error::kind::connection, {}, error};
        }
    }
    if (!e) e = apply(derive_conn_, apply_cols_, job_.calls, job_.owner);
    // Neither the data's fault nor a passing one: the session may hold what the schema no
    // longer has (a type created again has a new OID, and the prepared statements the old one:
    // "cache lookup failed for type"). A new connection prepares and looks up afresh.
    if (e && (e->what == pg_error::kind::connection || e->what == pg_error::kind::other))
        derive_conn_.reset();
    return e;
}

std::optional<pg_error> batch_writer::send_only(std::span<ingest::event> events) {
    if (test_sent_ || conn_.in_flight() != 0) {
        return pg_error{pg_error::kind::other, {}, "a batch is in flight already"};
    }
    test_sent_ = std::make_unique<sent_batch>();
    return send_batch(events, *test_sent_);
}

std::optional<pg_error> batch_writer::land_sent() {
    if (!test_sent_) return pg_error{pg_error::kind::other, {}, "no batch in flight"};
    long inserted = 0;
    auto e = receive_batch(*test_sent_, inserted);
    test_sent_.reset();
    return e;
}

std::optional<pg_error> batch_writer::apply_beside(std::span<const std::string_view> only) {
    if (job_busy_ || derive_thread_.joinable()) {
        return pg_error{pg_error::kind::other, {}, "run() applies on its own thread"};
    }
    std::vector<std::string_view> all;
    if (only.empty()) {
        for (const auto& [id, p] : pending_) all.emplace_back(id);
        only = all;
    }
    start_apply(test_sent_.get(), only);
    {
        std::lock_guard lock(derive_mutex_);
        job_queued_ = false;
    }
    std::optional<pg_error> e = run_job();
    job_finished(e);
    finish_apply(true);
    return e;
}

std::optional<pg_error> batch_writer::flush_derived() {
    finish_apply(true);
    if (pending_.empty()) return std::nullopt;
    if (!conn_.ok() || conn_.in_flight() != 0) {
        return pg_error{pg_error::kind::connection, {}, "no connection to apply derived state"};
    }
    // Nothing in flight: every record of these calls up to this generation is covered (but
    // those of a call an application was refused, for the next start).
    for (auto& [id, p] : pending_) p.unmark_below = refused_.contains(id) ? 0 : generation_ + 1;
    ++generation_;
    marked_.clear();
    pending_map calls = std::move(pending_);
    pending_ = pending_map{};
    const auto started = clock::now();
    auto e = apply(conn_, derived_cols_, calls, owner_);
    if (!e) {
        metrics_.derive_seconds.Observe(
            std::chrono::duration<double>(clock::now() - started).count());
        metrics_.derive_pending.Decrement(static_cast<double>(calls.size()));
        return std::nullopt;
    }
    if (e->what == pg_error::kind::connection) conn_.reset();
    derive_failed(*e, calls);
    return e;
}

std::optional<pg_error> batch_writer::recover_abandoned() {
    pg_result res(nullptr, &PQclear);
    // An owner number of its own, locked while this connection lives.
    std::random_device random;
    for (;;) {
        owner_ = static_cast<std::int32_t>(random() & 0x7fffffffu);
        if (owner_ == 0) continue;
        const std::string lock = "SELECT pg_try_advisory_lock(" + std::to_string(k_owner_lock) +
                                 ", " + std::to_string(owner_) + ")";
        if (auto e = conn_.query(lock.c_str(), res)) return e;
        if (std::string_view(PQgetvalue(res.get(), 0, 0)) == "t") break;
    }
    if (auto e = conn_.query("SELECT DISTINCT owner FROM call_derive_pending", res)) return e;
    std::vector<std::int32_t> owners;
    for (int i = 0; i < PQntuples(res.get()); ++i) {
        owners.push_back(
            static_cast<std::int32_t>(std::strtol(PQgetvalue(res.get(), i, 0), nullptr, 10)));
    }
    for (const std::int32_t o : owners) {
        const std::string key = std::to_string(k_owner_lock) + ", " + std::to_string(o);
        if (auto e = conn_.query(("SELECT pg_try_advisory_lock(" + key + ")").c_str(), res))
            return e;
        if (std::string_view(PQgetvalue(res.get(), 0, 0)) != "t") continue;  // alive
        // Waits for an application of the owner's still running on its derive connection.
        const std::string apply_key = std::to_string(k_apply_lock) + ", " + std::to_string(o);
        auto e = conn_.query(("SELECT pg_advisory_lock(" + apply_key + ")").c_str(), res);
        if (!e) {
            e = recover_owner(o);
            auto u = conn_.query(("SELECT pg_advisory_unlock(" + apply_key + ")").c_str(), res);
            if (!e) e = u;
        }
        if (auto u = conn_.query(("SELECT pg_advisory_unlock(" + key + ")").c_str(), res); !e)
            e = u;
        if (e) return e;
    }
    return std::nullopt;
}

std::optional<pg_error> batch_writer::recover_owner(std::int32_t owner) {
    std::size_t calls = 0;
    std::size_t skipped = 0;
    // The calls are taken in id order, 16 at a time: their rebuilt messages are held together
    // (several times the bytes received; a long call's can be tens of MB).
    std::optional<std::string> after;
    pg_result res(nullptr, &PQclear);
    for (;;) {
        std::string sql = "SELECT DISTINCT call_id FROM call_derive_pending WHERE owner = " +
                          std::to_string(owner);
        if (after) {
            char* from = PQescapeLiteral(conn_.get(), after->data(), after->size());
            if (from == nullptr)
                return pg_error{pg_error::kind::connection, {}, PQerrorMessage(conn_.get())};
            sql += " AND call_id > ";
            sql += from;
            PQfreemem(from);
        }
        sql += " ORDER BY call_id LIMIT 16";
        if (auto e = conn_.query(sql.c_str(), res)) return e;
        if (PQntuples(res.get()) == 0) break;
        std::vector<std::string> ids;
        for (int i = 0; i < PQntuples(res.get()); ++i)
            ids.emplace_back(PQgetvalue(res.get(), i, 0));
        after = ids.back();
        // Every stored message of these calls, as the HTTP handler would have parsed it. A
        // call that cannot be rebuilt whole keeps its records (the next takeover tries again):
        // deriving it from part of its messages would delete them for a row that is wrong.
        std::vector<ingest::event> events;
        std::vector<std::string> derived;
        for (const auto& id : ids) {
            std::vector<std::string> messages;
            std::vector<stored_message> meta;
            try {
                if (auto e = export_call(conn_, id, messages, &meta)) return e;
            } catch (const std::exception& ex) {
                log::error("msg=\"cannot rebuild the messages of a call\" call={} error=\"{}\"", id,
                           ex.what());
                ++skipped;
                continue;
            }
            std::vector<ingest::event> rebuilt;
            bool whole = true;
            for (std::size_t k = 0; k < messages.size(); ++k) {
                std::string body = R"({"message":)" + messages[k] + "}";
                body.reserve(body.size() + 64);  // simdjson's padding
                ingest::event ev;
                if (auto pe = ingest::parse_webhook(body, ev); !pe) {
                    log::error("msg=\"cannot parse a rebuilt message\" call={} error=\"{}\"", id,
                               pe.error().detail);
                    whole = false;
                    break;
                }
                // A body with U+0000 was kept by the parse, escaped; its spans point there.
                if (ev.body.empty()) ev.body = std::move(body);
                // Hashes are taken over the bytes as received; the rebuilt message is JSON-equal
                // but formatted by Postgres. The conversation, the dedupe key (and with it the
                // rank's tie-breaker) are the ones stored.
                for (auto& r : ev.refs) {
                    if (r.is_array) stored_array_ref(meta[k].refs, r);
                }
                ingest::refile(ev, std::move(meta[k].dedupe_key));
                rebuilt.push_back(std::move(ev));
            }
            if (!whole) {
                ++skipped;
                continue;
            }
            std::move(rebuilt.begin(), rebuilt.end(), std::back_inserter(events));
            derived.push_back(id);
        }
        if (derived.empty()) continue;
        clear_columns();
        sent_batch b;
        collect_rows(events, b.rows);
        encode_derived(b.rows);
        for (const auto& id : derived) {
            derived_cols_.unmark[0].integer(owner);
            derived_cols_.unmark[1].text(id);
            derived_cols_.unmark[2].integer(k_all_generations);
        }
        batch_parts_.clear();
        batch_deliveries_.clear();
        batch_bases_.clear();
        if (auto e = send_encoded(b)) return e;
        if (auto e = conn_.read_pipeline(b.statements, nullptr)) return e;
        calls += derived.size();
    }
    if (calls != 0 || skipped != 0) {
        log::info("msg=\"derived the calls of a writer gone\" writer={} owner={} calls={} kept={}",
                  id_, owner, calls, skipped);
    }
    return std::nullopt;
}

std::optional<pg_error> batch_writer::send_batch(std::span<ingest::event> events, sent_batch& out) {
    encode(events, out);
    return send_encoded(out);
}

std::optional<pg_error> batch_writer::send_encoded(sent_batch& out) {
    out.parts.clear();
    out.parts.swap(batch_parts_);  // stored once the batch commits
    out.deliveries.clear();
    out.deliveries.swap(batch_deliveries_);
    std::sort(out.deliveries.begin(), out.deliveries.end());
    out.bases.clear();
    out.bases.swap(batch_bases_);
    // The events go first, one statement per round (see encode_events), then the rest.
    std::vector<statement_columns> list;
    list.reserve(rounds_used_ + 7);
    for (std::size_t r = 0; r < rounds_used_; ++r) list.push_back({"sb_events", event_rounds_[r]});
    list.push_back({"sb_blobs", blob_cols_});
    list.push_back({"sb_runs", run_cols_});
    list.push_back({"sb_calls", derived_cols_.calls});
    list.push_back({"sb_mark", mark_cols_});
    list.push_back({"sb_unmark", derived_cols_.unmark});
    out.events_first = rounds_used_ > 0;
    out.started = clock::now();
    return send_columns(conn_, list, out.statements);
}

std::optional<pg_error> batch_writer::receive_batch(sent_batch& batch, long& inserted) {
    // New rows come from the first round only: later rounds update rows of this batch.
    inserted = 0;
    auto e = conn_.read_pipeline(batch.statements, batch.events_first ? &inserted : nullptr);
    if (!e) {
        stored_parts_.merge(batch.parts);  // committed: not to be sent again
        for (const auto& d : batch.deliveries) {
            if (d != ingest::digest{}) delivery_place(d) = d;
        }
        for (auto& [call, base] : batch.bases) bases_.assign(call, std::move(base));
    }
    batch.parts.clear();
    batch.deliveries.clear();
    batch.bases.clear();
    if (!e) keep_derived(batch, clock::now());
    return e;
}

std::optional<pg_error> batch_writer::write_once(std::span<ingest::event> events, long& inserted) {
    sent_batch batch;
    inserted = 0;
    if (auto e = send_batch(events, batch)) return e;
    return receive_batch(batch, inserted);
}

void batch_writer::committed(std::span<ingest::event> events, long inserted,
                             clock::time_point started) {
    const auto took = clock::now() - started;
    recent_batch_time_ = (recent_batch_time_ * 7 + took) / 8;
    metrics_.commit_seconds.Observe(std::chrono::duration<double>(took).count());
    metrics_.batch_rows.Observe(static_cast<double>(events.size()));
    metrics_.inserted.Increment(static_cast<double>(inserted));
    metrics_.duplicates.Increment(static_cast<double>(events.size()) -
                                  static_cast<double>(inserted));
    complete(events, ingest::ack_status::committed);
}

batch_writer::result batch_writer::write(std::span<ingest::event> events) {
    auto backoff = std::chrono::milliseconds(50);
    unsigned transient_retries = 0;
    for (;;) {
        if (!conn_.ok()) {
            if (connected_.exchange(false)) metrics_.connected_writers.Decrement();
            if (!reconnect_with_backoff()) {
                give_up(events);
                return result::gave_up;
            }
        }
        const auto started = clock::now();
        long inserted = 0;
        auto error = write_once(events, inserted);
        if (!error) {
            committed(events, inserted, started);
            return result::done;
        }
        metrics_.error(error->what);
        switch (error->what) {
            case pg_error::kind::connection:
                log::warn("msg=\"writer lost its Postgres connection\" writer={} error=\"{}\"", id_,
                          error->message);
                conn_.reset();
                continue;
            case pg_error::kind::transient:
                // A deadlock or a serialization failure: the transaction again, at once the
                // first time, then as any other failure (logged, paced, given up at a stop).
                if (++transient_retries == 1) continue;
                [[fallthrough]];
            case pg_error::kind::other:
                log::error("msg=\"batch failed\" writer={} sqlstate={} error=\"{}\"", id_,
                           error->sqlstate, error->message);
                // The session may hold what the schema no longer has (see run_job): the next
                // attempt on a new connection, which prepares and looks up afresh.
                conn_.reset();
                if (giving_up()) {
                    give_up(events);
                    return result::gave_up;
                }
                std::this_thread::sleep_for(backoff);
                backoff = std::min(backoff * 2, cfg_.reconnect_max_backoff);
                continue;
            case pg_error::kind::data: {
                if (events.size() == 1) {
                    log::warn(
                        "msg=\"event refused by Postgres\" writer={} type={} call={} error=\"{}\"",
                        id_, events[0].type_name, events[0].call_id, error->message);
                    metrics_.rejected.Increment();
                    complete(events, ingest::ack_status::rejected, error->message);
                    return result::done;
                }
                // Find the bad event(s) by halving; the good ones still get committed.
                const std::size_t half = events.size() / 2;
                const result a = write(events.first(half));
                const result b = write(events.subspan(half));
                return a == result::gave_up || b == result::gave_up ? result::gave_up
                                                                    : result::done;
            }
        }
    }
}

void batch_writer::check_idle_connection() {
    const auto now = clock::now();
    if (now - last_probe_ < k_idle_probe_interval) return;
    last_probe_ = now;
    if (conn_.ok()) {
        // An empty query is one round trip; it fails when the server or the network is gone.
        const auto e = conn_.exec("");
        if (!e) return;
        metrics_.error(e->what);
        log::warn("msg=\"writer lost its Postgres connection\" writer={} error=\"{}\"", id_,
                  e->message);
        conn_.reset();
    }
    if (connected_.exchange(false)) metrics_.connected_writers.Decrement();
    // A single attempt: while idle the writer must keep returning to the queue (and to stop).
    std::string error;
    if (connect(error)) {
        metrics_.reconnects.Increment();
        log::info("msg=\"writer reconnected\" writer={} attempts=1", id_);
    }
}

std::size_t batch_writer::run(const std::atomic<bool>& stop,
                              const std::atomic<clock::rep>& give_up_after) {
    stop_ = &stop;
    give_up_after_ = &give_up_after;
    std::string error;
    if (!conn_.ok() && !connect(error)) {
        log::warn("msg=\"writer cannot reach Postgres yet\" writer={} error=\"{}\"", id_, error);
    }
    // This writer drains one shard: every event of a call comes to the same writer.
    const std::size_t shard = id_ % queue_.shards();
    auto token = queue_.consumer_token(shard);
    const std::size_t max_rows = cfg_.batch_max_rows;
    // Two batches: while one runs in Postgres, the next is taken from the queue, encoded and
    // sent behind it on the same connection, so the server goes from one commit straight to the
    // next batch instead of waiting for this thread (results come back in order).
    struct slot {
        std::vector<ingest::event> events;
        std::size_t n = 0;
        sent_batch sent;
        bool in_flight = false;
        std::span<ingest::event> span() { return {events.data(), n}; }
    };
    std::array<slot, 2> slots;
    // A batch in flight takes the riders of the next (at most a batch of them) before it lands.
    // Its rows view its events (the short strings inside them too), so those must never move:
    // room for both from the start.
    for (auto& x : slots) {
        x.events.reserve(2 * max_rows);
        x.events.resize(max_rows);
    }
    auto release = [&](slot& x) {  // completed (which released the queue's bound): drop
        for (std::size_t i = 0; i < x.n; ++i) x.events[i] = ingest::event{};
        x.n = 0;
        x.in_flight = false;
    };
    // Reads the outcome of `first`, the older batch in flight. If it failed, `then` (sent after
    // it, if any) is read too when the connection survived, and whatever did not commit is
    // written again alone, with write()'s retries.
    auto land = [&](slot& first, slot* then) {
        long inserted = 0;
        auto e = receive_batch(first.sent, inserted);
        if (!e) {
            committed(first.span(), inserted, first.sent.started);
            release(first);
            return;
        }
        metrics_.error(e->what);
        if (e->what == pg_error::kind::connection) {
            log::warn("msg=\"writer lost its Postgres connection\" writer={} error=\"{}\"", id_,
                      e->message);
        }
        if (then != nullptr && then->in_flight && conn_.ok()) {
            long then_inserted = 0;
            if (auto e2 = receive_batch(then->sent, then_inserted)) {
                metrics_.error(e2->what);
            } else {
                committed(then->span(), then_inserted, then->sent.started);
                release(*then);
            }
        }
        write(first.span());
        release(first);
        if (then != nullptr && then->in_flight) {
            write(then->span());
            release(*then);
        }
    };
    std::size_t next = 0;
    slot* flying = nullptr;

    // The derived state is applied by a thread of its own on a connection of its own: the
    // batches never wait behind an application (it took 10–36 ms every 200 ms at 10,000
    // webhooks/s when it ran between two batches on this connection).
    if (cfg_.derive_delay.count() > 0 && !derive_thread_.joinable()) {
        derive_stop_ = false;
        derive_thread_ = std::thread([this] {
            base::name_this_thread("sb-derive-" + std::to_string(id_));
            derive_loop();
        });
    }
    for (;;) {
        finish_apply(false);
        if (const auto now = clock::now();
            !job_busy_ && derive_thread_.joinable() && conn_.ok() && flush_due(now)) {
            choose_due(now);
            if (due_.empty()) {
                last_apply_ = now;  // no call needs this slice yet (derive_slices::next)
            } else {
                start_apply(flying != nullptr ? &flying->sent : nullptr, due_);
                due_.clear();  // (views of keys that went to the derive thread)
            }
        }
        slot& s = slots[next];
        std::size_t n = 0;
        if (flying != nullptr) {
            // The next batch goes out about halfway through the running one (by the recent
            // time from send to commit): early enough that the server never waits for it,
            // late enough to carry what arrives meanwhile rather than a handful of events.
            const auto send_at = flying->sent.started + recent_batch_time_ / 2;
            // One sleep, not a poll in slices: on a virtual machine a wake-up costs as much as
            // several webhooks' work (bench/analysis.md, session 5).
            n = queue_.try_pop_bulk(shard, token, s.events.data(), max_rows);
            if (const auto now = clock::now(); n < max_rows && now < send_at) {
                std::this_thread::sleep_for(send_at - now);
                n += queue_.try_pop_bulk(shard, token, s.events.data() + n, max_rows - n);
            }
            // At moderate load that makes batches of a few events, each paying the server's
            // fixed cost of a batch: while events keep coming, let this one grow for a while.
            // (Not when none came: a lone sender waits for its answer, not for company.)
            if (n > 0 && n < cfg_.batch_grow_rows && flying->n < cfg_.batch_grow_rows) {
                std::this_thread::sleep_for(recent_batch_time_ / 4);
                n += queue_.try_pop_bulk(shard, token, s.events.data() + n, max_rows - n);
            }
        } else {
            auto wait = std::chrono::milliseconds(50);
            if (job_busy_) {
                // The next slice begins once this one is done: look again in a tick.
                wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(
                                          derive_slices::tick(cfg_.derive_delay)));
            } else if (!pending_.empty() && conn_.ok()) {  // (no slice begins unconnected)
                const auto due =
                    std::chrono::ceil<std::chrono::milliseconds>(next_apply() - clock::now());
                wait = std::clamp(due, std::chrono::milliseconds(1), wait);
            }
            n = queue_.pop_bulk(shard, token, s.events.data(), max_rows, wait);
            if (n == 0) {
                if (stop.load() && queue_.queued(shard) == 0) {
                    if (conn_.ok()) flush_derived();  // else the records stay for the next start
                    break;
                }
                check_idle_connection();
                if (id_ == 0 && conn_.ok()) maintain_partitions(conn_);
                continue;
            }
            // Optionally fill the batch until it is full or its first event has waited long
            // enough. The writer sleeps through the wait and then takes what came, instead of
            // waiting on the queue: that would wake it (a futex wake, a context switch) for
            // every event.
            const auto deadline = clock::now() + cfg_.batch_max_delay;
            while (n < max_rows && cfg_.batch_max_delay.count() > 0) {
                n += queue_.try_pop_bulk(shard, token, s.events.data() + n, max_rows - n);
                const auto now = clock::now();
                if (n >= max_rows || now >= deadline) break;
                std::this_thread::sleep_for(
                    std::min<clock::duration>(deadline - now, k_linger_slice));
            }
        }
        // Deliveries identical to one committed are answered now, those identical to one in
        // flight with it: either way without a statement of their own. (A rider of a batch that
        // fails is written again with it.)
        n = s.n = answer_repeats(s.events.data(), n,
                                 flying != nullptr ? &flying->sent.deliveries : nullptr, riders_);
        SWITCHBOARD_ASSERT(riders_.empty() ||
                           flying->n + riders_.size() <= flying->events.capacity());
        for (auto& rider : riders_) {
            if (flying->n == flying->events.size()) flying->events.emplace_back();
            flying->events[flying->n++] = std::move(rider);
        }
        riders_.clear();
        if (n == 0 && flying == nullptr) continue;

        if (n == 0) {  // nothing came while the batch in flight ran: wait for its outcome
            land(*flying, nullptr);
            flying = nullptr;
        } else if (conn_.ok() && conn_.in_flight() < 2) {
            if (auto e = send_batch(s.span(), s.sent)) {
                // The connection is gone: the batch in flight has no known outcome either.
                metrics_.error(e->what);
                log::warn("msg=\"writer lost its Postgres connection\" writer={} error=\"{}\"", id_,
                          e->message);
                if (flying != nullptr) {
                    write(flying->span());
                    release(*flying);
                }
                flying = nullptr;
                write(s.span());
                release(s);
            } else {
                s.in_flight = true;
                if (flying != nullptr) land(*flying, &s);
                flying = s.in_flight ? &s : nullptr;
                next ^= 1;
            }
        } else {  // not connected: write() reconnects and retries
            if (flying != nullptr) {
                land(*flying, nullptr);
                flying = nullptr;
            }
            write(s.span());
            release(s);
        }
        last_probe_ = clock::now();  // the write itself showed whether the connection works
    }
    finish_apply(true);
    if (derive_thread_.joinable()) {
        {
            std::lock_guard lock(derive_mutex_);
            derive_stop_ = true;
        }
        derive_cv_.notify_all();
        derive_thread_.join();
    }
    if (connected_.exchange(false)) metrics_.connected_writers.Decrement();
    conn_.reset();
    return given_up_;
}

}  // namespace switchboard::store
