#pragma once
/// One batch writer: a thread with its own Postgres connection. It takes what is queued in bulk
/// (up to `batch_max_rows`, optionally lingering `batch_max_delay` for more) and writes each
/// batch in one transaction: prepared statements sent in one pipeline (one round trip), each
/// taking the batch's columns as arrays — the events (deduplicated), their parts, and a record
/// in call_derive_pending of each call the writer holds no record of yet. While one batch runs,
/// the next is gathered and sent behind it, so two transactions are in flight on the connection;
/// their results come back in order. Only after the commit succeeds are the batch's events
/// completed. What a committed batch states about each call (the rank merge of `calls`, the head
/// of its conversation) is merged in memory and applied within `derive_delay`, once per call, by a
/// thread of the writer's on a connection of its own, in a transaction that also deletes the
/// records it covers (with `derive_delay` 0: in each batch's transaction). The
/// applications come in slices (derive_slices): every eighth of the delay but at most every
/// 25 ms, the calls whose turn has come, so that each is short (bench/analysis.md, sessions 23
/// and 25). A writer
/// that connects derives again the calls whose records belong to writers gone before applying
/// them (schemas/sql/010, 011). A lost
/// connection is re-established with backoff and the same batch retried (the dedupe key makes that
/// idempotent); a batch whose data Postgres refuses is split until the one bad event is found and
/// rejected alone.

#include "switchboard/config/config.hpp"
#include "switchboard/ingest/event_queue.hpp"
#include "switchboard/ingest/parse.hpp"
#include "switchboard/store/binary_array.hpp"
#include "switchboard/store/metrics.hpp"
#include "switchboard/store/pg.hpp"
#include "switchboard/store/recent.hpp"

#include <array>
#include <atomic>
#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace switchboard::store {

class batch_writer {
  public:
    batch_writer(unsigned id, const config::store_config& cfg, ingest::event_queue& queue,
                 store_metrics& metrics);

    /// The thread body. Returns once `stop` is set and the queue is empty, or when
    /// `give_up_after` (set together with stop) has passed with events still unwritten; those
    /// are completed as `failed`. Returns the number of events given up.
    std::size_t run(const std::atomic<bool>& stop,
                    const std::atomic<std::chrono::steady_clock::rep>& give_up_after);

    bool connected() const noexcept { return connected_.load(std::memory_order_relaxed); }

    /// From another thread, once the give-up time of a stop has passed: shuts down the sockets
    /// of the writer's connections, so that a statement waiting on a Postgres that does not
    /// answer (a lock held, a stopped server) fails at once and the writer gives up. The sockets
    /// are named by the descriptors of the last connections made; the stop comes after every
    /// other part of the service has closed its own.
    void abort_connections() noexcept;

    /// Where given-up events go (may be null, the default: they are lost). Before `run`.
    void set_spool(class spool* s) noexcept { spool_ = s; }

    /// Writes `events` in one transaction (no retry). Public for the integration tests.
    std::optional<pg_error> write_once(std::span<ingest::event> events, long& inserted);

    /// Connects and prepares the statements, takes this writer's owner lock and derives the
    /// calls that writers gone before their derived state was applied left behind
    /// (schemas/sql/010). False on failure.
    bool connect(std::string& error);

    /// Applies the derived call state merged from committed batches (calls, call_messages) in
    /// a transaction of its own, on the writer's connection, and deletes the writer's
    /// call_derive_pending rows; first waits for an application in progress on the derive
    /// thread. Nothing may be in flight. run() applies on the derive thread in slices, and with
    /// this, all at once, when it stops; public for the tests.
    std::optional<pg_error> flush_derived();
    /// Calls whose derived state is merged in memory and not yet applied (nor being applied).
    std::size_t derived_pending() const noexcept { return pending_.size(); }

    // For the tests, the steps run() takes around an application, one at a time: a batch sent
    // and left in flight, an application handed the pending state while it is (as run() does,
    // run at once on the derive connection), the batch read back. apply_beside applies the
    // pending calls named in `only`, or all of them when it is empty (run() takes those whose
    // turn has come).
    std::optional<pg_error> send_only(std::span<ingest::event> events);
    std::optional<pg_error> apply_beside(std::span<const std::string_view> only = {});
    std::optional<pg_error> land_sent();

