-- switchboard 002: compact, lossless message storage (docs/storage-design.md).
-- A message is stored as its skeleton (the message minus the parts Vapi repeats in every
-- message) plus references to those parts, each stored once per call.

ALTER TABLE call_events RENAME COLUMN message TO skeleton;
ALTER TABLE call_events ADD COLUMN refs jsonb;             -- {"path": node-or-blob uuid | null (empty array)}
ALTER TABLE call_events ADD COLUMN received_bytes integer; -- size of the request body
COMMENT ON COLUMN call_events.skeleton IS 'the message minus the parts named in refs';

-- Objects repeated in every message of a call (call, assistant, phoneNumber, customer): one row
-- per distinct version, keyed by the XXH3-128 hash of its bytes.
CREATE TABLE call_blobs (
    call_id text NOT NULL,
    hash    uuid NOT NULL,
    body    jsonb NOT NULL,
    PRIMARY KEY (call_id, hash)
);

-- The conversation arrays as hash chains: node = H(parent ‖ H(item)). An array is referenced by
-- the node of its last item; successive conversation updates share their prefix.
CREATE TABLE call_array_nodes (
    call_id  text NOT NULL,
    node     uuid NOT NULL,
    parent   uuid,                -- NULL for the first item
    position integer NOT NULL,    -- 0-based index in the array
    item     jsonb NOT NULL,
    PRIMARY KEY (call_id, node)
);

-- Stored vs received bytes per call: the figure that must grow linearly with the call.
CREATE VIEW call_storage AS
SELECT e.call_id,
       e.events,
       e.received_bytes,
       e.event_bytes + coalesce(b.bytes, 0) + coalesce(n.bytes, 0) AS stored_bytes
FROM (SELECT call_id, count(*) AS events, sum(received_bytes) AS received_bytes,
             sum(pg_column_size(skeleton) + coalesce(pg_column_size(refs), 0) + 64) AS event_bytes
      FROM call_events GROUP BY call_id) e
LEFT JOIN (SELECT call_id, sum(pg_column_size(body) + 48) AS bytes FROM call_blobs GROUP BY call_id) b
       USING (call_id)
LEFT JOIN (SELECT call_id, sum(pg_column_size(item) + 72) AS bytes FROM call_array_nodes GROUP BY call_id) n
       USING (call_id);
