-- switchboard 004: the call as a whole — every fact of the calls row, the conversation turn by
-- turn (call_messages), and views for real-time events and daily reporting.
--
-- Order and duplicates: every fact column takes the value stated by the highest-ranked message
-- (the end-of-call report outranks everything, then the later Vapi timestamp); fact_ranks keeps
-- the rank each column came from. call_messages follows the highest-ranked conversation
-- snapshot. Both are functions of the set of messages, not of their order or repetition.

ALTER TABLE calls
    ADD COLUMN workflow_id          text,
    ADD COLUMN squad_id             text,
    ADD COLUMN phone_number         text,          -- the Vapi number (phoneNumber.number)
    ADD COLUMN phone_call_provider  text,          -- twilio, vonage, vapi, telnyx
    ADD COLUMN phone_call_transport text,          -- sip, pstn
    ADD COLUMN transport_provider   text,          -- call.transport.provider (daily, vapi.websocket, …)
    ADD COLUMN ended_message        text,
    ADD COLUMN cost_breakdown       jsonb,         -- call.costBreakdown
    ADD COLUMN costs                jsonb,         -- cost items (transport, transcriber, model, voice, vapi, …)
    ADD COLUMN summary              text,          -- analysis.summary
    ADD COLUMN structured_data      jsonb,         -- analysis.structuredData
    ADD COLUMN success_evaluation   text,          -- analysis.successEvaluation
    ADD COLUMN recording_url        text,          -- artifact.recordingUrl (stable; presigned URLs are not kept here)
    ADD COLUMN stereo_recording_url text,
    ADD COLUMN video_recording_url  text,
    ADD COLUMN log_url              text,
    ADD COLUMN transcript           text,          -- artifact.transcript of the end-of-call report
    ADD COLUMN destination          jsonb,         -- transfer destination, when transferred
    ADD COLUMN fact_ranks           bigint[],      -- per fact column: rank of the message it came from
    ADD COLUMN conversation_rank    bigint,        -- rank of the snapshot call_messages was built from
    ADD COLUMN conversation_head    uuid,          -- its last call_array_nodes node (NULL: empty)
    ADD COLUMN duration_seconds     numeric GENERATED ALWAYS AS
        (extract(epoch FROM ended_at - started_at)) STORED;

