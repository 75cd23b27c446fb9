-- The B2B statement cycle (domain §9): one row per account and month whose statement went to the customer, with the
-- day they were asked to confirm it by and the day finance invoices by; marked when it was handed to the supervisor
-- unconfirmed and when the customer confirmed it (late: after confirm_by). The chase itself is in action_log
-- (statement_chase_* steps). note: the invoicing details or the difference the customer gave with the confirmation.
CREATE TABLE statements (
    account_id     text NOT NULL REFERENCES accounts,
    month          char(7) NOT NULL CHECK (month ~ '^\d{4}-(0[1-9]|1[0-2])$'),
    sent_at        timestamptz NOT NULL,
    confirm_by     date NOT NULL,
    invoice_by     date NOT NULL,
    escalated_at   timestamptz,
    confirmed_at   timestamptz,
    confirmed_by   text,
    confirmed_late boolean,
    note           text NOT NULL DEFAULT '',
    PRIMARY KEY (account_id, month)
);
CREATE INDEX statements_unconfirmed ON statements (confirm_by) WHERE confirmed_at IS NULL;

SELECT keep_as_evidence(ARRAY['statements']);
