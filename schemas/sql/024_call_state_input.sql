-- switchboard 024: the input of an application of the derived call state, one row per call.
--
-- The calls upsert (src/store/batch_writer.cpp) took its input as 36 parallel arrays, one per
-- column, unnested together: Postgres materialized each array in a tuple store of its own and
-- read the fact ranks from text (array_in) for every call. It now takes one array of this type,
-- sent in binary: one tuple store, the ranks as bigint[] already. The fields are the upsert's
-- columns in its order; the facts (after the conversation) follow the fact table of
-- src/ingest/event.cpp, each sent as text and cast to its column's type in the statement.
-- The type never changes: replicas of a build still running during a rolling deploy send its
-- fields. A build with other fields (a fact added) uses a type of another name, created by its
-- own migration (call_state_input_2, ...). A build checks its type's fields when it connects and
-- refuses, with a clear message, a schema where they differ.
CREATE TYPE call_state_input AS (
    id                   text,
    status               text,
    status_rank          smallint,
    first_us             bigint,
    last_us              bigint,
    fact_ranks           bigint[],
    conversation_rank    bigint,
    conversation_head    uuid,
    type                 text,
    org_id               text,
    assistant_id         text,
    workflow_id          text,
    squad_id             text,
    phone_number_id      text,
    phone_number         text,
    customer_number      text,
    phone_call_provider  text,
    phone_call_transport text,
    transport_provider   text,
    ended_reason         text,
    ended_message        text,
    cost                 text,
    cost_breakdown       text,
    costs                text,
    summary              text,
    structured_data      text,
    success_evaluation   text,
    recording_url        text,
    stereo_recording_url text,
    video_recording_url  text,
    log_url              text,
    transcript           text,
    destination          text,
    created_at           text,
    started_at           text,
    ended_at             text
);
