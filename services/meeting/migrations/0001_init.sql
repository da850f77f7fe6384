-- Schema `meeting`: meetings, presets, participants of every app, plus the record of which apps
-- already got their default presets. Every table carries app_id and every query filters by it.
-- (rtkit.db.migrate runs this with search_path = meeting, public.)

CREATE TABLE meetings (
    app_id                          text        NOT NULL,
    id                              uuid        NOT NULL,
    title                           text,
    status                          text        NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'INACTIVE')),
    record_on_start                 boolean     NOT NULL DEFAULT false,
    live_stream_on_start            boolean     NOT NULL DEFAULT false,
    persist_chat                    boolean     NOT NULL DEFAULT false,
    summarize_on_end                boolean     NOT NULL DEFAULT false,
    transcribe_on_end               boolean     NOT NULL DEFAULT false,
    session_keep_alive_time_in_secs integer     NOT NULL DEFAULT 60,
    -- realtime.meeting.v1.RecordingConfig / AiConfig as proto JSON (secrets included; the API
    -- never returns them). NULL = not configured.
    recording_config                jsonb,
    ai_config                       jsonb,
    create_time                     timestamptz NOT NULL DEFAULT now(),
    update_time                     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, id)
);
-- Listing newest first (keyset-friendly), optionally by status.
CREATE INDEX meetings_app_created_idx ON meetings (app_id, create_time DESC, id DESC);
CREATE INDEX meetings_app_status_created_idx ON meetings (app_id, status, create_time DESC, id DESC);
-- Title search is a case-insensitive substring match within one app; this index serves prefix
-- matches and keeps the per-app scan cheap.
CREATE INDEX meetings_app_title_idx ON meetings (app_id, lower(title) text_pattern_ops);

CREATE TABLE presets (
    app_id      text        NOT NULL,
    id          uuid        NOT NULL,
    name        text        NOT NULL,
    -- realtime.meeting.v1.PresetConfig / PresetPermissions / PresetUi as proto JSON.
    config      jsonb       NOT NULL,
    permissions jsonb       NOT NULL,
    ui          jsonb       NOT NULL,
    is_default  boolean     NOT NULL DEFAULT false,
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, id),
    CONSTRAINT presets_app_name_key UNIQUE (app_id, name)
);
CREATE INDEX presets_app_created_idx ON presets (app_id, create_time DESC, id DESC);

CREATE TABLE participants (
    app_id                text        NOT NULL,
    id                    uuid        NOT NULL,
    meeting_id            uuid        NOT NULL,
    custom_participant_id text        NOT NULL,
    preset_id             uuid        NOT NULL,
    name                  text,
    picture               text,
    create_time           timestamptz NOT NULL DEFAULT now(),
    update_time           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, id),
    FOREIGN KEY (app_id, meeting_id) REFERENCES meetings (app_id, id) ON DELETE CASCADE,
    -- A preset in use cannot be deleted (PRESET_IN_USE).
    FOREIGN KEY (app_id, preset_id) REFERENCES presets (app_id, id) ON DELETE RESTRICT
);
CREATE INDEX participants_meeting_idx ON participants (app_id, meeting_id, create_time, id);
CREATE INDEX participants_preset_idx ON participants (app_id, preset_id);
CREATE INDEX participants_custom_id_idx ON participants (app_id, meeting_id, custom_participant_id);

-- Apps whose default presets were seeded (so a default preset the customer deletes stays deleted).
CREATE TABLE app_seeds (
    app_id    text        PRIMARY KEY,
    seeded_at timestamptz NOT NULL DEFAULT now()
);
