-- Schema `meeting`: webhook configurations and their delivery log / outbox
-- (rtk_meeting.webhooks; reference §3.9, §4.10, §6). Numbered 0100 so that the meeting service's
-- own migrations keep 0001-0099.

-- One row per webhook of an app. `events` holds RealtimeKit wire names ('meeting.started', ...).
CREATE TABLE webhooks (
    app_id      text        NOT NULL,
    id          uuid        NOT NULL,
    name        text        NOT NULL,
    url         text        NOT NULL,
    events      text[]      NOT NULL CHECK (cardinality(events) > 0),
    enabled     boolean     NOT NULL DEFAULT true,
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, id)
);
-- Listing (oldest first) and the dispatcher's fan-out lookup (enabled webhooks of one app).
CREATE INDEX webhooks_app_created_idx ON webhooks (app_id, create_time, id);
CREATE INDEX webhooks_app_enabled_idx ON webhooks (app_id) WHERE enabled;

-- The outbox and log of deliveries: the source of truth for at-least-once delivery. The
-- dispatcher inserts a row per (webhook, event) before it acknowledges the JetStream message; the
-- delivery worker claims due rows (FOR UPDATE SKIP LOCKED, then a lease in next_attempt_time),
-- POSTs `body` and records the outcome. No foreign key to webhooks: the log outlives a deleted
-- webhook (its pending rows become CANCELLED).
CREATE TABLE webhook_deliveries (
    -- uuid5(webhook id, event id): the `rtk-uuid` header, identical on every attempt.
    id                uuid        PRIMARY KEY,
    app_id            text        NOT NULL,
    webhook_id        uuid        NOT NULL,
    event_id          text        NOT NULL,
    event             text        NOT NULL,
    -- The exact bytes POSTed and signed (never re-serialised).
    body              bytea       NOT NULL,
    status            text        NOT NULL DEFAULT 'PENDING'
                                  CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED', 'CANCELLED')),
    attempts          integer     NOT NULL DEFAULT 0,
    -- PENDING: when the next attempt is due (or when the current claimer's lease ends).
    next_attempt_time timestamptz NOT NULL DEFAULT now(),
    -- Set while a worker holds the delivery; outcomes are recorded only by the current claimer.
    claim_id          uuid,
    last_status_code  integer,
    last_error        text,
    event_time        timestamptz NOT NULL,
    create_time       timestamptz NOT NULL DEFAULT now(),
    update_time       timestamptz NOT NULL DEFAULT now(),
    finish_time       timestamptz
);
-- Due work, in order.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_time) WHERE status = 'PENDING';
-- Per-webhook history and retention.
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (app_id, webhook_id, create_time DESC);
CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries (finish_time) WHERE status <> 'PENDING';
