-- What Twilio tells us back about texts: handsets that opted out, replies, and how our texts ended. Twilio retries
-- its webhooks, so each is recorded once (by MessageSid, and status); `signalled` is NULL until the accounts it
-- concerns have been told, then says how that went per account ('' when there was nothing to tell).

-- Handsets that texted STOP (Twilio refuses our sends to them, error 21610, until they text START).
CREATE TABLE sms_opt_outs (
    number       text PRIMARY KEY,
    opted_out_at timestamptz NOT NULL,
    source       text NOT NULL CHECK (source IN ('reply', 'twilio_21610')),
    message_sid  text NOT NULL
);

-- Every text a handset sent to our number, with what it was read as and the accounts of that debtor mobile.
CREATE TABLE inbound_sms (
    message_sid text PRIMARY KEY,
    from_number text NOT NULL,
    to_number   text NOT NULL,
    body        text NOT NULL,
    intent      text NOT NULL,
    account_ids text[] NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    signalled   text
);

-- Twilio's status callbacks for our texts, once per message and status.
CREATE TABLE sms_status_events (
    message_sid text NOT NULL,
    status      text NOT NULL,
    error_code  integer,
    account_ids text[] NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    signalled   text,
    PRIMARY KEY (message_sid, status)
);

-- A callback names the text by Twilio's sid; a reply names the debtor by the number it came from.
CREATE INDEX IF NOT EXISTS sms_messages_by_twilio_sid ON sms_messages (twilio_sid);
CREATE INDEX IF NOT EXISTS contact_points_by_value ON contact_points (value);
