-- breakglass store, PostgreSQL, version 5: the user lifecycle.
-- A disabled user's tokens stop working at once (the token query reads the flag); a TOTP
-- authenticator waits in `totp_pending` until a code from it confirms the enrolment; a token
-- records whether its sign-in passed a second factor (tokens minted before this version did
-- not prove one, so they count as password-only and may only enrol).

ALTER TABLE users ADD COLUMN disabled_at BIGINT;
ALTER TABLE users ADD COLUMN totp_pending TEXT;
ALTER TABLE api_tokens ADD COLUMN second_factor BOOLEAN NOT NULL DEFAULT FALSE;
-- A token from a local sign-in under `local = "break-glass-only"` may only take break-glass,
-- review it and revoke.
ALTER TABLE api_tokens ADD COLUMN break_glass_only BOOLEAN NOT NULL DEFAULT FALSE;

-- One-time invitations: a new local user sets their own password through a link that works
-- once and expires. Only the SHA-256 of the link's secret is kept.
CREATE TABLE invitations (
    sha256     TEXT    PRIMARY KEY,
    username   TEXT    NOT NULL REFERENCES users (username),
    created_by TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    used_at    BIGINT
);
CREATE INDEX invitations_user ON invitations (username);
