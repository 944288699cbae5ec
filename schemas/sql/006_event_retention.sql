-- switchboard 006: retention of call_events by month. Detaches (does not drop) the monthly
-- partitions that ended more than `keep_months` whole months before the current month, so an
-- operator (cron, pg_cron, a deploy hook) can archive or drop them afterwards:
--   SELECT * FROM switchboard_detach_event_partitions(12);
-- Only partitions named call_events_YYYY_MM (made by switchboard_ensure_event_partitions) are
-- considered; call_events_default is never detached. Plain DETACH takes a short exclusive lock
-- on call_events; run `ALTER TABLE call_events DETACH PARTITION … CONCURRENTLY` by hand instead
-- where even that is too much (CONCURRENTLY cannot run inside a function).
CREATE FUNCTION switchboard_detach_event_partitions(keep_months int)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    oldest_kept date;
    part text;
BEGIN
    -- The current and the previous month are always kept: switchboard_ensure_event_partitions
    -- recreates last month's partition, and a late duplicate must find its original.
    IF keep_months IS NULL OR keep_months < 1 THEN
        RAISE EXCEPTION 'keep_months must be 1 or more, got %', keep_months;
    END IF;
    oldest_kept := (date_trunc('month', now() AT TIME ZONE 'UTC')
                    - make_interval(months => keep_months))::date;
    PERFORM pg_advisory_xact_lock(7310594658609523);  -- the lock of ensure_event_partitions
    FOR part IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'call_events'::regclass
          AND c.relname ~ '^call_events_[0-9]{4}_[0-9]{2}$'
          AND to_date(substr(c.relname, 13), 'YYYY_MM') < oldest_kept
        ORDER BY c.relname
    LOOP
        EXECUTE format('ALTER TABLE call_events DETACH PARTITION %I', part);
        RETURN NEXT part;
    END LOOP;
END $$;
