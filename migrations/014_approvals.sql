-- Steps waiting for a named approver (domain §9), and every decision taken on them. status: pending, approved,
-- rejected. The work order itself (letter, placement, internal task) waits as 'awaiting_approval' until then.
CREATE TABLE approvals (
    approval_ref text PRIMARY KEY,
    action_key   text NOT NULL UNIQUE REFERENCES action_log,
    account_id   text NOT NULL REFERENCES accounts,
    step_id      text NOT NULL,
    channel      text NOT NULL,
    approvers    text[] NOT NULL,
    requested_at timestamptz NOT NULL,
    status       text NOT NULL DEFAULT 'pending',
    decided_by   text,
    decided_at   timestamptz,
    note         text NOT NULL DEFAULT ''
);
CREATE INDEX approvals_pending ON approvals (requested_at) WHERE status = 'pending';
