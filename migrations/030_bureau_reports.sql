-- Reports to a credit bureau ("furnishing"): one work order per negative record (today a broken promise or plan),
-- filed by its account. Passive collection (12 CFR 1006.30(a)): under a rule set with a furnishing gate a report is
-- ready only once the account has spoken with the debtor, or posted a letter about the debt and waited the rule
-- set's days without it coming back; until then it waits, and the account releases it when the gate opens, or
-- withdraws it when the account closes first. The bureau feed furnishes ready reports and marks them sent
-- (`collections bureau sent`). Not a contact, so no action-log row: the measures count those as contacts.
-- status: waiting, ready, sent, withdrawn. amount_minor and dpd: what is furnished, as of as_of (filing, or release).
CREATE TABLE bureau_reports (
    action_key        text PRIMARY KEY,
    report_ref        text NOT NULL UNIQUE,
    account_id        text NOT NULL REFERENCES accounts,
    reason            text NOT NULL,
    commitment_id     text,
    amount_minor      bigint NOT NULL,
    currency          char(3) NOT NULL,
    dpd               integer NOT NULL,
    as_of             timestamptz NOT NULL,
    rule_set          text NOT NULL DEFAULT '',
    status            text NOT NULL CHECK (status IN ('waiting', 'ready', 'sent', 'withdrawn')),
    filed_at          timestamptz NOT NULL,
    waited_because    text NOT NULL DEFAULT '',  -- the gate's word at filing, when it was shut
    released_at       timestamptz,
    released_because  text NOT NULL DEFAULT '',  -- what opened the gate: a conversation, a letter's days, no gate
    withdrawn_at      timestamptz,
    withdrawn_because text NOT NULL DEFAULT '',
    sent_at           timestamptz,
    sent_by           text,
    bureau_ref        text  -- the bureau's reference for the submission
);
CREATE INDEX bureau_reports_by_status ON bureau_reports (status, released_at);
CREATE INDEX bureau_reports_by_account ON bureau_reports (account_id, filed_at);

-- The flag stays the fact that a broken promise is a negative record; the bureau feed reads bureau_reports only.
COMMENT ON COLUMN commitments.negative_record IS
    'a broken promise is a negative credit record; it reaches a bureau only as a ready row of bureau_reports';
