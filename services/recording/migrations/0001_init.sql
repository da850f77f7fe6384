-- Recording service (schema `recording`): recordings, the recorder processes that run them,
-- and the transactional event outbox.

CREATE TABLE recorders (
    id           uuid PRIMARY KEY,
    host         text NOT NULL DEFAULT '',
    capacity     integer NOT NULL,
    active       integer NOT NULL DEFAULT 0,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE recordings (
    id               uuid PRIMARY KEY,
    app_id           text NOT NULL,
    meeting_id       text NOT NULL,
    session_id       text NOT NULL DEFAULT '',
    meeting_title    text NOT NULL DEFAULT '',
    type             smallint NOT NULL,             -- realtime.recording.v1.RecordingType
    status           smallint NOT NULL,             -- realtime.recording.v1.RecordingStatus
    recorder_id      uuid,                          -- recorders.id (no FK: recorders come and go)
    options          bytea NOT NULL,                -- RecordingOptions
    layers           bytea,                         -- StartTrackRecordingRequest (layers, user_ids)
    storage_config   bytea,                         -- realtime.meeting.v1.StorageConfig, secrets included
    session          bytea,                         -- realtime.session.v1.Session when started
    start_reason     bytea NOT NULL,                -- StartReason
    stop_reason      bytea,                         -- StopReason
    output_file_name text NOT NULL DEFAULT '',
    files            jsonb NOT NULL DEFAULT '[]',
    file_size        bigint,
    duration_seconds integer,
    error_message    text NOT NULL DEFAULT '',
    participant_id   text NOT NULL DEFAULT '',
    peer_id          text NOT NULL DEFAULT '',
    invoked_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    stopped_at       timestamptz,
    uploaded_at      timestamptz,
    expires_at       timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX recordings_app_invoked ON recordings (app_id, invoked_at DESC);
CREATE INDEX recordings_meeting ON recordings (app_id, meeting_id, invoked_at DESC);
CREATE INDEX recordings_running ON recordings (recorder_id) WHERE status IN (1, 2, 3, 4);

CREATE TABLE IF NOT EXISTS outbox (
    id         bigserial PRIMARY KEY,
    event_id   text NOT NULL,
    subject    text NOT NULL,
    payload    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
