-- Collectors' own books (domain §1, §4): the named collector of its queue an account is assigned to (NULL: a queue
-- the teams file does not name, worked by the whole team), every assignment and reassignment with why, and the days
-- a collector is away.
ALTER TABLE accounts ADD COLUMN collector text;
CREATE INDEX accounts_open_by_collector ON accounts (collector) WHERE status = 'open';

CREATE TABLE collector_assignments (
    account_id    text NOT NULL REFERENCES accounts,
    collector     text,  -- NULL: nobody of the queue could take it
    collector_queue text NOT NULL,
    previous      text,
    reason        text NOT NULL,
    assigned_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX collector_assignments_account ON collector_assignments (account_id, assigned_at);

CREATE TABLE collector_absences (
    collector  text NOT NULL,
    first_day  date NOT NULL,
    last_day   date NOT NULL,
    reason     text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    CHECK (last_day >= first_day)
);
