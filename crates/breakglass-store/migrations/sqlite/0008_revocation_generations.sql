-- breakglass store, SQLite, version 8: a generation per role, moved by every revocation entry added
-- in the entry's own transaction. Whoever rewrites a role's `BreakglassRevocations` policy
-- holds the role's lease (`job_leases`, `revocations:<role ARN>`) and gives it up only
-- if the generation is still the one it read before reading the entries, so an entry added
-- meanwhile is never left out of the policy.

CREATE TABLE revocation_generations (
    role_arn   TEXT    PRIMARY KEY,
    generation INTEGER NOT NULL
);
