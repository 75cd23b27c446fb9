-- Accounts, the action log, payments, and one work-order table per channel.
CREATE TABLE accounts (
    account_id        text PRIMARY KEY,
    workflow_id       text NOT NULL,
    policy_ref        text NOT NULL,
    policy_digest     text NOT NULL,
    currency          char(3) NOT NULL,
    amount_due_minor  bigint NOT NULL,
    outstanding_minor bigint NOT NULL,
    due_date          date NOT NULL,
    segment           text NOT NULL,
    time_zone         text NOT NULL,
    status            text NOT NULL,
    document          jsonb NOT NULL,
    opened_at         timestamptz NOT NULL,
    closed_at         timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Every rung of every ladder, taken or skipped; action_key is (account, account life, step).
CREATE TABLE action_log (
    action_key  text PRIMARY KEY,
    account_id  text NOT NULL REFERENCES accounts,
    workflow_id text NOT NULL,
    run_id      text,
    step_id     text NOT NULL,
    channel     text NOT NULL,
    dpd         integer NOT NULL,
    stage       text NOT NULL,
    due_at      timestamptz NOT NULL,
    taken_at    timestamptz,
    result      text NOT NULL,
    detail      text NOT NULL DEFAULT '',
    reference   text,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX action_log_account ON action_log (account_id, due_at);

CREATE TABLE payments (
    account_id     text NOT NULL REFERENCES accounts,
    payment_id     text NOT NULL,
    verdict        text NOT NULL,
    reason         text NOT NULL DEFAULT '',
    amount_minor   bigint NOT NULL,
    applied_minor  bigint NOT NULL,
    overpaid_minor bigint NOT NULL,
    currency       char(3) NOT NULL,
    paid_at        timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, payment_id)
);

-- status: sending (handed to Twilio, answer not yet stored), sent, rejected (Twilio refused it),
-- unknown (a previous attempt died mid-send: never re-sent, so a debtor is not texted twice).
CREATE TABLE sms_messages (
    action_key  text PRIMARY KEY REFERENCES action_log,
    account_id  text NOT NULL REFERENCES accounts,
    to_number   text NOT NULL,
    body        text NOT NULL,
    status      text NOT NULL,
    twilio_sid  text,
    error_code  integer,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE email_jobs (
    action_key  text PRIMARY KEY REFERENCES action_log,
    account_id  text NOT NULL REFERENCES accounts,
    to_address  text NOT NULL,
    subject     text NOT NULL,
    body        text NOT NULL,
    status      text NOT NULL DEFAULT 'queued',
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A collector queue item: work this account through the stage at the stage's cadence, in this phone order.
CREATE TABLE call_tasks (
    action_key       text PRIMARY KEY REFERENCES action_log,
    account_id       text NOT NULL REFERENCES accounts,
    stage            text NOT NULL,
    tone             text NOT NULL,
    phone_order      jsonb NOT NULL,
    attempts_per_day integer NOT NULL,
    min_numbers      integer NOT NULL,
    due_from         timestamptz NOT NULL,
    status           text NOT NULL DEFAULT 'open',
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE letter_jobs (
    action_key  text PRIMARY KEY REFERENCES action_log,
    account_id  text NOT NULL REFERENCES accounts,
    letter_kind text NOT NULL,
    template    text NOT NULL,
    locale      text NOT NULL,
    delivery    text NOT NULL,
    address     text NOT NULL,
    amount_minor bigint NOT NULL,
    currency    char(3) NOT NULL,
    status      text NOT NULL DEFAULT 'queued',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE field_visit_orders (
    action_key  text PRIMARY KEY REFERENCES action_log,
    account_id  text NOT NULL REFERENCES accounts,
    purpose     text NOT NULL,
    address     text NOT NULL,
    status      text NOT NULL DEFAULT 'open',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agency_placements (
    action_key      text PRIMARY KEY REFERENCES action_log,
    account_id      text NOT NULL REFERENCES accounts,
    agency_id       text NOT NULL,
    placed_minor    bigint NOT NULL,
    currency        char(3) NOT NULL,
    commission_rate numeric(5, 4) NOT NULL,
    placed_at       timestamptz NOT NULL,
    recall_at       timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'placed',
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Escalations and reviews for people inside the business (supervisor, manager, customer lock, write-off review).
CREATE TABLE internal_tasks (
    action_key        text PRIMARY KEY REFERENCES action_log,
    account_id        text NOT NULL REFERENCES accounts,
    task              text NOT NULL,
    requires_approval boolean NOT NULL,
    status            text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);
