-- breakglass store, PostgreSQL, version 11: what the broker read from CloudTrail.
-- activity_events: the events kept (linked to a grant, or part of an unbrokered-use finding),
-- one row per eventID (duplicate deliveries are dropped on it), the reduced event as JSON.
-- activity_keys: access keys of sessions chained from a grant's. activity_findings: unbrokered
-- use, one row per finding. activity_cursors: where each source (an S3 account/region
-- partition, a log group) stands. A batch is written in one transaction with the audit
-- records of its findings.

CREATE TABLE activity_events (
    event_id    TEXT    PRIMARY KEY,
    request_id  TEXT,
    finding_id  TEXT,
    at          BIGINT  NOT NULL,
    doc         TEXT    NOT NULL
);
CREATE INDEX activity_events_request ON activity_events (request_id, at);
CREATE INDEX activity_events_at ON activity_events (at);

CREATE TABLE activity_keys (
    access_key_id TEXT  PRIMARY KEY,
    request_id    TEXT  NOT NULL
);

CREATE TABLE activity_findings (
    id          TEXT    PRIMARY KEY,
    key         TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    first_seen  BIGINT  NOT NULL,
    last_seen   BIGINT  NOT NULL,
    doc         TEXT    NOT NULL
);
CREATE INDEX activity_findings_key ON activity_findings (key, last_seen);
CREATE INDEX activity_findings_first ON activity_findings (first_seen);

CREATE TABLE activity_cursors (
    source      TEXT    PRIMARY KEY,
    position    TEXT    NOT NULL
);
