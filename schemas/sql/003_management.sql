-- switchboard 003: the management API's mirror of Vapi objects (owner = the caller's JWT sub)
-- and the phone-number routing that answers assistant-request from memory.
-- Each row keeps the Vapi object as Vapi returned it (`vapi`); a few columns are lifted out for
-- filters and routing.

CREATE TABLE assistants (
    id          text PRIMARY KEY,                 -- Vapi assistant id
    owner       text NOT NULL,                    -- JWT sub of the creator
    name        text,
    vapi        jsonb NOT NULL,                   -- the Assistant as returned by Vapi
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assistants_owner ON assistants (owner, created_at);

CREATE TABLE workflows (
    id          text PRIMARY KEY,
    owner       text NOT NULL,
    name        text,
    vapi        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workflows_owner ON workflows (owner, created_at);

-- Where an inbound call on each number goes. Rows may also be written by operators directly
-- (owner NULL); every change is announced on the channel `switchboard_routing` so each
-- service process refreshes its in-memory routing table.
CREATE TABLE phone_numbers (
    id           text PRIMARY KEY,                -- Vapi phone number id
    owner        text,
    number       text,                            -- E.164, e.g. +14155550100 (NULL for SIP-only)
    provider     text,                            -- vapi, twilio, vonage, telnyx, byo-phone-number
    name         text,
    assistant_id text,                            -- at most one of the three routes is set
    workflow_id  text,
    squad_id     text,
    vapi         jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT phone_numbers_one_route CHECK (num_nonnulls(assistant_id, workflow_id, squad_id) <= 1)
);
CREATE INDEX phone_numbers_owner ON phone_numbers (owner, created_at);
CREATE INDEX phone_numbers_number ON phone_numbers (number);

CREATE FUNCTION switchboard_notify_routing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('switchboard_routing', coalesce(NEW.id, OLD.id));
    RETURN NULL;
END $$;
CREATE TRIGGER phone_numbers_notify AFTER INSERT OR UPDATE OR DELETE ON phone_numbers
    FOR EACH ROW EXECUTE FUNCTION switchboard_notify_routing();

CREATE TABLE files (
    id          text PRIMARY KEY,
    owner       text NOT NULL,
    name        text,
    bytes       bigint,
    mimetype    text,
    purpose     text,
    vapi        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX files_owner ON files (owner, created_at);

CREATE TABLE knowledge_bases (
    id          text PRIMARY KEY,
    owner       text NOT NULL,
    name        text,
    description text,
    vapi        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX knowledge_bases_owner ON knowledge_bases (owner, created_at);

CREATE TABLE knowledge_base_files (
    knowledge_base_id text NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    file_id           text NOT NULL,
    owner             text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (knowledge_base_id, file_id)
);
