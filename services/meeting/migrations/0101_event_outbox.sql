-- Schema `meeting`: the transactional outbox of the service's events (rtkit.outbox). Each change
-- writes its events here in its own transaction; the relay publishes them to JetStream in commit
-- order and deletes them, so a committed change's event survives NATS being away or the service
-- dying right after the commit.
CREATE TABLE outbox (
    id           bigserial   PRIMARY KEY,
    event_id     text        NOT NULL,
    subject      text        NOT NULL,
    payload      bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    trace_parent text
);
