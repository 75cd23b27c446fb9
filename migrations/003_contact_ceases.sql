-- Every request to stop contact, as evidence (15 USC 1692c(c)); request_id makes a resent request count once.
CREATE TABLE contact_ceases (
    account_id  text NOT NULL REFERENCES accounts,
    request_id  text NOT NULL,
    channels    text[] NOT NULL,
    reason      text NOT NULL,
    received_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, request_id)
);
