-- Death and bankruptcy reports (domain §6, strategy 3) and what became of them; staff request the documents
-- of rows awaiting them before review_by.
CREATE TABLE debtor_events (
    account_id  text NOT NULL REFERENCES accounts,
    report_id   text NOT NULL,
    event       text NOT NULL,
    details     text NOT NULL,
    reported_at timestamptz NOT NULL,
    review_by   timestamptz NOT NULL,
    status      text NOT NULL,
    decided_at  timestamptz,
    PRIMARY KEY (account_id, report_id)
);
