-- breakglass store, PostgreSQL, version 3: local users and personal API tokens.
-- Passwords are argon2id PHC strings; TOTP seeds are AEAD ciphertexts (the key is never in
-- the database); tokens are stored as the SHA-256 of the token, never the token itself.

CREATE TABLE users (
    username       TEXT    PRIMARY KEY,
    password_hash  TEXT    NOT NULL,
    admin          BOOLEAN NOT NULL,
    totp_seed      TEXT,
    totp_last_step BIGINT,
    created_at     BIGINT  NOT NULL
);

CREATE TABLE api_tokens (
    id         TEXT    PRIMARY KEY,
    username   TEXT    NOT NULL REFERENCES users (username),
    name       TEXT    NOT NULL,
    sha256     TEXT    NOT NULL UNIQUE,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (username);
