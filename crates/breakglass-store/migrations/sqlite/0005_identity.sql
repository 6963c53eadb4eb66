-- breakglass store, SQLite, version 5: the user lifecycle.
-- A disabled user's tokens stop working at once (the token query reads the flag); a TOTP
-- authenticator waits in `totp_pending` until a code from it confirms the enrolment; a token
-- records whether its sign-in passed a second factor (tokens minted before this version did
-- not prove one, so they count as password-only and may only enrol).

ALTER TABLE users ADD COLUMN disabled_at INTEGER;
ALTER TABLE users ADD COLUMN totp_pending TEXT;
ALTER TABLE api_tokens ADD COLUMN second_factor INTEGER NOT NULL DEFAULT 0;
-- A token from a local sign-in under `local = "break-glass-only"` may only take break-glass,
-- review it and revoke.
ALTER TABLE api_tokens ADD COLUMN break_glass_only INTEGER NOT NULL DEFAULT 0;

-- One-time invitations: a new local user sets their own password through a link that works
-- once and expires. Only the SHA-256 of the link's secret is kept.
CREATE TABLE invitations (
    sha256     TEXT    PRIMARY KEY,
    username   TEXT    NOT NULL REFERENCES users (username),
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX invitations_user ON invitations (username);
