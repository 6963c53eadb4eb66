//! Local accounts as the store keeps them: users, personal API tokens, and the writes
//! authentication makes. The store never sees a secret: passwords arrive as argon2id PHC
//! strings, TOTP seeds as AEAD ciphertexts and API tokens as their SHA-256. Deciding whether
//! a password or a code is right is the authenticating adapter's job; the store only keeps
//! the rows and makes the one-time checks atomic (a TOTP step is accepted at most once per
//! user). [`crate::ports::AuthStore`] is the port.
//!
//! Wrong second-factor codes are kept too ([`SecondFactorFailures`]), so their backoff
//! outlives a restart and is shared by every replica; the schedule is decided here, by
//! [`SecondFactorFailures::after_wrong_code`].

use time::{Duration, OffsetDateTime};

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
    /// Whether the user has at least one passkey (read with the user).
    pub passkeys: bool,
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
    /// Whether it came from a local sign-in under `local = "break-glass-only"`: it may only
    /// take break-glass, review a use and revoke.
    pub break_glass_only: bool,
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
    /// Its user has at least one passkey.
    pub passkeys: bool,
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

/// A passkey (a WebAuthn credential) of a user: public key material only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    /// The credential id (base64url), unique across users.
    pub id: String,
    /// Whose.
    pub username: String,
    /// The label the user gave it.
    pub name: String,
    /// The credential as the WebAuthn library serialises it (public key, signature counter).
    pub credential: String,
    /// When it was enrolled.
    pub created_at: OffsetDateTime,
    /// When it last answered a ceremony.
    pub last_used_at: Option<OffsetDateTime>,
}

/// A WebAuthn ceremony waiting for the browser's answer: what the server must remember
/// between sending a challenge and checking the reply. It is answered at most once (the
/// write that spends it deletes it) and only for the purpose it was started for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CeremonyRecord {
    /// A random id the client sends back with its answer.
    pub id: String,
    /// Whose ceremony it is.
    pub username: String,
    /// What the answer will authorise (`register passkey`, `sign in`, `approve r-…`).
    pub purpose: String,
    /// The library's ceremony state (the challenge, the credentials allowed).
    pub state: String,
    /// When it stops being answerable.
    pub expires_at: OffsetDateTime,
}

/// Wrong codes a user may enter in a row before each further one locks their second factor.
pub const SECOND_FACTOR_FREE_FAILURES: u32 = 5;
/// The first lockout; each further wrong code doubles it, up to [`SECOND_FACTOR_MAX_LOCK`].
pub const SECOND_FACTOR_FIRST_LOCK: Duration = Duration::seconds(30);
/// The longest lockout. Short enough that a guesser who keeps it locked only slows the
/// rightful user down; each lockout from the [`LOCKOUTS_ALERT`]th in a row alerts the
/// security team.
pub const SECOND_FACTOR_MAX_LOCK: Duration = Duration::minutes(15);
/// A run of wrong codes with none for this long is forgotten.
pub const SECOND_FACTOR_FORGET: Duration = Duration::hours(24);
/// Lockouts in a row (no right code between them) from which each alerts the security team.
pub const LOCKOUTS_ALERT: u32 = 3;

/// A user's run of wrong second-factor codes: the wrong codes since the last right one, and
/// until when the second factor is locked. A right code spent (a step-up, a sign-in) ends
/// the run; so does [`SECOND_FACTOR_FORGET`] without a wrong code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondFactorFailures {
    /// Whose.
    pub username: String,
    /// Wrong codes in a row.
    pub failures: u32,
    /// When the latest was entered.
    pub last_failure_at: OffsetDateTime,
    /// Until when codes are refused unchecked, if the latest wrong code locked them.
    pub locked_until: Option<OffsetDateTime>,
}

/// A lockout that a wrong code starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    /// Until when.
    pub until: OffsetDateTime,
    /// Lockouts in a row, this one included.
    pub lockouts: u32,
}

impl SecondFactorFailures {
    /// Until when codes are refused at `now`, if they are.
    pub fn locked_at(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.locked_until.filter(|until| *until > now)
    }

    /// Lockouts in a row: every wrong code from the [`SECOND_FACTOR_FREE_FAILURES`]th on
    /// locks.
    pub fn lockouts(&self) -> u32 {
        self.failures
            .saturating_sub(SECOND_FACTOR_FREE_FAILURES.saturating_sub(1))
    }