  private:
    enum class result { done, gave_up };
    result write(std::span<ingest::event> events);
    bool reconnect_with_backoff();
    /// While the queue is empty: every `k_idle_probe_interval`, checks that the connection still
    /// works (or tries once to re-establish it), so `connected()`, and with it readiness,
    /// follows the database even when no webhook arrives.
    void check_idle_connection();
    bool giving_up() const;
    void complete(std::span<ingest::event> events, ingest::ack_status status,
                  const std::string& detail = {});
    /// What one batch states about one call, merged by the rules of the calls upsert. Views
    /// into the batch's events, or into a pending_call.
    struct call_row {
        std::string_view id, status;
        std::int16_t status_rank = 0;
        std::optional<std::int64_t> first_sent_ms, last_sent_ms;
        std::array<std::int64_t, ingest::fact_count> rank{};  ///< 0: not stated
        std::array<std::string_view, ingest::fact_count> value{};
        std::uint64_t stated = 0;  ///< bit i: rank[i] != 0 (merge_row visits only those)
        static_assert(ingest::fact_count <= 64);
        std::int64_t conv_rank = 0;  ///< 0: no conversation snapshot
        bool conv_empty = false;
        ingest::digest conv_head{};
    };
    /// The same, owned: what committed batches stated about a call, not yet applied.
    struct pending_call {
        /// Set when the call is handed to an application: the records of the call with a
        /// generation below this are deleted by it (see start_apply).
        std::int64_t unmark_below = 0;
        /// Since when it waits to be applied: its first batch committed after its last
        /// application (derive_slices).
        std::chrono::steady_clock::time_point since{};
        std::string status;
        std::int16_t status_rank = 0;
        std::optional<std::int64_t> first_sent_ms, last_sent_ms;
        std::array<std::int64_t, ingest::fact_count> rank{};
        std::array<std::string, ingest::fact_count> value{};
        std::int64_t conv_rank = 0;
        bool conv_empty = false;
        ingest::digest conv_head{};
    };
    struct sent_batch;
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    using pending_map = std::unordered_map<std::string, pending_call, string_hash, std::equal_to<>>;
    /// The parameters of the derived state's statements (calls upsert, the deletion of records,
    /// and the lock an application holds), one binary array each.
    struct derive_columns {
        derive_columns();
        void clear();
        /// The connection's OID of call_state_input (schemas/sql/024), the calls' element type.
        void input_type(std::uint32_t oid);
        std::array<binary_array, 1> calls;   ///< call_state_input[]: the calls upsert's rows
        binary_array ranks;                  ///< a row's fact ranks, a field of its element
        std::array<binary_array, 3> unmark;  ///< call_derive_pending rows to delete
        std::array<binary_array, 1> lock;    ///< the owner whose records are deleted
    };
    /// Encodes the batch's statements. With `derive_delay` 0 the derived state goes in the same
    /// transaction; otherwise the batch records the calls it mentions in call_derive_pending
    /// (those not recorded already) and keeps its rows for merging once committed.
    void encode(std::span<ingest::event> events, sent_batch& out);
    void clear_columns();
    /// The derived rows of `events`, one per call.
    void collect_rows(std::span<const ingest::event> events, std::vector<call_row>& rows);
    /// What one event states about its call, merged into that call's row.
    static void merge_event(call_row& row, const ingest::event& ev);
    boost::unordered_flat_map<std::string_view, std::size_t> row_of_call_;  ///< collect_rows'
    /// The calls upsert rows of `rows` (into derived_cols_).
    void encode_derived(std::span<const call_row> rows);
    static void encode_call(derive_columns& cols, const call_row& row);
    /// Applies `calls` in one transaction on `conn` and deletes `owner`'s records of them below
    /// each call's unmark_below (schemas/sql/011), holding the owner's apply lock. Touches no
    /// other member: the derive thread runs it with its own connection and columns.
    static std::optional<pg_error> apply(pg_connection& conn, derive_columns& cols,
                                         const pending_map& calls, std::int32_t owner);
    /// Hands the calls of pending_ named in `take` to the derive thread (a new generation of
    /// records begins). `in_flight`: the batch sent and not yet landed, if any; its calls keep
    /// the records it may rely on.
    void start_apply(const sent_batch* in_flight, std::span<const std::string_view> take);
    /// The pending calls whose turn has come (derive_slices), into due_.
    void choose_due(std::chrono::steady_clock::time_point now);
    std::vector<std::string_view> due_;  ///< choose_due's: views of pending_'s keys
    /// Takes the outcome of the derive thread's application, if it is done (`wait`: waits).
    void finish_apply(bool wait);
    void derive_loop();
    /// Applies job_ on derive_conn_ (connecting it first if needed).
    std::optional<pg_error> run_job();
    /// Takes the owner lock and derives again the calls of owners whose lock is free.
    std::optional<pg_error> recover_abandoned();
    std::optional<pg_error> recover_owner(std::int32_t owner);
    /// Whether an application is due: the next slice's time has come (derive_slices).
    bool flush_due(std::chrono::steady_clock::time_point now) const;
    std::chrono::steady_clock::time_point next_apply() const;
    /// After a failed application of `calls`: logs; a refusal drops them (their records stay,
    /// for the next start); anything else merges them back into pending_, for another attempt
    /// after another delay.
    void derive_failed(const pg_error& e, pending_map& calls);
    /// The call_events rows of the batch, in key order, each key at most once per round.
    void encode_events(std::span<const ingest::event> events);
    /// The call_array_runs rows of one event: per array, the items after the longest prefix
    /// already stored or in the batch (none when the whole array is).
    void encode_runs(const ingest::event& ev, std::uint64_t call);

