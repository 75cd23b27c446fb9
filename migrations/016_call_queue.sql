-- The collectors' call queue (infra/call_queue.py): a collector takes the next call of their team that may be made
-- now, and reports how each attempt ended. Two kinds of calls are taken: a call task (a ladder stage's, a strategy's
-- reaction, a promise confirmation) and a follow-up day of a ladder call task (domain §4).
--
-- call_tasks.status: open -> assigned (taken by a collector) -> done (an attempt reported). call_ref is the reference
-- the collector quotes back (dunning.channels.work_order_ref("C", action_key)); it is set when the task is taken, as
-- the rows are filed by the channel activity, which does not know of the queue.
ALTER TABLE call_tasks ADD COLUMN call_ref text UNIQUE;
ALTER TABLE call_tasks ADD COLUMN assigned_to text;
ALTER TABLE call_tasks ADD COLUMN assigned_at timestamptz;
-- The queue scan goes from the team's open accounts (accounts_open_by_queue) to their open tasks.
CREATE INDEX call_tasks_open_by_account ON call_tasks (account_id, due_from) WHERE status = 'open';

-- A follow-up day keeps its status (planned, withdrawn, stopped: the compliance report counts planned days); being
-- taken and worked is told by these columns instead.
ALTER TABLE follow_ups ADD COLUMN call_ref text UNIQUE;
ALTER TABLE follow_ups ADD COLUMN assigned_to text;
ALTER TABLE follow_ups ADD COLUMN assigned_at timestamptz;
ALTER TABLE follow_ups ADD COLUMN done_at timestamptz;

-- Every call taken from the queue, whatever its kind: what a reported outcome is checked against.
CREATE VIEW taken_calls AS
SELECT t.call_ref, 'call_task' AS kind, t.action_key AS task_key, t.account_id, NULL::date AS day,
       t.due_from AS due_at, t.attempts_per_day AS attempts, t.status, t.assigned_to, t.assigned_at
FROM call_tasks t WHERE t.call_ref IS NOT NULL
UNION ALL
SELECT f.call_ref, 'follow_up', f.task_key, f.account_id, f.day, f.starts_at, f.attempts,
       CASE WHEN f.done_at IS NULL THEN 'assigned' ELSE 'done' END, f.assigned_to, f.assigned_at
FROM follow_ups f WHERE f.call_ref IS NOT NULL;

-- Each attempt a collector reports (domain §3: every call ends with an outcome code), before the account is told.
-- outcome_id is the id of the contact outcome signalled to the account, which counts it once per account.
CREATE TABLE call_attempts (
    account_id  text NOT NULL REFERENCES accounts,
    outcome_id  text NOT NULL,
    call_ref    text NOT NULL,
    number      text NOT NULL,  -- the number dialled, one of the call's phone order
    code        text NOT NULL,
    collector   text NOT NULL,
    at          timestamptz NOT NULL,  -- when the attempt ended, as reported
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, outcome_id)
);
CREATE INDEX call_attempts_by_call ON call_attempts (call_ref);
