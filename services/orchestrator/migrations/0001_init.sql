-- Session orchestrator: sessions, peers, peer events, chat, polls, and the event outbox.

CREATE TABLE sessions (
    id                          uuid PRIMARY KEY,
    app_id                      text NOT NULL,
    meeting_id                  text NOT NULL,
    meeting_title               text NOT NULL DEFAULT '',
    status                      text NOT NULL CHECK (status IN ('LIVE', 'ENDED')),
    keep_alive_seconds          integer NOT NULL DEFAULT 60,
    started_at                  timestamptz NOT NULL DEFAULT now(),
    ended_at                    timestamptz,
    end_reason                  text,
    -- when the last present peer went away; the session ends keep_alive_seconds later
    empty_since                 timestamptz,
    max_concurrent_participants integer NOT NULL DEFAULT 0,
    -- participant-minutes of peers that already left (present peers are added on read)
    minutes_closed              double precision NOT NULL DEFAULT 0,
    chat_seq                    bigint NOT NULL DEFAULT 0,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);
-- One live session per meeting.
CREATE UNIQUE INDEX sessions_one_live_per_meeting ON sessions (app_id, meeting_id) WHERE status = 'LIVE';
CREATE INDEX sessions_app_created ON sessions (app_id, created_at DESC);
CREATE INDEX sessions_app_meeting ON sessions (app_id, meeting_id, created_at DESC);
CREATE INDEX sessions_live_empty ON sessions (empty_since) WHERE status = 'LIVE';

CREATE TABLE peers (
    id                    uuid PRIMARY KEY,
    session_id            uuid NOT NULL REFERENCES sessions (id),
    app_id                text NOT NULL,
    meeting_id            text NOT NULL,
    participant_id        text NOT NULL,
    custom_participant_id text NOT NULL DEFAULT '',
    display_name          text NOT NULL DEFAULT '',
    picture               text NOT NULL DEFAULT '',
    preset_id             text NOT NULL,
    preset_name           text NOT NULL DEFAULT '',
    -- snapshot of the preset's permissions at join (realtime.meeting.v1.PresetPermissions)
    permissions           bytea NOT NULL,
    view_type             integer NOT NULL DEFAULT 0,
    hidden                boolean NOT NULL DEFAULT false,
    recorder              boolean NOT NULL DEFAULT false,
    state                 text NOT NULL CHECK (state IN ('WAITLISTED', 'JOINED', 'DISCONNECTED', 'LEFT')),
    leave_state           text,
    waiting_room_type     integer NOT NULL DEFAULT 0,
    stage_status          text NOT NULL DEFAULT 'OFF_STAGE',
    stage_changed_at      timestamptz,
    audio_enabled         boolean NOT NULL DEFAULT false,
    video_enabled         boolean NOT NULL DEFAULT false,
    screen_share_enabled  boolean NOT NULL DEFAULT false,
    audio_locked          boolean NOT NULL DEFAULT false,
    video_locked          boolean NOT NULL DEFAULT false,
    screenshare_locked    boolean NOT NULL DEFAULT false,
    is_pinned             boolean NOT NULL DEFAULT false,
    resume_token_hash     text NOT NULL,
    token_id              text NOT NULL DEFAULT '',
    socket_session_id     text NOT NULL DEFAULT '',
    client                bytea,
    waitlisted_at         timestamptz,
    joined_at             timestamptz,
    left_at               timestamptz,
    disconnected_at       timestamptz,
    last_seen_at          timestamptz NOT NULL DEFAULT now(),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX peers_session_present ON peers (session_id) WHERE state <> 'LEFT';
CREATE INDEX peers_session_joined ON peers (session_id, joined_at);
CREATE INDEX peers_heartbeat ON peers (last_seen_at) WHERE state IN ('WAITLISTED', 'JOINED');
CREATE INDEX peers_disconnected ON peers (disconnected_at) WHERE state = 'DISCONNECTED';
CREATE INDEX peers_participant ON peers (app_id, participant_id);

CREATE TABLE peer_events (
    id                uuid PRIMARY KEY,
    peer_id           uuid NOT NULL REFERENCES peers (id),
    session_id        uuid NOT NULL,
    participant_id    text NOT NULL,
    event_name        text NOT NULL,
    detail            text NOT NULL DEFAULT '',
    socket_session_id text NOT NULL DEFAULT '',
    minutes_consumed  double precision NOT NULL DEFAULT 0,
    view_type         integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX peer_events_peer ON peer_events (peer_id, created_at);

CREATE TABLE chat_messages (
    id              uuid PRIMARY KEY,
    session_id      uuid NOT NULL REFERENCES sessions (id),
    seq             bigint NOT NULL,
    type            integer NOT NULL,
    user_id         text NOT NULL,
    peer_id         text NOT NULL,
    display_name    text NOT NULL DEFAULT '',
    message         text NOT NULL DEFAULT '',
    target_user_ids text[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (session_id, seq)
);

CREATE TABLE polls (
    id                 uuid PRIMARY KEY,
    session_id         uuid NOT NULL REFERENCES sessions (id),
    question           text NOT NULL,
    options            text[] NOT NULL,
    anonymous          boolean NOT NULL DEFAULT false,
    hide_votes         boolean NOT NULL DEFAULT false,
    created_by         text NOT NULL DEFAULT '',
    created_by_user_id text NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX polls_session ON polls (session_id, created_at);

CREATE TABLE poll_votes (
    poll_id      uuid NOT NULL REFERENCES polls (id),
    user_id      text NOT NULL,
    name         text NOT NULL DEFAULT '',
    option_index integer NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (poll_id, user_id)
);

-- Transactional outbox (rtkit.outbox): events committed with the change, relayed to JetStream.
CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    event_id   text NOT NULL,
    subject    text NOT NULL,
    payload    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
