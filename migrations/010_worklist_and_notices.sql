-- A call task counts its queue's open accounts (the book size that sets the follow-up cadence).
CREATE INDEX IF NOT EXISTS accounts_open_by_queue ON accounts (collector_queue) WHERE status = 'open';

-- The worklist dials only numbers still valid today: a number found dead after the stage's task was filed drops out.
CREATE OR REPLACE VIEW collector_worklist AS
SELECT f.day, a.collector_queue, f.account_id, f.starts_at, f.attempts, t.stage, t.tone,
       (SELECT coalesce(jsonb_agg(p.phone ORDER BY p.n), '[]'::jsonb)
        FROM jsonb_array_elements(t.phone_order) WITH ORDINALITY AS p(phone, n)
        WHERE NOT EXISTS (SELECT 1 FROM contact_points c WHERE c.account_id = f.account_id
                          AND c.value = p.phone->>'number' AND c.status <> 'valid')) AS phone_order,
       t.attempt_windows, t.third_parties, t.action_key AS task_key
FROM follow_ups f
JOIN call_tasks t ON t.action_key = f.task_key
JOIN accounts a ON a.account_id = f.account_id
WHERE f.status = 'planned' AND a.status = 'open';

-- A validation notice states when its validation period ends (12 CFR 1006.34(c)(3)).
ALTER TABLE letter_jobs ADD COLUMN validation_period_ends date;
