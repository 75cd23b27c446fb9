-- The strategy each account runs under, pinned when it opened: the segment it was scored into (and why, as codes:
-- no personal data), the experiment and arm that chose its policy. Segment changes at the lifecycle's events
-- (a broken promise, the mature or terminal phase) are kept apart, one row each.
CREATE TABLE strategy_assignments (
    account_id      text PRIMARY KEY REFERENCES accounts,
    segmentation    text,           -- name@version of the segmentation in force; null: none was
    segment         text NOT NULL,  -- the segment the account opened in
    segment_reason  text NOT NULL,  -- reason codes, e.g. 'score=62;amount=high;dpd=early'
    billing_segment text NOT NULL,  -- the label billing sent, kept as an input
    experiment      text,           -- name@version of the experiment that assigned the arm; null: none ran
    arm             text NOT NULL,  -- champion, a challenger's name, holdout; 'named' when billing named the policy
    policy_ref      text NOT NULL,  -- name@version of the policy the arm chose
    assigned_at     timestamptz NOT NULL
);
CREATE INDEX strategy_assignments_arm ON strategy_assignments (experiment, arm);

CREATE TABLE segment_changes (
    account_id   text NOT NULL REFERENCES accounts,
    changed_at   timestamptz NOT NULL,
    event        text NOT NULL,  -- broken_promise, mature, terminal
    from_segment text NOT NULL,
    to_segment   text NOT NULL,
    reason       text NOT NULL,
    PRIMARY KEY (account_id, changed_at, event)
);
