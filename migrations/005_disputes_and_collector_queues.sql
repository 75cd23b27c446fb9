-- Disputes of the debt and complaints (domain §6, strategy 5), and which collector team works each account.
CREATE TABLE disputes (
    account_id  text NOT NULL REFERENCES accounts,
    dispute_id  text NOT NULL,
    subject     text NOT NULL,
    details     text NOT NULL,
    opened_at   timestamptz NOT NULL,
    outcome     text,
    resolved_at timestamptz,
    PRIMARY KEY (account_id, dispute_id)
);
ALTER TABLE accounts ADD COLUMN collector_queue text NOT NULL DEFAULT '';
ALTER TABLE call_tasks ADD COLUMN collector_queue text NOT NULL DEFAULT '';
