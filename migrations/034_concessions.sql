-- Issue 14, item 12: what the creditor gives (late fees waived, a discount to settle, a plan's instalments reduced or
-- put off), within the policy's limits per role, above them once an approver agrees; each movement of the balance is
-- in ledger_entries (033) with the balance before and after.
CREATE TABLE concessions (
    account_id      text NOT NULL REFERENCES accounts,
    concession_id   text NOT NULL,
    kind            text NOT NULL,  -- fee_waiver, settlement_discount, plan_reduction, plan_extension
    status          text NOT NULL,  -- applied, awaiting_approval, rejected, reversed, withdrawn, refused
    reason          text NOT NULL DEFAULT '',  -- why it waits, or was refused
    amount_minor    bigint NOT NULL DEFAULT 0,  -- what it gives up (an extension: 0)
    days            integer NOT NULL DEFAULT 0,  -- how much later (an extension)
    base_minor      bigint NOT NULL DEFAULT 0,  -- what the policy's shares were of when granted
    granted_by      text NOT NULL,
    granted_roles   text[] NOT NULL,
    grant_reason    text NOT NULL,
    granted_at      timestamptz NOT NULL,
    approvers       text[] NOT NULL DEFAULT '{}',  -- who may approve it, when it needed an approver
    decided_by      text,
    decided_as      text,
    decided_at      timestamptz,
    note            text NOT NULL DEFAULT '',
    reversed_by     text,
    reversed_at     timestamptz,
    reversal_reason text NOT NULL DEFAULT '',
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, concession_id)
);
CREATE INDEX concessions_waiting ON concessions (granted_at) WHERE status = 'awaiting_approval';

-- The failed-debit fee a broken promise cost, where the policy posts it (domain §5); 0: left to billing.
ALTER TABLE commitments ADD COLUMN failed_debit_fee_minor bigint NOT NULL DEFAULT 0;

-- Concessions are evidence too, with their retention class (032).
SELECT keep_as_evidence(ARRAY['concessions']);
