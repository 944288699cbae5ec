-- switchboard 005: what the management API's queries need (docs/management-api.md).

-- Times in the shape Vapi uses for createdAt/updatedAt: ISO 8601, UTC, milliseconds, "Z".
CREATE FUNCTION switchboard_iso(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- "Is this assistant/workflow routed by a number?" before deleting it.
CREATE INDEX phone_numbers_assistant ON phone_numbers (assistant_id) WHERE assistant_id IS NOT NULL;
CREATE INDEX phone_numbers_workflow ON phone_numbers (workflow_id) WHERE workflow_id IS NOT NULL;

-- Calls listing: a caller's calls, newest first, with a keyset cursor on
-- (coalesce(created_at, inserted_at), id).
CREATE INDEX calls_listing ON calls ((coalesce(created_at, inserted_at)) DESC, id DESC);

-- Detaching a file everywhere it is attached.
CREATE INDEX knowledge_base_files_file ON knowledge_base_files (file_id);
