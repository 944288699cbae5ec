-- switchboard 017: an UPDATE that changes a phone number's id announces both ids.
--
-- Each process keeps the routes of phone_numbers in memory and reloads the rows whose ids are
-- announced on `switchboard_routing` (schemas/sql/003). An operator's UPDATE of the id itself
-- announced only the new one, so the old id kept its route in memory until the next full reload.
CREATE OR REPLACE FUNCTION switchboard_notify_routing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('switchboard_routing', coalesce(NEW.id, OLD.id));
    IF TG_OP = 'UPDATE' AND NEW.id IS DISTINCT FROM OLD.id THEN
        PERFORM pg_notify('switchboard_routing', OLD.id);
    END IF;
    RETURN NULL;
END $$;
