-- Workload pacing (domain §4): the days a collector works each case between the ladder's call tasks. Each day
-- passed the contact guard when it was planned; a later plan withdraws the days it no longer keeps.
CREATE TABLE follow_ups (
    account_id text NOT NULL REFERENCES accounts,
    day        date NOT NULL,  -- the debtor's local day
    task_key   text NOT NULL REFERENCES call_tasks (action_key),
    starts_at  timestamptz NOT NULL,  -- the earliest moment that day's attempts may start
    attempts   integer NOT NULL,
    rule_set   text NOT NULL DEFAULT '',
    status     text NOT NULL,  -- planned, withdrawn
    planned_at timestamptz NOT NULL,  -- business time of the plan that set this day
    PRIMARY KEY (account_id, day)
);
CREATE INDEX follow_ups_day ON follow_ups (day) WHERE status = 'planned';

-- The best windows of the rule set: the dialer spreads a day's attempts over them ("at different times").
ALTER TABLE call_tasks ADD COLUMN attempt_windows jsonb NOT NULL DEFAULT '[]';

-- A collector queue's work of a day: each open case due for a follow-up, with its stage's phone order.
CREATE VIEW collector_worklist AS
SELECT f.day, a.collector_queue, f.account_id, f.starts_at, f.attempts, t.stage, t.tone, t.phone_order,
       t.attempt_windows, t.third_parties, t.action_key AS task_key
FROM follow_ups f
JOIN call_tasks t ON t.action_key = f.task_key
JOIN accounts a ON a.account_id = f.account_id
WHERE f.status = 'planned' AND a.status = 'open';
