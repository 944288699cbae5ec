-- switchboard 021: a number given to another owner starts their calls afresh; the calls API
-- keeps the nulls inside stored values.
--
-- A caller sees the calls of their numbers from the time they took the number on
-- (`owned_since`, 016). The claim sets it; an operator who gives a number to another owner in
-- SQL (`UPDATE phone_numbers SET owner = ...`) did not, so the new owner saw every call the
-- number carried for the one before. Now a change of owner sets it to the time of the change,
-- unless the same UPDATE sets it too.
CREATE FUNCTION switchboard_number_owner_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.owner IS DISTINCT FROM OLD.owner
       AND NEW.owned_since IS NOT DISTINCT FROM OLD.owned_since THEN
        NEW.owned_since := now();
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER phone_numbers_owner_change BEFORE UPDATE OF owner ON phone_numbers
    FOR EACH ROW EXECUTE FUNCTION switchboard_number_owner_changed();

-- The calls API leaves out the members it has no value for. jsonb_strip_nulls does that at
-- every depth, so it also took the nulls out of what a call stored (a structuredData member
-- that is null, a tool call's arguments): this one looks at the top level only.
CREATE FUNCTION switchboard_strip_top_nulls(v jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_object_agg(key, value), '{}'::jsonb)
      FROM jsonb_each(v) WHERE jsonb_typeof(value) <> 'null'
$$;
