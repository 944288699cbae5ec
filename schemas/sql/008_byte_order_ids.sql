-- switchboard 008: the keys the batch writers probe on every insert compare as bytes.
--
-- Call ids, dedupe keys and message types are identifiers, not words. Under a database's
-- default collation (C.UTF-8, en_US.UTF-8, …) every B-tree comparison of them goes through the C
-- library's strcoll; under COLLATE "C" it is a memcmp. The writers' unique-index probes and inserts
-- compare these columns for every row they write (bench/analysis.md, session 5: about 9 % less
-- Postgres CPU per webhook in bench/load max with byte order). Equality is unchanged; ordering
-- is by bytes, which for UTF-8 is code point order (what C.UTF-8 already gave).
--
-- Columns used by views cannot change type, so the views over them are dropped and recreated
-- from their own definitions.
DO $$
DECLARE
    views text[] := ARRAY['call_transcripts', 'call_speech', 'call_storage', 'call_array_nodes'];
    defs text[] := '{}';
    v text;
BEGIN
    FOREACH v IN ARRAY views LOOP
        defs := defs || pg_get_viewdef(v::regclass, true);
    END LOOP;
    FOREACH v IN ARRAY views LOOP
        EXECUTE format('DROP VIEW %I', v);
    END LOOP;

    ALTER TABLE calls ALTER COLUMN id TYPE text COLLATE "C";
    ALTER TABLE call_events ALTER COLUMN call_id TYPE text COLLATE "C",
                            ALTER COLUMN dedupe_key TYPE text COLLATE "C",
                            ALTER COLUMN type TYPE text COLLATE "C";
    ALTER TABLE call_blobs ALTER COLUMN call_id TYPE text COLLATE "C";
    ALTER TABLE call_array_runs ALTER COLUMN call_id TYPE text COLLATE "C";
    ALTER TABLE call_messages ALTER COLUMN call_id TYPE text COLLATE "C";

    FOR i IN 1 .. array_length(views, 1) LOOP
        EXECUTE format('CREATE VIEW %I AS %s', views[i], defs[i]);
    END LOOP;
END
$$;
COMMENT ON VIEW call_array_nodes IS 'the items of call_array_runs, one row per chain node';
