-- The contact guard's evidence: every contact a step attempted, allowed, deferred or blocked, with the rule set, the
-- rule that decided and the debtor's local time it was judged at (domain §3, §13; 12 CFR 1006.100 keeps records).
CREATE TABLE contact_checks (
    account_id   text NOT NULL REFERENCES accounts,
    action_key   text NOT NULL,
    step_id      text NOT NULL,
    channel      text NOT NULL,
    rule_set     text NOT NULL,
    verdict      text NOT NULL,  -- allowed, deferred, blocked
    rule         text NOT NULL,
    evaluated_at timestamptz NOT NULL,
    local_time   text NOT NULL,
    allowed_at   timestamptz,  -- deferred: when it may go
    attempts     integer NOT NULL DEFAULT 1,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (action_key, evaluated_at)
);
CREATE INDEX contact_checks_account ON contact_checks (account_id, evaluated_at);

-- When the account learned of an outcome: a conversation binds the calls after it (Reg F's cool-down), not before.
ALTER TABLE contact_events ADD COLUMN settled_at timestamptz;

