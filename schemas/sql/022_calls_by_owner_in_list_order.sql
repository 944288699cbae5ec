-- switchboard 022: the calls API reads a caller's calls in the order it lists them.
--
-- A caller's calls are those of their assistants, workflows and numbers. The list (newest
-- first, by coalesce(created_at, inserted_at), then id; paged by a cursor) collected every one
-- of them and sorted, so each page cost as much as all of them together. With these indexes
-- each assistant, workflow or number yields its newest calls past the cursor in order, a page
-- at most (src/manage/calls.cpp). They replace the indexes on (…, created_at) of 001 and 004,
-- which nothing else reads.
DROP INDEX calls_assistant;
CREATE INDEX calls_assistant ON calls
    (assistant_id, (coalesce(created_at, inserted_at)) DESC, id DESC)
    WHERE assistant_id IS NOT NULL;
DROP INDEX calls_workflow;
CREATE INDEX calls_workflow ON calls
    (workflow_id, (coalesce(created_at, inserted_at)) DESC, id DESC)
    WHERE workflow_id IS NOT NULL;
DROP INDEX calls_phone_number;
CREATE INDEX calls_phone_number ON calls
    (phone_number_id, (coalesce(created_at, inserted_at)) DESC, id DESC)
    WHERE phone_number_id IS NOT NULL;
