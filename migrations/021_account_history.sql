-- The collections measures (domain §12) read the past: an account's row keeps only its latest status and balance,
-- and an account can reopen (a reversal after a cure clears closed_at), so every change is kept here, in business
-- time, by a trigger on accounts. Cures, rolls and balances on a past day are read from this history.
CREATE TABLE account_history (
    change_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id        text NOT NULL REFERENCES accounts,
    at                timestamptz NOT NULL,  -- business time of the change
    status            text NOT NULL,
    outstanding_minor bigint NOT NULL
);
CREATE INDEX account_history_by_account ON account_history (account_id, at, change_id);

-- When a change happened: an opening at opened_at, a closing at closed_at; a payment or reversal at its own business
-- time (its row is written in the same transaction, so its recorded_at is now()); else right after the last change.
CREATE FUNCTION record_account_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_at  timestamptz;
    happened timestamptz;
BEGIN
    -- A closing status is stamped by close_account right after, with closed_at and the final balance: kept then.
    IF NEW.status <> 'open' AND NEW.closed_at IS NULL THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.status, NEW.outstanding_minor, NEW.opened_at, NEW.closed_at)
            IS NOT DISTINCT FROM (OLD.status, OLD.outstanding_minor, OLD.opened_at, OLD.closed_at) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' OR NEW.opened_at IS DISTINCT FROM OLD.opened_at THEN
        happened := NEW.opened_at;
    ELSIF NEW.closed_at IS NOT NULL AND NEW.closed_at IS DISTINCT FROM OLD.closed_at THEN
        happened := NEW.closed_at;
    ELSE
        SELECT max(h.at) INTO last_at FROM account_history h WHERE h.account_id = NEW.account_id;
        -- A payment reported late still comes after what was already kept, so the history stays in order.
        happened := greatest(last_at, coalesce(
            (SELECT max(r.reversed_at) FROM payment_reversals r
             WHERE r.account_id = NEW.account_id AND r.recorded_at = now()),
            (SELECT max(p.paid_at) FROM payments p WHERE p.account_id = NEW.account_id AND p.recorded_at = now()),
            last_at, NEW.opened_at));
    END IF;
    INSERT INTO account_history (account_id, at, status, outstanding_minor)
    VALUES (NEW.account_id, happened, NEW.status, NEW.outstanding_minor);
    RETURN NULL;
END $$;

CREATE TRIGGER accounts_history AFTER INSERT OR UPDATE OF status, outstanding_minor, opened_at, closed_at
    ON accounts FOR EACH ROW EXECUTE FUNCTION record_account_change();

-- Accounts opened before this migration: their opening, their balance after the last money, their closing.
INSERT INTO account_history (account_id, at, status, outstanding_minor)
SELECT account_id, opened_at, 'open', amount_due_minor FROM accounts;
INSERT INTO account_history (account_id, at, status, outstanding_minor)
SELECT a.account_id, greatest(a.opened_at, m.at), 'open', a.outstanding_minor
FROM accounts a
JOIN LATERAL (SELECT max(at) AS at FROM (SELECT paid_at AS at FROM payments p WHERE p.account_id = a.account_id
              UNION ALL SELECT reversed_at FROM payment_reversals r WHERE r.account_id = a.account_id) x) m ON true
WHERE a.status = 'open' AND a.outstanding_minor <> a.amount_due_minor;
INSERT INTO account_history (account_id, at, status, outstanding_minor)
SELECT account_id, closed_at, status, outstanding_minor FROM accounts WHERE status <> 'open' AND closed_at IS NOT NULL;

-- Each stretch of an account's life between two changes (to_at NULL: it lasts to this day).
CREATE VIEW account_spells AS
SELECT account_id, status, outstanding_minor, at AS from_at, lead(at) OVER w AS to_at
FROM account_history
WINDOW w AS (PARTITION BY account_id ORDER BY at, change_id);

-- Each delinquency: from an opening (or a reopening) to the closing that ended it, and how it ended.
CREATE VIEW delinquencies AS
WITH marked AS (
    SELECT account_id, at, change_id, status, outstanding_minor, lag(status) OVER w AS before
    FROM account_history
    WINDOW w AS (PARTITION BY account_id ORDER BY at, change_id)
), turns AS (
    SELECT *, lead(at) OVER w AS next_at, lead(status) OVER w AS next_status
    FROM marked
    WHERE (status = 'open') <> (coalesce(before, '') = 'open')
    WINDOW w AS (PARTITION BY account_id ORDER BY at, change_id)
)
SELECT account_id, at AS started_at, outstanding_minor AS started_minor, before IS NOT NULL AS reopened,
       next_at AS ended_at, next_status AS ended_as
FROM turns
WHERE status = 'open';

-- Each account's status, dpd and balance at the end of each of its local days in [first, last].
CREATE FUNCTION account_days(first date, last date)
RETURNS TABLE (account_id text, day date, status text, dpd integer, outstanding_minor bigint)
LANGUAGE sql STABLE AS $$
    SELECT s.account_id, d.day, s.status, d.day - a.due_date, s.outstanding_minor
    FROM account_spells s
    JOIN accounts a USING (account_id)
    CROSS JOIN LATERAL (SELECT t::date AS day FROM generate_series(
        greatest((s.from_at AT TIME ZONE a.time_zone)::date, first),
        least((s.to_at AT TIME ZONE a.time_zone)::date - 1, last), interval '1 day') AS t) d
$$;

-- The bucket of a dpd, given the bucket names and the first dpd of each bucket after the first (reporting/).
CREATE FUNCTION dpd_bucket(dpd integer, names text[], starts integer[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT names[width_bucket(dpd, starts) + 1] $$;

-- Where an account stands at a day's end: its bucket while open, else how it closed (cured, or closed otherwise).
CREATE FUNCTION standing(status text, dpd integer, names text[], starts integer[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE status WHEN 'open' THEN dpd_bucket(dpd, names, starts) WHEN 'cured' THEN 'cured' ELSE 'closed' END
$$;

-- Money that came in net of what went back, each at its business time: applied payments less reversals.
CREATE VIEW money_in AS
SELECT account_id, paid_at AS at, applied_minor AS amount_minor FROM payments WHERE verdict = 'applied'
UNION ALL
SELECT account_id, reversed_at, -restored_minor FROM payment_reversals WHERE verdict = 'reversed';
