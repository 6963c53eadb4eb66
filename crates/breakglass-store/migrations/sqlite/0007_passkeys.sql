-- breakglass store, SQLite, version 7: passkeys (WebAuthn credentials) and the ceremonies
-- waiting for a browser's answer. A passkey row holds public key material only; a ceremony
-- is deleted by the write that spends it, so it is answered at most once.

CREATE TABLE passkeys (
    id           TEXT    PRIMARY KEY,
    username     TEXT    NOT NULL REFERENCES users (username),
    name         TEXT    NOT NULL,
    credential   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX passkeys_user ON passkeys (username);

CREATE TABLE webauthn_ceremonies (
    id         TEXT    PRIMARY KEY,
    username   TEXT    NOT NULL,
    purpose    TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_at);
