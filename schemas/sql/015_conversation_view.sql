-- switchboard 015: the conversation is read from the stored arrays instead of written again.
--
-- call_messages held one row per turn of each call's conversation, derived from the
-- highest-ranked snapshot (calls.conversation_head) by walking the array runs back from that
-- head. Writing those rows was about a quarter of Postgres' statement time on the wrk mix
-- (bench/analysis.md, session 12): every turn was stored twice, once as an item of a run and
-- once as a row. The turns are now read from the runs when asked for: call_messages is a view
-- with the same columns, which walks the runs of the calls it is asked about (a query for one
-- call reads that call's runs only). Nothing is lost: the rows were a function of the runs and
-- the calls row, both of which stay.

-- The items of the array whose last chain node is `head`, in order: the run ending at `head`,
-- then the run ending at its parent, and so on back to the run that starts the array. Chain nodes
-- hash their whole prefix, so the walk cannot loop (and positions strictly decrease along it).
CREATE FUNCTION switchboard_array_items(p_call_id text, head uuid)
RETURNS TABLE (item_position integer, item_node uuid, item jsonb)
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    WITH RECURSIVE chain AS (
        SELECT r.parent, r.position, r.nodes, r.items
        FROM call_array_runs r WHERE r.call_id = p_call_id AND r.node = head
        UNION ALL
        SELECT r.parent, r.position, r.nodes, r.items
        FROM chain ch CROSS JOIN LATERAL (  -- one index probe a step (LIMIT: not a hash join)
            SELECT r.parent, r.position, r.nodes, r.items FROM call_array_runs r
            WHERE r.call_id = p_call_id AND r.node = ch.parent AND r.position < ch.position
            LIMIT 1) r)
    SELECT ch.position + (e.i - 1)::int, switchboard_run_node(ch.nodes, e.i), e.item
    FROM chain ch CROSS JOIN LATERAL jsonb_array_elements(ch.items) WITH ORDINALITY AS e(item, i)
$$;

DROP VIEW call_storage;
DROP TABLE call_messages;

-- One row per item of the call's conversation (system, bot, user, tool calls, tool result), from
-- its highest-ranked snapshot. Values of the wrong type read as NULL.
CREATE VIEW call_messages AS
SELECT c.id AS call_id, m.item_position AS position, m.item_node AS node,
       coalesce(switchboard_json_text(m.item -> 'role'),
                CASE WHEN jsonb_typeof(m.item) = 'object' AND m.item ? 'toolCalls' THEN 'tool_calls'
                     WHEN jsonb_typeof(m.item) = 'object' AND m.item ? 'toolCallId'
                     THEN 'tool_call_result' END) AS role,
       switchboard_json_text(m.item -> 'message') AS message,
       switchboard_ms_time(m.item -> 'time') AS time,
       switchboard_ms_time(m.item -> 'endTime') AS end_time,
       switchboard_json_number(m.item -> 'secondsFromStart') AS seconds_from_start,
       switchboard_json_number(m.item -> 'duration') AS duration,
       CASE WHEN jsonb_typeof(m.item -> 'toolCalls') = 'array' THEN m.item -> 'toolCalls' END
           AS tool_calls,
       switchboard_json_text(m.item -> 'toolCallId') AS tool_call_id,
       switchboard_json_text(m.item -> 'name') AS name,
       switchboard_json_text(m.item -> 'result') AS result
FROM calls c
CROSS JOIN LATERAL switchboard_array_items(c.id, c.conversation_head) AS m
WHERE c.conversation_head IS NOT NULL;
COMMENT ON VIEW call_messages IS
    'the turns of each call''s highest-ranked conversation snapshot, read from call_array_runs';

-- Stored bytes: the conversation is no longer stored a second time.
CREATE VIEW call_storage AS
SELECT e.call_id,
       e.events,
       e.received_bytes,
       e.event_bytes + coalesce(b.bytes, 0) + coalesce(n.bytes, 0) AS stored_bytes
FROM (SELECT call_id, count(*) AS events, sum(received_bytes) AS received_bytes,
             sum(pg_column_size(skeleton) + coalesce(pg_column_size(refs), 0)
                 + coalesce(pg_column_size(refs_packed), 0) + 64) AS event_bytes
      FROM call_events GROUP BY call_id) e
LEFT JOIN (SELECT call_id, sum(pg_column_size(body) + 48) AS bytes FROM call_blobs GROUP BY call_id) b
       USING (call_id)
LEFT JOIN (SELECT call_id, sum(pg_column_size(items) + pg_column_size(nodes) + 76) AS bytes
           FROM call_array_runs GROUP BY call_id) n
       USING (call_id);
