-- switchboard 007: the conversation arrays as runs of items instead of one row per item.
--
-- The hash chain stays what it was (node_k = H(node_{k-1} ‖ H(item_k)), an array is referenced by
-- the node of its last item), but a row now holds a run of consecutive items: the items a message
-- added after the longest prefix the writer already knows to be stored. A conversation update
-- that adds two turns writes one row, not two or more; an end-of-call report whose arrays extend
-- the last update's writes one row per array. Every referenced node (an array's last item) is the
-- `node` of some run, so rebuilding walks runs from the head by `parent`. Runs are content-addressed
-- like the items were: two runs ending at the same node hold the same prefix's tail, so
-- `ON CONFLICT DO NOTHING` keeps either. Runs may overlap (a writer that has not seen a prefix, e.g.
-- after a restart, stores the array from its start); the per-item view below hides that.
CREATE TABLE call_array_runs (
    call_id  text    NOT NULL,
    node     uuid    NOT NULL,   -- chain node of the run's last item
    parent   uuid,               -- chain node of the item before the run; NULL: the run starts the array
    position integer NOT NULL,   -- 0-based index of the run's first item in the array
    nodes    bytea   NOT NULL,   -- the chain node of each item of the run, 16 bytes each, in order
    items    jsonb   NOT NULL,   -- the items (a JSON array), exactly as received
    PRIMARY KEY (call_id, node)
);
ALTER TABLE call_array_runs ALTER COLUMN items SET COMPRESSION lz4;

INSERT INTO call_array_runs (call_id, node, parent, position, nodes, items)
SELECT call_id, node, parent, position, decode(replace(node::text, '-', ''), 'hex'),
       jsonb_build_array(item)
FROM call_array_nodes;

-- The item with index i (1-based) of a run's `nodes`, as a uuid.
CREATE FUNCTION switchboard_run_node(nodes bytea, i bigint) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT encode(substring(nodes FROM ((i - 1) * 16 + 1)::int FOR 16), 'hex')::uuid
$$;

-- The views below read the old table's shape; they are recreated over the runs.
DROP VIEW call_storage;
DROP TABLE call_array_nodes;

-- One row per item, as before (each node once, whichever run holds it).
CREATE VIEW call_array_nodes AS
SELECT DISTINCT ON (r.call_id, i.node) r.call_id, i.node, i.parent, i.position, i.item
FROM call_array_runs r
CROSS JOIN LATERAL (
    SELECT switchboard_run_node(r.nodes, e.i) AS node,
           CASE WHEN e.i = 1 THEN r.parent ELSE switchboard_run_node(r.nodes, e.i - 1) END AS parent,
           r.position + (e.i - 1)::int AS position,
           e.item
    FROM jsonb_array_elements(r.items) WITH ORDINALITY AS e(item, i)) i
ORDER BY r.call_id, i.node;
COMMENT ON VIEW call_array_nodes IS 'the items of call_array_runs, one row per chain node';

CREATE VIEW call_storage AS
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
LEFT JOIN (SELECT call_id, sum(pg_column_size(items) + pg_column_size(nodes) + 76) AS bytes
           FROM call_array_runs GROUP BY call_id) n
       USING (call_id)
LEFT JOIN (SELECT call_id, sum(pg_column_size(m.*) + 24) AS bytes FROM call_messages m GROUP BY call_id) m
       USING (call_id);
