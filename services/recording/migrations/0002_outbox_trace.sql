-- The outbox row keeps the traceparent of the request that wrote it (rtkit.outbox), so the
-- relayed event continues that trace.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS trace_parent text;
