-- switchboard 014: a new version of a call's `call` object stored as the members that changed.
--
-- The `call` object Vapi puts in every message changes during a call (its status, endedAt, the
-- costs, …) and each version was stored whole: in the wrk mix five versions of about 1-1.7 kB a
-- call, most of `call_blobs`' bytes and a quarter of the WAL per webhook (bench/analysis.md,
-- session 9). A version is now stored either whole (`base` NULL) or as a patch on a version
-- stored before (`base`, the hash of a row of the same call): an object holding the top-level
-- members that differ from that version or are new in it. The version is `base's body || body`
-- (jsonb's concatenation, which replaces and adds top-level members); a version that drops a
-- member of its base is stored whole. Bases may themselves be patches (another writer or
-- replica may have stored that version first); switchboard_call_blobs() resolves any depth.
ALTER TABLE call_blobs ADD COLUMN base uuid;
COMMENT ON COLUMN call_blobs.base IS
    'NULL: body is the part; else body holds the members that differ from the part hashed base';

-- Every part of one call, with its whole body.
CREATE FUNCTION switchboard_call_blobs(p_call_id text) RETURNS TABLE (hash uuid, body jsonb)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH RECURSIVE resolved(hash, body, depth) AS (
        SELECT b.hash, b.body, 0 FROM call_blobs b WHERE b.call_id = p_call_id AND b.base IS NULL
        UNION ALL
        SELECT b.hash, r.body || b.body, r.depth + 1
        FROM resolved r JOIN call_blobs b ON b.call_id = p_call_id AND b.base = r.hash
        WHERE r.depth < 100)
    SELECT hash, body FROM resolved
$$;