    /// The run of `username` after a wrong code at `now`, following `previous` (the stored
    /// run, if any), and the lockout it starts: none for the first few, then 30 s, doubling
    /// with each further wrong code up to [`SECOND_FACTOR_MAX_LOCK`].
    pub fn after_wrong_code(
        previous: Option<&Self>,
        username: &str,
        now: OffsetDateTime,
    ) -> (Self, Option<Lockout>) {
        let before = previous
            .filter(|p| p.last_failure_at + SECOND_FACTOR_FORGET > now)
            .map_or(0, |p| p.failures);
        let mut next = Self {
            username: username.to_owned(),
            failures: before.saturating_add(1),
            last_failure_at: now,
            locked_until: None,
        };
        let lockouts = next.lockouts();
        let Some(doublings) = lockouts.checked_sub(1) else {
            return (next, None);
        };
        // Thirty seconds doubled 5 times is past the cap already.
        let lock = SECOND_FACTOR_FIRST_LOCK
            .checked_mul(1_i32 << doublings.min(10))
            .map_or(SECOND_FACTOR_MAX_LOCK, |d| d.min(SECOND_FACTOR_MAX_LOCK));
        let until = now + lock;
        next.locked_until = Some(until);
        (next, Some(Lockout { until, lockouts }))
    }
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
    /// Revokes every unrevoked token of `username` except `except`, and removes their chat
    /// links (a link is a session too: a password change, a new authenticator, a disabling
    /// or an administrator's revocation ends it; the change's own record says so); fails
    /// with `InvalidCommit` if there is no such user.
    RevokeTokens {
        username: String,
        except: Option<String>,
        at: OffsetDateTime,
    },
    /// Marks TOTP time step `step` used; fails with `StepUpUsed` if that step or a later one
    /// was already used (a replayed code). A right code spent ends the user's run of wrong
    /// ones ([`SecondFactorFailures`]).
    UseTotpStep { username: String, step: i64 },
    /// Stores a user's run of wrong second-factor codes after another one, if the stored run
    /// still has `previous` failures (0: none is stored); fails with `InvalidCommit` if
    /// another wrong code was recorded since (a race lost to another replica).
    RecordSecondFactorFailure {
        run: SecondFactorFailures,
        previous: u32,
    },
    /// Stores a new token.
    InsertToken(TokenRecord),
    /// Stores a WebAuthn ceremony (and forgets those expired by `now`).
    InsertCeremony {
        ceremony: CeremonyRecord,
        now: OffsetDateTime,
    },
    /// Spends ceremony `ceremony` of `username`, started for `purpose`; fails with
    /// `StepUpUsed` if it was answered already, has expired by `at`, or is not theirs or for
    /// that purpose.
    TakeCeremony {
        ceremony: String,
        username: String,
        purpose: String,
        at: OffsetDateTime,
    },
    /// Stores a new passkey; fails with `Duplicate` if the credential is enrolled already.
    InsertPasskey(PasskeyRecord),
    /// Replaces a passkey's stored credential after it answered a ceremony at `at` (its
    /// signature counter advanced); fails with `InvalidCommit` if it was removed meanwhile.
    UsePasskey {
        id: String,
        username: String,
        credential: String,
        at: OffsetDateTime,
    },
    /// Removes one passkey of `username` (`Some`) or all of them (`None`); removing a named
    /// one that is not theirs fails with `InvalidCommit`.
    DeletePasskeys {
        username: String,
        id: Option<String>,
    },
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
    /// Stores a chat link waiting for its broker user's confirmation (and forgets those
    /// expired by `now`).
    InsertChatLinkCode {
        code: ChatLinkCode,
        now: OffsetDateTime,
    },
    /// Links the chat account the unexpired code `sha256` was made for to `username`,
    /// consuming the code (it works once); fails with `InvalidCommit` if the code is
    /// unknown, used or expired by `at`, if `username` is not an enabled user, or if that
    /// chat account or `username` is linked already (a link is never silently replaced:
    /// it is removed first, by its user).
    LinkChat {
        sha256: String,
        username: String,
        at: OffsetDateTime,
    },
    /// Removes `username`'s link on `platform`; fails with `InvalidCommit` if there is none.
    UnlinkChat { platform: String, username: String },
}

/// A chat account linked to a broker user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLinkRecord {
    /// The platform (`slack`).
    pub platform: String,
    /// The workspace.
    pub team: String,
    /// The chat user id.
    pub chat_user: String,
    /// The broker user.
    pub username: String,
    /// When the link was confirmed.
    pub linked_at: OffsetDateTime,
    /// Whether the broker user is enabled (a disabled user's link acts as nobody).
    pub enabled: bool,
}

/// A link waiting for its broker user's confirmation: made when a chat user asks to link,
/// kept as the SHA-256 of the one-time code the link carries, until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLinkCode {
    /// The SHA-256 (hex) of the code.
    pub sha256: String,
    /// The platform.
    pub platform: String,
    /// The workspace.
    pub team: String,
    /// The chat user who asked.
    pub chat_user: String,
    /// Until when the code may be confirmed.
    pub expires_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2024-01-01 0:00 UTC);

    #[test]
    fn wrong_codes_lock_after_the_free_ones_doubling_up_to_the_cap() {
        let mut run: Option<SecondFactorFailures> = None;
        let mut locks = Vec::new();
        for _ in 0..12 {
            let (next, lockout) = SecondFactorFailures::after_wrong_code(run.as_ref(), "alice", T0);
            assert_eq!(next.locked_until, lockout.map(|l| l.until));
            locks.push(lockout.map(|l| ((l.until - T0).whole_seconds(), l.lockouts)));
            run = Some(next);
        }
        assert_eq!(
            locks,
            [
                None,
                None,
                None,
                None,
                Some((30, 1)),
                Some((60, 2)),
                Some((120, 3)),
                Some((240, 4)),
                Some((480, 5)),
                Some((900, 6)),
                Some((900, 7)),
                Some((900, 8)),
            ]
        );
        let run = run.unwrap();
        assert_eq!(run.locked_at(T0), Some(T0 + SECOND_FACTOR_MAX_LOCK));
        assert_eq!(run.locked_at(T0 + SECOND_FACTOR_MAX_LOCK), None);
    }

    #[test]
    fn a_quiet_run_is_forgotten() {
        let (run, _) = SecondFactorFailures::after_wrong_code(None, "alice", T0);
        let (run, _) = SecondFactorFailures::after_wrong_code(Some(&run), "alice", T0);
        assert_eq!(run.failures, 2);
        let later = T0 + SECOND_FACTOR_FORGET;
        let (run, lockout) = SecondFactorFailures::after_wrong_code(Some(&run), "alice", later);
        assert_eq!((run.failures, lockout), (1, None));
    }
}
