//! Local accounts as the store keeps them: users, personal API tokens, and the writes
//! authentication makes. The store never sees a secret: passwords arrive as argon2id PHC
//! strings, TOTP seeds as AEAD ciphertexts and API tokens as their SHA-256. Deciding whether
//! a password or a code is right is the authenticating adapter's job; the store only keeps
//! the rows and makes the one-time checks atomic (a TOTP step is accepted at most once per
//! user). [`crate::ports::AuthStore`] is the port.

use time::OffsetDateTime;

/// A local user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The username (a responder's username in the config, or an administrator).
    pub username: String,
    /// The argon2id hash in PHC string format.
    pub password_hash: String,
    /// May manage users.
    pub admin: bool,
    /// The TOTP seed, encrypted by the server; `None` until enrolled.
    pub totp_seed: Option<String>,
    /// The last TOTP time step accepted (codes at or before it are refused as replays).
    pub totp_last_step: Option<i64>,
    /// A TOTP seed (encrypted) waiting for a code from it to confirm the enrolment.
    pub totp_pending: Option<String>,
    /// When the account was created.
    pub created_at: OffsetDateTime,
    /// When an administrator disabled the account (`None`: enabled). A disabled user cannot
    /// sign in and none of their tokens authenticates.
    pub disabled_at: Option<OffsetDateTime>,
}

/// A personal API token (its SHA-256, never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The public id (`tok-…`), shown in listings and used to revoke.
    pub id: String,
    /// Whose token it is.
    pub username: String,
    /// A label the user chose.
    pub name: String,
    /// Hex SHA-256 of the token.
    pub sha256: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
    /// Whether the sign-in that minted it (or the token it was made from) passed a second
    /// factor. A token without one may only enrol an authenticator.
    pub second_factor: bool,
}

/// An API token with whether its user is an administrator: what authenticating a request
/// needs, read in one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHolder {
    /// The token.
    pub token: TokenRecord,
    /// Its user may manage users.
    pub admin: bool,
    /// Its user's TOTP seed, encrypted by the server; `None` until enrolled.
    pub totp_seed: Option<String>,
    /// Its user's last TOTP time step accepted.
    pub totp_last_step: Option<i64>,
    /// Its user is disabled.
    pub disabled: bool,
}

/// A one-time invitation to set a new account's password (its SHA-256, never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRecord {
    /// Hex SHA-256 of the invitation's secret.
    pub sha256: String,
    /// The account it sets up.
    pub username: String,
    /// The administrator who invited them.
    pub created_by: String,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
    /// When it was used (it works once).
    pub used_at: Option<OffsetDateTime>,
}

/// One change to the authentication tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthWrite {
    /// Creates a user; fails with `Duplicate` if the name is taken.
    InsertUser {
        username: String,
        password_hash: String,
        admin: bool,
        created_at: OffsetDateTime,
    },
    /// Replaces a user's password hash.
    SetPassword {
        username: String,
        password_hash: String,
    },
    /// Stores (or clears) a user's encrypted TOTP seed, forgets the last used step and any
    /// pending enrolment.
    SetTotp {
        username: String,
        seed: Option<String>,
    },
    /// Stores (or clears) the encrypted seed of an enrolment waiting for confirmation.
    SetPendingTotp {
        username: String,
        seed: Option<String>,
    },
    /// Makes the pending seed `seed` the user's authenticator, with time step `step` (the
    /// confirming code's) used; fails with `InvalidCommit` if `seed` is no longer pending.
    ConfirmTotp {
        username: String,
        seed: String,
        step: i64,
    },
    /// Disables (`at` set) or enables (`None`) a user.
    SetDisabled {
        username: String,
        at: Option<OffsetDateTime>,
    },
    /// Revokes every unrevoked token of `username` except `except`; fails with
    /// `InvalidCommit` if there is no such user.
    RevokeTokens {
        username: String,
        except: Option<String>,
        at: OffsetDateTime,
    },
    /// Marks TOTP time step `step` used; fails with `StepUpUsed` if that step or a later one
    /// was already used (a replayed code).
    UseTotpStep { username: String, step: i64 },
    /// Stores a new token.
    InsertToken(TokenRecord),
    /// Stores a new invitation.
    InsertInvitation(InvitationRecord),
    /// Marks the invitation `sha256` of `username` used at `at`; fails with `InvalidCommit`
    /// if it was used already or has expired by `at` (an invitation works once).
    UseInvitation {
        sha256: String,
        username: String,
        at: OffsetDateTime,
    },
    /// Revokes a token of `username`; fails with `InvalidCommit` if there is no such
    /// unrevoked token.
    RevokeToken {
        id: String,
        username: String,
        at: OffsetDateTime,
    },
}