    unsigned id_;
    const config::store_config& cfg_;
    ingest::event_queue& queue_;
    store_metrics& metrics_;
    pg_connection conn_;
    std::atomic<bool> connected_{false};
    /// Records that this batch carries (call, part); false when it is already stored or in the
    /// batch, so the part is not sent again.
    bool remember(std::uint64_t call, const ingest::digest& hash);
    /// A small number standing for `call_id` in the sets below (no string per lookup).
    std::uint64_t call_number(const std::string& call_id);

    // The batch's columns, one binary array parameter each (see batch_writer.cpp for the
    // statements and the element type of each column).
    /// call_events: round r holds the (r+1)-th different delivery of a key in the batch, so
    /// that one statement never touches a row twice; nearly always one round.
    std::vector<std::array<binary_array, 10>> event_rounds_;
    std::size_t rounds_used_ = 0;
    std::vector<std::uint32_t> order_;     ///< the batch's events in key order
    std::vector<std::uint32_t> round_of_;  ///< per entry of order_: its round, or k_dropped
    std::string packed_refs_;              ///< one event's refs_packed, reused
    static constexpr std::uint32_t k_dropped = ~0u;
    std::array<binary_array, 4> blob_cols_;
    std::array<binary_array, 6> run_cols_;
    std::array<binary_array, 3> mark_cols_;  ///< call_derive_pending rows to insert
    derive_columns derived_cols_;  ///< the writer thread's (delay 0, recovery, flush_derived)
    /// Derived state of committed batches, by call, until an application takes it.
    pending_map pending_;
    /// Calls with a committed call_derive_pending row of this owner that no application has
    /// deleted, recorded since the call's last application, and the lowest generation of those
    /// rows (older rows an application kept may exist too; the next one deletes them). A batch
    /// records only the calls not here; an application deletes, of a call in the batch in flight,
    /// only the rows below that generation, one of which the batch may rely on (start_apply).
    std::unordered_map<std::string, std::int64_t, string_hash, std::equal_to<>> marked_;
    /// Calls an application of which Postgres refused (a data error) on this connection:
    /// their records are never deleted, so the next start derives them from their messages.
    std::unordered_set<std::string, string_hash, std::equal_to<>> refused_;
    /// The least `since` of pending_ (none when it is empty), and when the last application
    /// began.
    std::chrono::steady_clock::time_point oldest_since_{}, last_apply_{};
    std::int32_t owner_ = 0;  ///< this connection's owner number (advisory lock 73105946, owner)
    /// The generation of the records batches write now; a new one begins with each
    /// application (schemas/sql/011).
    std::int64_t generation_ = 1;

