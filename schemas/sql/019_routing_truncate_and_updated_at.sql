-- switchboard 019: the routing table follows a TRUNCATE, and a row's updated_at follows its
-- changes.
--
-- Each process keeps the routes of phone_numbers in memory, reloaded from the announcements on
-- `switchboard_routing` (003, 017). Those come from a row trigger, which a TRUNCATE does not
-- fire: every route stayed in memory until the listener reconnected. An empty announcement makes
-- every process reload the whole table.
--
-- Of several rows with the same number, the most recently updated one that routes it wins
-- (src/ingest/routing.cpp). The management API sets updated_at on every change; an operator's
-- UPDATE in SQL did not, so an older row could keep winning. An UPDATE that leaves updated_at
-- as it was now sets it to the time of the change; one that sets it keeps its value.
CREATE FUNCTION switchboard_notify_routing_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('switchboard_routing', '');
    RETURN NULL;
END $$;
CREATE TRIGGER phone_numbers_notify_truncate AFTER TRUNCATE ON phone_numbers
    FOR EACH STATEMENT EXECUTE FUNCTION switchboard_notify_routing_all();

CREATE FUNCTION switchboard_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER phone_numbers_touch BEFORE UPDATE ON phone_numbers
    FOR EACH ROW EXECUTE FUNCTION switchboard_touch_updated_at();
