-- Issue 14, item 13: billing's changes of the balance (charges, interest, credit notes, write-downs), invoices with
-- their own due dates (an account's dpd counts from its oldest unpaid one), and the audit of every movement of the
-- balance with what it was just before and just after.

-- Billing's changes, each once by id: a refused one may come again, corrected; an applied one never changes.
CREATE TABLE balance_changes (
    account_id   text NOT NULL REFERENCES accounts,
    change_id    text NOT NULL,
    kind         text NOT NULL,  -- charge, interest, credit_note, write_down
    verdict      text NOT NULL,  -- applied, rejected
    reason       text NOT NULL,  -- billing's
    refusal      text NOT NULL DEFAULT '',  -- why it was refused
    amount_minor bigint NOT NULL,
    invoice_id   text,
    due_date     date,  -- of the invoice a charge opened
    effective_at timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, change_id)
);

-- Every movement of the balance (payments and reversals, billing's changes, fees posted, concessions and their
-- reversals), by what moved it, with each part of the balance just before (late fees accrued to then) and after.
CREATE TABLE ledger_entries (
    account_id               text NOT NULL REFERENCES accounts,
    kind                     text NOT NULL,
    entry_id                 text NOT NULL,  -- the payment's, change's or concession's id
    amount_minor             bigint NOT NULL,
    invoices                 jsonb NOT NULL DEFAULT '{}',  -- principal moved on each invoice, signed
    at                       timestamptz NOT NULL,  -- business time it took effect
    principal_before_minor   bigint NOT NULL,
    interest_before_minor    bigint NOT NULL,
    late_fee_before_minor    bigint NOT NULL,
    overpaid_before_minor    bigint NOT NULL,
    outstanding_before_minor bigint NOT NULL,
    principal_after_minor    bigint NOT NULL,
    interest_after_minor     bigint NOT NULL,
    late_fee_after_minor     bigint NOT NULL,
    overpaid_after_minor     bigint NOT NULL,
    outstanding_after_minor  bigint NOT NULL,
    recorded_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, kind, entry_id)
);
CREATE INDEX ledger_entries_in_order ON ledger_entries (account_id, at, recorded_at);

-- A B2B account's invoices as they stand: what each was billed (with charges, less credit notes) and still owes.
CREATE TABLE account_invoices (
    account_id   text NOT NULL REFERENCES accounts,
    invoice_id   text NOT NULL,
    due_date     date NOT NULL,
    billed_minor bigint NOT NULL,
    open_minor   bigint NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, invoice_id)
);

-- The day an account's dpd counts from when it is not its due date: its oldest unpaid invoice's due date. Kept in the
-- history with the balance, so a past day's dpd is the one of that day.
ALTER TABLE accounts ADD COLUMN dpd_from date;
ALTER TABLE account_history ADD COLUMN dpd_from date;

CREATE OR REPLACE FUNCTION record_account_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_at  timestamptz;
    happened timestamptz;
BEGIN
    -- A closing status is stamped by close_account right after, with closed_at and the final balance: kept then.
    IF NEW.status <> 'open' AND NEW.closed_at IS NULL THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.status, NEW.outstanding_minor, NEW.opened_at, NEW.closed_at, NEW.dpd_from)
            IS NOT DISTINCT FROM (OLD.status, OLD.outstanding_minor, OLD.opened_at, OLD.closed_at, OLD.dpd_from) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' OR NEW.opened_at IS DISTINCT FROM OLD.opened_at THEN
        happened := NEW.opened_at;
    ELSIF NEW.closed_at IS NOT NULL AND NEW.closed_at IS DISTINCT FROM OLD.closed_at THEN
        happened := NEW.closed_at;
    ELSE
        SELECT max(h.at) INTO last_at FROM account_history h WHERE h.account_id = NEW.account_id;
        -- A change reported late still comes after what was already kept, so the history stays in order.
        happened := greatest(last_at, coalesce(
            (SELECT max(e.at) FROM ledger_entries e WHERE e.account_id = NEW.account_id AND e.recorded_at = now()),
            (SELECT max(r.reversed_at) FROM payment_reversals r
             WHERE r.account_id = NEW.account_id AND r.recorded_at = now()),
            (SELECT max(p.paid_at) FROM payments p WHERE p.account_id = NEW.account_id AND p.recorded_at = now()),
            last_at, NEW.opened_at));
    END IF;
    INSERT INTO account_history (account_id, at, status, outstanding_minor, dpd_from)
    VALUES (NEW.account_id, happened, NEW.status, NEW.outstanding_minor, NEW.dpd_from);
    RETURN NULL;
END $$;

DROP TRIGGER accounts_history ON accounts;
CREATE TRIGGER accounts_history AFTER INSERT OR UPDATE OF status, outstanding_minor, opened_at, closed_at, dpd_from
    ON accounts FOR EACH ROW EXECUTE FUNCTION record_account_change();

CREATE OR REPLACE VIEW account_spells AS
SELECT account_id, status, outstanding_minor, at AS from_at, lead(at) OVER w AS to_at, dpd_from
FROM account_history
WINDOW w AS (PARTITION BY account_id ORDER BY at, change_id);

CREATE OR REPLACE FUNCTION account_days(first date, last date)
RETURNS TABLE (account_id text, day date, status text, dpd integer, outstanding_minor bigint)
LANGUAGE sql STABLE AS $$
    SELECT s.account_id, d.day, s.status, d.day - coalesce(s.dpd_from, a.due_date), s.outstanding_minor
    FROM account_spells s
    JOIN accounts a USING (account_id)
    CROSS JOIN LATERAL (SELECT t::date AS day FROM generate_series(
        greatest((s.from_at AT TIME ZONE a.time_zone)::date, first),
        least((s.to_at AT TIME ZONE a.time_zone)::date - 1, last), interval '1 day') AS t) d
$$;

-- The new evidence tables carry their retention class like the others (032), and join the list.
SELECT keep_as_evidence(ARRAY['balance_changes', 'ledger_entries']);
