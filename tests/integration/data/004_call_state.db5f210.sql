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

-- Makes call_messages the snapshot ending at node p_head (NULL: the empty conversation) when
-- p_rank is higher than the rank it was built from. Only the items after the common prefix
-- are written: a chain node identifies its whole prefix, so the walk back from the head stops
-- at the first node already in place. Never raises for odd items (derived data must not make
-- the batch, and with it the webhooks, fail).
CREATE FUNCTION switchboard_apply_conversation(p_call text, p_head uuid, p_rank bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    current_rank bigint;
    head_position integer := -1;
    at_node uuid := p_head;
    n record;
BEGIN
    SELECT conversation_rank INTO current_rank FROM calls WHERE id = p_call FOR UPDATE;
    IF NOT FOUND OR (current_rank IS NOT NULL AND current_rank >= p_rank) THEN
        RETURN;
    END IF;
    IF p_head IS NOT NULL THEN
        SELECT position INTO head_position FROM call_array_nodes
        WHERE call_id = p_call AND node = p_head;
        IF NOT FOUND THEN
            RAISE WARNING 'switchboard: conversation head % of call % is not stored', p_head, p_call;
            RETURN;
        END IF;
    END IF;
    UPDATE calls SET conversation_rank = p_rank, conversation_head = p_head WHERE id = p_call;
    DELETE FROM call_messages WHERE call_id = p_call AND position > head_position;
    WHILE at_node IS NOT NULL LOOP
        SELECT node, parent, position, item INTO n FROM call_array_nodes
        WHERE call_id = p_call AND node = at_node;
        EXIT WHEN NOT FOUND;
        EXIT WHEN EXISTS (SELECT 1 FROM call_messages m
                          WHERE m.call_id = p_call AND m.position = n.position AND m.node = n.node);
        INSERT INTO call_messages AS m (call_id, position, node, role, message, time, end_time,
                                        seconds_from_start, duration, tool_calls, tool_call_id,
                                        name, result)
        VALUES (p_call, n.position, n.node,
                coalesce(switchboard_json_text(n.item -> 'role'),
                         CASE WHEN jsonb_typeof(n.item) = 'object' AND n.item ? 'toolCalls' THEN 'tool_calls'
                              WHEN jsonb_typeof(n.item) = 'object' AND n.item ? 'toolCallId' THEN 'tool_call_result'
                         END),
                switchboard_json_text(n.item -> 'message'),
                switchboard_ms_time(n.item -> 'time'),
                switchboard_ms_time(n.item -> 'endTime'),
                switchboard_json_number(n.item -> 'secondsFromStart'),
                switchboard_json_number(n.item -> 'duration'),
                CASE WHEN jsonb_typeof(n.item -> 'toolCalls') = 'array' THEN n.item -> 'toolCalls' END,
                switchboard_json_text(n.item -> 'toolCallId'),
                switchboard_json_text(n.item -> 'name'),
                switchboard_json_text(n.item -> 'result'))
        ON CONFLICT (call_id, position) DO UPDATE SET
            node = excluded.node, role = excluded.role, message = excluded.message,
            time = excluded.time, end_time = excluded.end_time,
            seconds_from_start = excluded.seconds_from_start, duration = excluded.duration,
            tool_calls = excluded.tool_calls, tool_call_id = excluded.tool_call_id,
            name = excluded.name, result = excluded.result;
        at_node := n.parent;
    END LOOP;
END $$;

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
