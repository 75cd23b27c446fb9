-- Each e-mail's own opt-out link (12 CFR 1006.6(e)): an unguessable token in the mail, written with it on the first
-- attempt, so every attempt and the List-Unsubscribe header carry the same link.
ALTER TABLE email_jobs ADD COLUMN opt_out_token text UNIQUE;

-- Addresses that asked for no more e-mail (by the link or by replying UNSUBSCRIBE): no mail of ours goes to them.
-- Kept as evidence of the request, as sms_opt_outs is.
CREATE TABLE email_opt_outs (
    address      text PRIMARY KEY,
    opted_out_at timestamptz NOT NULL,
    source       text NOT NULL CHECK (source IN ('link', 'reply')),
    reference    text NOT NULL  -- the mail's opt-out token, or the reply's Message-Id
);

-- Every e-mail the mail vendor forwarded to us (a reply to ours, or one written to our address), once per Message-Id.
CREATE TABLE inbound_email (
    message_id   text PRIMARY KEY,
    sender       text NOT NULL,
    subject      text NOT NULL,
    body         text NOT NULL,
    in_reply_to  text,  -- the Message-Id of our mail it answers, when it names one of ours
    intent       text NOT NULL,
    account_ids  text[] NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    signalled    text
);

-- What debtors wrote that a person must read and answer: texts that are no keyword, e-mail replies. One row per
-- account the message concerns; its words stay in inbound_sms or inbound_email.
CREATE TABLE debtor_replies (
    reply_ref   text PRIMARY KEY,
    channel     text NOT NULL CHECK (channel IN ('sms', 'email')),
    source_id   text NOT NULL,  -- the text's MessageSid or the e-mail's Message-Id
    account_id  text NOT NULL REFERENCES accounts,
    received_at timestamptz NOT NULL,
    status      text NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'taken', 'answered')),
    taken_by    text,
    taken_at    timestamptz,
    answered_at timestamptz,
    answer_note text,
    UNIQUE (source_id, account_id)
);
CREATE INDEX debtor_replies_waiting ON debtor_replies (received_at) WHERE status <> 'answered';
