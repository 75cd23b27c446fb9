-- What a closed account's last run returned (dunning/state.py AccountRun): a payment or reversal that comes after
-- Temporal has dropped the run's history (the namespace's retention) still records it and reopens the account.
-- erase_after: when the rule set's retention lets the account's personal data go (NULL: no rule set names one).
CREATE TABLE closed_runs (
    account_id  text PRIMARY KEY REFERENCES accounts,
    run         jsonb NOT NULL,
    closed_at   timestamptz NOT NULL,
    erase_after timestamptz,
    kept_at     timestamptz NOT NULL DEFAULT now()
);
-- When the account's personal data (its kept run's too) was erased; a later close starts its retention again.
ALTER TABLE accounts ADD COLUMN personal_data_erased_at timestamptz;
-- The closed accounts whose personal data is still whole: the daily erasure looks among them.
CREATE INDEX accounts_not_erased ON accounts (closed_at) WHERE status <> 'open' AND personal_data_erased_at IS NULL;
