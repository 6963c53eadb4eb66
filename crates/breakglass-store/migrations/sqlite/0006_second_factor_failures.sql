-- breakglass store, SQLite, version 6: each user's run of wrong second-factor codes, kept
-- so that its backoff outlives a restart and is shared by every replica. A right code spent
-- deletes the row; a wrong one replaces it, guarded by the count it read.

CREATE TABLE second_factor_failures (
    username        TEXT    PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    locked_until    INTEGER
);
