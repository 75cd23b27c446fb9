-- The guard's word on each contact person's phone (domain §2, GB/T 45251, 12 CFR 1006.10): put on a call task or
-- withheld from it, and taken off the account's open call tasks when the debtor is reached again or the person has
-- been called as often as the rule set allows. decided_for: the call task's action key, or the event that took it off.
CREATE TABLE third_party_checks (
    account_id    text NOT NULL REFERENCES accounts,
    decided_for   text NOT NULL,
    contact_point text NOT NULL,
    verdict       text NOT NULL CHECK (verdict IN ('allowed', 'withheld')),
    reason        text NOT NULL DEFAULT '',
    evaluated_at  timestamptz NOT NULL,
    PRIMARY KEY (decided_for, contact_point)
);
CREATE INDEX third_party_checks_account ON third_party_checks (account_id, evaluated_at);

-- A call reported on a contact person's phone that the rule set did not allow then (the compliance report counts it).
ALTER TABLE contact_events ADD COLUMN third_party_breach text NOT NULL DEFAULT '';

-- The worklist dials only numbers still valid today and contact persons' phones the guard has not taken off.
CREATE OR REPLACE VIEW collector_worklist AS
SELECT f.day, a.collector_queue, f.account_id, f.starts_at, f.attempts, t.stage, t.tone,
       (SELECT coalesce(jsonb_agg(p.phone ORDER BY p.n), '[]'::jsonb)
        FROM jsonb_array_elements(t.phone_order) WITH ORDINALITY AS p(phone, n)
        WHERE NOT p.phone ? 'withheld' AND NOT EXISTS (SELECT 1 FROM contact_points c WHERE c.account_id = f.account_id
                          AND c.value = p.phone->>'number' AND c.status <> 'valid')) AS phone_order,
       t.attempt_windows, t.third_parties, t.action_key AS task_key
FROM follow_ups f
JOIN call_tasks t ON t.action_key = f.task_key
JOIN accounts a ON a.account_id = f.account_id
WHERE f.status = 'planned' AND a.status = 'open';
