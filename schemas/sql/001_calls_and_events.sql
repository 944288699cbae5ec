-- switchboard 001: the call state and the log of every accepted message.
-- Every key includes the call id, so the tables can be distributed by call id (Citus).

-- One row per call (or per chat/session/campaign contact for messages without a call),
-- merged from every message received about it. Status only moves forward (status_rank).
CREATE TABLE calls (
    id              text PRIMARY KEY,              -- Vapi call id (message.call.id)
    org_id          text,
    type            text,                          -- inboundPhoneCall, outboundPhoneCall, webCall, …
    status          text,                          -- latest status in lifecycle order
    status_rank     smallint NOT NULL DEFAULT 0,   -- order of status: it never decreases
    ended_reason    text,
    assistant_id    text,
    phone_number_id text,
    customer_number text,
    cost            numeric,                       -- USD, the largest reported
    created_at      timestamptz,                   -- call.createdAt
    started_at      timestamptz,
    ended_at        timestamptz,
    first_event_at  timestamptz NOT NULL,          -- when switchboard received its first message
    last_event_at   timestamptz NOT NULL,          -- … and its latest
    inserted_at     timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_created_at ON calls (created_at);
CREATE INDEX calls_assistant ON calls (assistant_id, created_at);

-- One row per distinct message. Partitioned by the sender's time (sent_at), so a late
-- duplicate lands in the same partition as the original and is recognised there; old months
-- can be detached cheaply. The dedupe key never hashes the whole body (see ingest/parse.cpp).
CREATE TABLE call_events (
    call_id         text NOT NULL,                 -- '' when the message names no call
    sent_at         timestamptz NOT NULL,          -- message.timestamp; 1970-01-01 when absent
    dedupe_key      text NOT NULL,                 -- type|timestamp|discriminating fields
    type            text NOT NULL,                 -- message.type as received
    vapi_timestamp  bigint,                        -- message.timestamp (ms) as received
    received_at     timestamptz NOT NULL,
    org_id          text,
    message         jsonb NOT NULL,                -- the message object as received
    PRIMARY KEY (call_id, sent_at, dedupe_key)
) PARTITION BY RANGE (sent_at);

CREATE TABLE call_events_default PARTITION OF call_events DEFAULT;

-- Creates the monthly partitions around now. Safe to call concurrently and repeatedly; the
-- service calls it at start-up and every few hours.
CREATE FUNCTION switchboard_ensure_event_partitions(months_back int DEFAULT 1, months_ahead int DEFAULT 3)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    first_month date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    m date;
    part text;
BEGIN
    PERFORM pg_advisory_xact_lock(7310594658609523);
    FOR i IN -months_back .. months_ahead LOOP
        m := (first_month + make_interval(months => i))::date;
        part := format('call_events_%s', to_char(m, 'YYYY_MM'));
        IF to_regclass(part) IS NULL THEN
            BEGIN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF call_events FOR VALUES FROM (%L) TO (%L)', part,
                    (m::timestamp AT TIME ZONE 'UTC'),
                    ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
            EXCEPTION WHEN others THEN
                -- e.g. the default partition already holds rows of that month
                RAISE WARNING 'switchboard: cannot create partition %: %', part, SQLERRM;
            END;
        END IF;
    END LOOP;
END $$;

SELECT switchboard_ensure_event_partitions();

CREATE INDEX call_events_received_at ON call_events (received_at);
CREATE INDEX call_events_type ON call_events (type, sent_at);
