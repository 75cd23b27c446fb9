-- A visit order names every agent who goes (the rule set's staff per visit: two on a home visit under cn_consumer),
-- and the month's target its field team is measured against when orders are handed out (domain §8).
ALTER TABLE field_visit_orders ADD COLUMN staff_required integer NOT NULL DEFAULT 1;
ALTER TABLE field_visit_orders ADD COLUMN agents text[] NOT NULL DEFAULT '{}';
ALTER TABLE field_visit_orders ADD COLUMN monthly_target integer;

-- What a visit report proves, kept beyond the erasure of the debtor's data: who went, when, the photo store's
-- references and the notes' sha256 (the notes themselves are personal data and go with the account's).
CREATE TABLE visit_evidence (
    report_id    text NOT NULL,
    account_id   text NOT NULL REFERENCES accounts,
    visit_ref    text NOT NULL,
    agents       text[] NOT NULL,
    finding      text NOT NULL,
    photos       jsonb NOT NULL,
    notes_sha256 text NOT NULL,
    visited_at   timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, report_id)
);
