-- switchboard 011: records of calls to derive, by generation.
--
-- The derived state is applied on a connection of its own (a writer's derive thread), beside
-- the batches, instead of between two of them. An application covers what the batches
-- committed before it began; a batch committing while it runs may state more about the same
-- call, and the record that batch relies on must outlive the application. So each window of
-- `--derive-delay-ms` is a generation: batches record a call once per generation, and an
-- application deletes only the records of the generations it covers (below each call's limit:
-- the generation of a batch of that call still in flight when it began, else all until then).
-- A writer taking over an owner's records takes all generations.
ALTER TABLE call_derive_pending ADD COLUMN generation bigint NOT NULL DEFAULT 0;
ALTER TABLE call_derive_pending DROP CONSTRAINT call_derive_pending_pkey;
ALTER TABLE call_derive_pending ADD PRIMARY KEY (owner, call_id, generation);
