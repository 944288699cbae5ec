-- switchboard 010: the derived call state may lag the stored messages, durably.
--
-- A webhook is acknowledged once its message is committed in call_events. What the messages
-- say about their call (the calls row, call_messages) is derived: a function of the set of
-- stored messages. Updating it in the same transaction as every message cost about half of
-- Postgres' time per webhook (bench/analysis.md, session 6), so a batch writer merges what its
-- batches state about each call in memory and applies it at most `--derive-delay-ms` later,
-- once per call.
--
-- So that a crash in between loses nothing, the transaction that commits a call's first
-- message of such a window also records the call here, under the writer's owner number; the
-- transaction that applies the call's merged state deletes the row. A writer holds the advisory
-- lock (73105946, owner) on its connection while it lives. Rows whose owner's lock is free
-- belong to a writer that is gone: the next writer to connect takes the lock and derives
-- those calls again from all their stored messages (the merge is order- and
-- repetition-proof), then deletes the rows. No row for a call: its derived state is complete.
CREATE TABLE call_derive_pending (
    owner   integer NOT NULL,
    call_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (owner, call_id)
);
