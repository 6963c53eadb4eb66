-- breakglass store, PostgreSQL, version 9: chat. A chat account (a Slack user) linked to a broker
-- user, made only when the user confirms it signed in to the console; the links waiting for
-- that confirmation, kept as the SHA-256 of their one-time code; the signed deliveries seen
-- (a replayed one is refused); and the messages posted about each request, updated in place.

CREATE TABLE chat_links (
    platform  TEXT    NOT NULL,
    team      TEXT    NOT NULL,
    chat_user TEXT    NOT NULL,
    username  TEXT    NOT NULL REFERENCES users (username),
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (platform, team, chat_user)
);
CREATE UNIQUE INDEX chat_links_user ON chat_links (platform, username);

CREATE TABLE chat_link_codes (
    sha256     TEXT    PRIMARY KEY,
    platform   TEXT    NOT NULL,
    team       TEXT    NOT NULL,
    chat_user  TEXT    NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE chat_deliveries (
    key        TEXT    PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX chat_deliveries_expiry ON chat_deliveries (expires_at);

CREATE TABLE chat_messages (
    request_id TEXT    NOT NULL,
    channel    TEXT    NOT NULL,
    conversation TEXT  NOT NULL,
    ts         TEXT    NOT NULL,
    PRIMARY KEY (request_id, channel)
);
