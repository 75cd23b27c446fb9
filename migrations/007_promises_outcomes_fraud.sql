-- Promises to pay and repayment plans (domain §5, §6 strategy 4): one row each, from taken (or refused) to
-- kept, kept in part, broken, replaced or closed. Broken rows carry the facts billing and the bureau feed act on.
CREATE TABLE commitments (
    account_id       text NOT NULL REFERENCES accounts,
    commitment_id    text NOT NULL,
    kind             text NOT NULL,
    status           text NOT NULL,
    reason           text NOT NULL DEFAULT '',
    instalments      jsonb NOT NULL,
    total_minor      bigint NOT NULL,
    paid_minor       bigint NOT NULL DEFAULT 0,
    taken_by         text NOT NULL,
    channel          text NOT NULL DEFAULT '',
    made_at          timestamptz NOT NULL,
    decided_at       timestamptz,
    negative_record  boolean NOT NULL DEFAULT false,
    failed_debit_fee boolean NOT NULL DEFAULT false,
    PRIMARY KEY (account_id, commitment_id)
);
ALTER TABLE accounts ADD COLUMN broken_promises integer NOT NULL DEFAULT 0;

-- Every contact outcome and contact update (domain §3: each call ends with an outcome code), as judged.
CREATE TABLE contact_events (
    account_id    text NOT NULL REFERENCES accounts,
    event_id      text NOT NULL,
    kind          text NOT NULL,  -- outcome, update
    code          text NOT NULL,  -- the outcome code, or what the update did
    source        text NOT NULL,
    reported_by   text NOT NULL DEFAULT '',
    contact_point text,
    note          text NOT NULL DEFAULT '',
    occurred_at   timestamptz NOT NULL,
    verdict       text NOT NULL,
    strategy      text,
    PRIMARY KEY (account_id, event_id)
);

-- The state of each contact point: invalid ones are never dialled or visited again (domain §3).
CREATE TABLE contact_points (
    account_id      text NOT NULL REFERENCES accounts,
    value           text NOT NULL,
    kind            text NOT NULL,
    owner           text NOT NULL,
    relation        text,
    failures        jsonb NOT NULL DEFAULT '{}',
    status          text NOT NULL,  -- valid, invalid, replaced
    invalid_because text NOT NULL DEFAULT '',
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, value)
);

-- False-application claims (domain §7) and how far each got.
CREATE TABLE fraud_claims (
    account_id   text NOT NULL REFERENCES accounts,
    claim_id     text NOT NULL,
    clues        text NOT NULL,
    taken_by     text NOT NULL,
    claimed_at   timestamptz NOT NULL,
    status       text NOT NULL,
    signed_at    timestamptz,
    sent_at      timestamptz,
    decided_at   timestamptz,
    withdraw_by  timestamptz,
    PRIMARY KEY (account_id, claim_id)
);

-- Why a call task exists: a ladder stage, a promise confirmation, a strategy's follow-up.
ALTER TABLE call_tasks ADD COLUMN purpose text NOT NULL DEFAULT '';