-- first/last_event_at are now the earliest and latest Vapi timestamps (the sender's time), so a
-- replay does not move them; NULL when no message carried a timestamp.
ALTER TABLE calls ALTER COLUMN first_event_at DROP NOT NULL;
ALTER TABLE calls ALTER COLUMN last_event_at DROP NOT NULL;
COMMENT ON COLUMN calls.first_event_at IS 'earliest Vapi timestamp of the call''s messages';
COMMENT ON COLUMN calls.last_event_at IS 'latest Vapi timestamp of the call''s messages';
CREATE INDEX calls_workflow ON calls (workflow_id, created_at) WHERE workflow_id IS NOT NULL;
CREATE INDEX calls_phone_number ON calls (phone_number_id, created_at);

-- One row per item of the call's conversation (system, bot, user, tool calls, tool result),
-- from the latest conversation-update during the call and from the end-of-call report once it
-- has arrived. The item as received is call_array_nodes.item (join on call_id, node).
CREATE TABLE call_messages (
    call_id            text    NOT NULL,
    position           integer NOT NULL,           -- 0-based order in the conversation
    node               uuid    NOT NULL,           -- call_array_nodes.node of this item
    role               text,                       -- system, bot, user, tool_calls, tool_call_result
    message            text,                       -- the text said (or the tool-call message)
    time               timestamptz,                -- start (item.time, epoch ms)
    end_time           timestamptz,                -- end (item.endTime), user and bot items
    seconds_from_start numeric,
    duration           numeric,                    -- item.duration as sent (ms in practice)
    tool_calls         jsonb,                      -- tool_calls items: [{id, type, function}]
    tool_call_id       text,                       -- tool_call_result items
    name               text,                       -- tool name of a result
    result             text,                       -- tool result (JSON text as sent)
    PRIMARY KEY (call_id, position)
);

-- Epoch milliseconds (a JSON number) as a time; NULL for anything else or out of range.
CREATE FUNCTION switchboard_ms_time(v jsonb) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'number' AND abs((v #>> '{}')::numeric) < 1e14
                THEN to_timestamp((v #>> '{}')::double precision / 1000) END
$$;

CREATE FUNCTION switchboard_json_number(v jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'number' THEN (v #>> '{}')::numeric END
$$;

CREATE FUNCTION switchboard_json_text(v jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'string' THEN v #>> '{}'
                WHEN v IS NULL OR jsonb_typeof(v) = 'null' THEN NULL
                ELSE v::text END
$$;

-- The conversation of a call follows the highest-ranked snapshot (calls.conversation_rank):
-- the batch writer's statement `sb_conversations` (store/batch_writer.cpp) rewrites only the items
-- after the common prefix, found by walking the hash chain back from the new head until a node
-- already in place (a chain node identifies its whole prefix).

-- Real-time transcripts of a call in time order (partial and final).
CREATE VIEW call_transcripts AS
SELECT call_id, sent_at, received_at,
       switchboard_json_text(skeleton -> 'role') AS role,
       switchboard_json_text(skeleton -> 'transcriptType') AS transcript_type,
       switchboard_json_text(skeleton -> 'transcript') AS transcript,
       switchboard_json_text(skeleton -> 'language') AS language
FROM call_events
WHERE type = 'transcript' OR type LIKE 'transcript[%';

-- Speech start/stop events of a call in time order.
CREATE VIEW call_speech AS
SELECT call_id, sent_at, received_at,
       switchboard_json_text(skeleton -> 'status') AS status,
       switchboard_json_text(skeleton -> 'role') AS role,
       switchboard_json_number(skeleton -> 'turn') AS turn
FROM call_events
WHERE type = 'speech-update';

-- Calls per day (UTC, by start time) by assistant and ended reason, with duration and cost.
CREATE VIEW calls_daily AS
SELECT (coalesce(started_at, created_at, first_event_at) AT TIME ZONE 'UTC')::date AS day,
       assistant_id,
       ended_reason,
       count(*)                             AS calls,
       count(*) FILTER (WHERE status = 'ended') AS ended_calls,
       sum(duration_seconds)                AS total_duration_seconds,
       avg(duration_seconds)                AS avg_duration_seconds,
       sum(cost)                            AS total_cost,
       avg(cost)                            AS avg_cost
FROM calls
GROUP BY 1, 2, 3;

-- Nothing reads call_events by receive time; the index cost an insert per message.
DROP INDEX call_events_received_at;

-- lz4 instead of pglz for the large JSON values: several times cheaper to compress on the
-- write path, for a slightly larger result (bench/storage.sh reports the figures).
ALTER TABLE call_blobs ALTER COLUMN body SET COMPRESSION lz4;
ALTER TABLE call_array_nodes ALTER COLUMN item SET COMPRESSION lz4;
ALTER TABLE call_events ALTER COLUMN skeleton SET COMPRESSION lz4;

-- Stored bytes now include the conversation turns (call_messages), derived but stored.
CREATE OR REPLACE VIEW call_storage AS
SELECT e.call_id,
       e.events,
       e.received_bytes,
       e.event_bytes + coalesce(b.bytes, 0) + coalesce(n.bytes, 0) + coalesce(m.bytes, 0)
           AS stored_bytes
FROM (SELECT call_id, count(*) AS events, sum(received_bytes) AS received_bytes,
             sum(pg_column_size(skeleton) + coalesce(pg_column_size(refs), 0) + 64) AS event_bytes
      FROM call_events GROUP BY call_id) e
LEFT JOIN (SELECT call_id, sum(pg_column_size(body) + 48) AS bytes FROM call_blobs GROUP BY call_id) b
       USING (call_id)
LEFT JOIN (SELECT call_id, sum(pg_column_size(item) + 72) AS bytes FROM call_array_nodes GROUP BY call_id) n
       USING (call_id)
LEFT JOIN (SELECT call_id, sum(pg_column_size(m.*) + 24) AS bytes FROM call_messages m GROUP BY call_id) m
       USING (call_id);