    // The derive thread (run() with derive_delay > 0): applies what start_apply hands it on
    // a connection of its own, so the batches never wait behind an application.
    struct derive_job {
        pending_map calls;
        std::int32_t owner = 0;
        std::chrono::steady_clock::time_point started, finished;
        std::optional<pg_error> error;
    };
    /// Hands job_'s outcome back to the writer thread (takes derive_mutex_).
    void job_finished(std::optional<pg_error> e);
    std::thread derive_thread_;
    std::mutex derive_mutex_;
    std::condition_variable derive_cv_;
    derive_job job_;            ///< guarded by derive_mutex_ while job_queued_ or job_done_
    bool job_queued_ = false;   ///< guarded: handed to the thread, not yet taken
    bool job_done_ = false;     ///< guarded: applied (or failed), not yet finished
    bool derive_stop_ = false;  ///< guarded
    bool job_busy_ = false;     ///< writer thread: handed and not yet finished
    std::atomic<bool> job_ready_{false};     ///< job_done_, readable without the lock
    pg_connection derive_conn_;              ///< the derive thread's
    std::unique_ptr<sent_batch> test_sent_;  ///< send_only's batch
    derive_columns apply_cols_;              ///< the derive thread's
    /// What the writer remembers is kept in two generations of these sizes (store::recent): the
    /// calls in progress and their parts stay known, the memory stays flat. Forgetting a part
    /// only costs sending it again (ON CONFLICT DO NOTHING).
    static constexpr std::size_t k_parts_per_generation = 1u << 16;
    static constexpr std::size_t k_calls_per_generation = 1u << 13;
    /// A part of one call: the call's number (call_number) and the part's content hash.
    struct part_key {
        std::uint64_t call;
        ingest::digest hash;
        bool operator==(const part_key&) const = default;
    };
    struct part_key_hash {
        using is_avalanching = void;  ///< the digest's bytes are uniform already
        std::size_t operator()(const part_key& k) const noexcept;
    };
    /// Open addressing: a lookup that misses (most of them: a conversation's new items) reads
    /// one group of slots, not a chain of nodes (bench/analysis.md, session 15).
    using part_set = boost::unordered_flat_set<part_key, part_key_hash>;
    /// A version of a call's `call` object sent whole: later versions are sent as the members
    /// that differ from it (schemas/sql/014).
    struct part_base {
        ingest::digest hash{};
        std::vector<std::pair<std::uint64_t, std::uint64_t>> members;  ///< key, member hashes
    };
    using call_base = std::pair<std::uint64_t, part_base>;  ///< call number, its base
    /// A batch sent and not yet read back: its statements and the parts it carries.
    struct sent_batch {
        std::size_t statements = 0;
        bool events_first = false;   ///< the first statement is the events' (it counts new rows)
        std::vector<call_row> rows;  ///< derived rows, merged into pending_ once committed
        std::vector<std::string> marks;  ///< calls recorded in call_derive_pending by it
        std::int64_t generation = 0;     ///< … with this generation
        bool derived_applied = false;    ///< the rows went into this transaction
        part_set parts;
        std::vector<ingest::digest> deliveries;  ///< delivery_digest of each row sent, sorted
        std::vector<call_base> bases;            ///< sent whole by it
        std::chrono::steady_clock::time_point started;
    };
    std::optional<pg_error> send_batch(std::span<ingest::event> events, sent_batch& out);
    /// Sends what the columns hold (the parts remembered go with `out`).
    std::optional<pg_error> send_encoded(sent_batch& out);
    /// A committed batch: its rows join pending_, its marks marked_.
    void keep_derived(sent_batch& batch, std::chrono::steady_clock::time_point now);
    void pending_changed(std::size_t before);  ///< updates the pending-calls gauge
    std::optional<pg_error> receive_batch(sent_batch& batch, long& inserted);
    void committed(std::span<ingest::event> events, long inserted,
                   std::chrono::steady_clock::time_point started);
    /// A call's number is never given to another call (next_call_number_ only grows), so a
    /// part remembered under a number that was forgotten can never be taken for another call's.
    recent<boost::unordered_flat_map<std::string, std::uint64_t, string_hash, std::equal_to<>>>
        call_numbers_{k_calls_per_generation};
    std::uint64_t next_call_number_ = 1;  ///< 0 stands for "no call" (events without parts)
    recent<part_set> stored_parts_{k_parts_per_generation};  ///< committed
    part_set batch_parts_;                                   ///< in the batch being written
    /// The deliveries committed, by a digest of what decides whether a delivery can change its
    /// row (delivery_digest). A row keeps the least of its deliveries, so a delivery identical to
    /// one committed changes nothing: it is acknowledged without a statement (answer_repeats),
    /// which spares Postgres the conflict, the row lock and its WAL. A table of 2^16 digests
    /// (1 MiB), one place per digest: a newer one takes the place of an older; forgetting one
    /// only costs that statement. The all-zero digest marks a free place.
    static constexpr std::size_t k_delivery_places = 1u << 16;
    std::vector<ingest::digest> stored_deliveries_ = std::vector<ingest::digest>(k_delivery_places);
    ingest::digest& delivery_place(const ingest::digest& d);
    /// Forgets the parts, deliveries and `call` objects known to be committed (on a new
    /// connection, which may reach another server).
    void forget_committed();
    bool delivery_committed(const ingest::digest& d);
    std::vector<ingest::digest> batch_deliveries_;  ///< of the batch being written
    /// Of the first n events, acknowledges those that repeat a committed delivery, moves those
    /// that repeat one of `in_flight` (sorted; may be null) to `riders`, to be answered with that
    /// batch, and the others to the front; returns how many others there are.
    std::size_t answer_repeats(ingest::event* events, std::size_t n,
                               const std::vector<ingest::digest>* in_flight,
                               std::vector<ingest::event>& riders);
    std::vector<ingest::event> repeats_, riders_;  ///< answer_repeats', reused
    /// The last `call` object of each call sent whole and committed, and those of the batch
    /// being written.
    recent<std::unordered_map<std::uint64_t, part_base>> bases_{k_calls_per_generation};
    std::vector<call_base> batch_bases_;
    /// Encodes one part not stored yet: whole, or for a `call` object, as a patch on the base.
    void encode_blob(const ingest::event& ev, std::uint64_t call, const ingest::blob_part& blob);
    std::vector<ingest::object_member> members_;  ///< encode_blob's, reused
    std::string patch_;                           ///< encode_blob's, reused
    std::size_t given_up_ = 0;                    ///< given up and not spooled: lost
    class spool* spool_ = nullptr;
    /// Events the writer cannot write (a stop, Postgres unreachable): to the spool, else lost.
    void give_up(std::span<ingest::event> events);
    std::atomic<int> conn_fd_{-1}, derive_fd_{-1};  ///< for abort_connections
    const std::atomic<bool>* stop_ = nullptr;
    const std::atomic<std::chrono::steady_clock::rep>* give_up_after_ = nullptr;
    /// When the event partitions were last made ahead of time (steady clock ticks; 0: not yet
    /// by this writer). The writer's thread and its derive thread both do it (writer 0 only).
    std::atomic<std::chrono::steady_clock::rep> last_maintenance_{0};
    static constexpr std::chrono::hours k_maintenance_interval{6};
    void maintain_partitions(pg_connection& conn);
    static constexpr std::chrono::seconds k_idle_probe_interval{1};
    /// While a batch fills, the writer checks the queue this often (it sleeps in between).
    static constexpr std::chrono::microseconds k_linger_slice{500};
    /// Moving average of the time from sending a batch to its commit.
    std::chrono::steady_clock::duration recent_batch_time_{};
    std::chrono::steady_clock::time_point last_probe_{};
};

}  // namespace switchboard::store
