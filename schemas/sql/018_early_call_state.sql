-- switchboard 018: a database that applied one of the early texts of 004_call_state.sql (it
-- changed three times on 2026-11-24, the day it was written; the service accepts those texts,
-- src/store/migrations.cpp) brought to what 004 makes now. On any other database nothing here
-- changes anything.
--
-- The first texts applied the conversation with a plpgsql function (replaced by a set-based
-- statement, then by the runs of 007 and 015), kept an index on received_at that nothing reads,
-- and left the large JSON columns on the default compression.
DROP FUNCTION IF EXISTS switchboard_apply_conversation(text, uuid, bigint);
DROP INDEX IF EXISTS call_events_received_at;
ALTER TABLE call_blobs ALTER COLUMN body SET COMPRESSION lz4;
ALTER TABLE call_events ALTER COLUMN skeleton SET COMPRESSION lz4;
