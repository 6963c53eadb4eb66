-- breakglass store, SQLite, version 10: drills. Each drill run, stored whole
-- (its steps, findings and times as JSON) in the same transaction as its drill_completed
-- audit record; listed newest (last stored) first for the console's history and the alert-once rule.
-- Game days: drill incidents opened for real people (requests under a `GAMEDAY-` incident
-- id are accepted only while its game day is open).

CREATE TABLE drill_runs (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT    NOT NULL UNIQUE,
    started_at  INTEGER  NOT NULL,
    finished_at INTEGER  NOT NULL,
    trigger     TEXT    NOT NULL,
    passed      INTEGER  NOT NULL,
    doc         TEXT    NOT NULL
);

CREATE TABLE game_days (
    incident    TEXT    PRIMARY KEY,
    started_at  INTEGER  NOT NULL,
    doc         TEXT    NOT NULL
);
