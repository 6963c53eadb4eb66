-- Notification delivery: which channels already took a message (so a retry never resends
-- to them), the dead-letter state, and a claim (holder + lease end) so that several broker
-- replicas never deliver the same message at the same time.
ALTER TABLE outbox ADD COLUMN delivered_channels TEXT NOT NULL DEFAULT '[]';
ALTER TABLE outbox ADD COLUMN dead_at BIGINT;
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until BIGINT;
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX outbox_dead ON outbox (dead_at) WHERE dead_at IS NOT NULL;

-- Reminders (a grant about to end, an overdue review) are sent once: their key is
-- recorded in the same transaction as their audit record and notification.
CREATE TABLE reminders (
    key     TEXT   PRIMARY KEY,
    sent_at BIGINT NOT NULL
);
