-- breakglass store, PostgreSQL, version 1: requests (one row per request with its grant),
-- the hash-chained audit log and its head, and the notification outbox.
-- Times are Unix microseconds (BIGINT); documents are JSON text.

CREATE TABLE requests (
    id              TEXT    PRIMARY KEY,
    version         BIGINT  NOT NULL CHECK (version >= 1),
    kind            TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    requester       TEXT    NOT NULL,
    playbook        TEXT    NOT NULL,
    role_name       TEXT    NOT NULL,
    account         TEXT    NOT NULL,
    incident        TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    due_at          BIGINT,
    grant_id        TEXT    UNIQUE,
    grant_start     BIGINT,
    grant_end       BIGINT,
    review_required BOOLEAN NOT NULL,
    doc             TEXT    NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX requests_due ON requests (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX requests_status ON requests (status, created_at);
CREATE INDEX requests_grant_start ON requests (grant_start) WHERE grant_id IS NOT NULL;
CREATE INDEX requests_requester ON requests (requester);
CREATE INDEX requests_incident ON requests (incident);

CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,
    kind       TEXT   NOT NULL,
    request_id TEXT,
    actor      TEXT,
    body       TEXT   NOT NULL,
    prev_hash  TEXT   NOT NULL,
    hash       TEXT   NOT NULL
);
CREATE INDEX audit_log_request ON audit_log (request_id);

-- The audit log is append-only; the broker never updates or deletes a record. (A superuser
-- can drop these triggers: that is what `audit verify` catches.)
CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    audit_seq       BIGINT NOT NULL REFERENCES audit_log (seq),
    created_at      BIGINT NOT NULL,
    kind            TEXT   NOT NULL,
    severity        TEXT   NOT NULL,
    notification    TEXT   NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;
