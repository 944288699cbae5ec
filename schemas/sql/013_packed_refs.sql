-- switchboard 013: an event's refs as 17 bytes per part instead of JSON.
--
-- `refs` held {"path": "uuid", …}: about 230 bytes of jsonb per message for four or five
-- 16-byte hashes, which Postgres parsed as JSON on every insert and wrote to the heap and the
-- WAL. `refs_packed` holds the same in 17 bytes a part: the path's code (1 call, 2 assistant,
-- 3 phoneNumber, 4 customer, 5 messages, 6 messagesOpenAIFormatted, 7 artifact.messages,
-- 8 artifact.messagesOpenAIFormatted; plus 128 for an empty array) and the hash (zeros for an
-- empty array). Measured (bench/analysis.md, session 10): about 150 bytes less per stored
-- message and no JSON parse of the refs.
--
-- A column is added, not converted: rows stored before keep `refs`, which nothing writes any
-- more (a message stored again gets `refs_packed` and loses `refs`), and adding a column does
-- not rewrite the table. switchboard_refs() reads either form back as the old JSON.
ALTER TABLE call_events ADD COLUMN refs_packed bytea;
COMMENT ON COLUMN call_events.refs IS 'the refs of rows stored before migration 013; see refs_packed';
COMMENT ON COLUMN call_events.refs_packed IS
    'per cut-out part 17 bytes: path code (+128: empty array), XXH3-128 hash; see switchboard_refs()';

-- The packed refs as the JSON `refs` held: {"path": "uuid" | null}.
CREATE FUNCTION switchboard_refs(packed bytea) RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT jsonb_object_agg(
               (ARRAY['call', 'assistant', 'phoneNumber', 'customer', 'messages',
                      'messagesOpenAIFormatted', 'artifact.messages',
                      'artifact.messagesOpenAIFormatted'])[get_byte(packed, i) & 127],
               CASE WHEN get_byte(packed, i) >= 128 THEN 'null'::jsonb
                    ELSE to_jsonb(encode(substr(packed, i + 2, 16), 'hex')::uuid) END)
    FROM generate_series(0, length(packed) - 17, 17) AS i
$$;

CREATE OR REPLACE VIEW call_storage AS
SELECT e.call_id,
       e.events,
       e.received_bytes,
       e.event_bytes + coalesce(b.bytes, 0) + coalesce(n.bytes, 0) + coalesce(m.bytes, 0)
           AS stored_bytes
FROM (SELECT call_id, count(*) AS events, sum(received_bytes) AS received_bytes,
             sum(pg_column_size(skeleton) + coalesce(pg_column_size(refs), 0)
                 + coalesce(pg_column_size(refs_packed), 0) + 64) AS event_bytes
      FROM call_events GROUP BY call_id) e
LEFT JOIN (SELECT call_id, sum(pg_column_size(body) + 48) AS bytes FROM call_blobs GROUP BY call_id) b
       USING (call_id)
LEFT JOIN (SELECT call_id, sum(pg_column_size(items) + pg_column_size(nodes) + 76) AS bytes
           FROM call_array_runs GROUP BY call_id) n
       USING (call_id)
LEFT JOIN (SELECT call_id, sum(pg_column_size(m.*) + 24) AS bytes FROM call_messages m GROUP BY call_id) m
       USING (call_id);
