-- switchboard 009: call_events is indexed by time with a BRIN index instead of a B-tree on
-- (type, sent_at).
--
-- The B-tree cost every stored message an index insert: with the primary key, one of the two
-- B-tree inserts of each row (bench/analysis.md, session 6: the call_events statement took 15 %
-- less time per webhook without it). Nothing in switchboard reads call_events by type across
-- calls: a call's events are found by the primary key (call_id, sent_at, dedupe_key), which the
-- views call_transcripts and call_speech use for one call. What reporting does need across calls
-- is a time range ("the transcripts of the last hour"), and sent_at grows with insertion order,
-- which is what a BRIN index summarises: a few pages for a month of events, and an insert
-- touches it only when a page range's bounds move. A type filter is then applied to the rows
-- of the matching ranges.
DROP INDEX call_events_type;
CREATE INDEX call_events_sent_at ON call_events USING brin (sent_at);
