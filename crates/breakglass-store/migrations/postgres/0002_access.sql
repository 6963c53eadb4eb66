-- breakglass store, PostgreSQL, version 2: revocation entries (which sessions each role's
-- `BreakglassRevocations` policy denies, kept until those sessions have ended) and job
-- leases (which broker replica runs each periodic job). Times are Unix microseconds.

CREATE TABLE revocations (
    role_arn    TEXT   NOT NULL,
    grant_id    TEXT   NOT NULL,
    role_id     TEXT   NOT NULL,
    session_end BIGINT NOT NULL,
    PRIMARY KEY (role_arn, grant_id)
);

CREATE TABLE job_leases (
    name   TEXT   PRIMARY KEY,
    holder TEXT   NOT NULL,
    until  BIGINT NOT NULL
);
