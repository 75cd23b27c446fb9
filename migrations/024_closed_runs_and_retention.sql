-- What a closed account's last run returned (dunning/state.py AccountRun): a payment or reversal that comes after
-- Temporal has dropped the run's history (the namespace's retention) still records it and reopens the account.
-- erase_after: when the rule set's retention lets the account's personal data go (NULL: no rule set names one).
CREATE TABLE closed_runs (
    account_id  text PRIMARY KEY REFERENCES accounts,
    run         jsonb NOT NULL,
    closed_at   timestamptz NOT NULL,
    erase_after timestamptz,
    erased_at   timestamptz,
    kept_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX closed_runs_erase_due ON closed_runs (erase_after) WHERE erased_at IS NULL;
ALTER TABLE accounts ADD COLUMN personal_data_erased_at timestamptz;
