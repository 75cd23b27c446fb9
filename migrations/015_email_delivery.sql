-- E-mail goes out through the SMTP relay inside its activity, once, as texts do: status sending, sent, rejected,
-- retry (the relay provably did not take it), unknown (it may have: never sent again) or withdrawn.
ALTER TABLE email_jobs ADD COLUMN message_id text;
ALTER TABLE email_jobs ADD COLUMN error_code integer;
ALTER TABLE email_jobs ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
-- What a refusal said of the recipient (opted_out, invalid_recipient), so a retried activity tells the account too.
ALTER TABLE email_jobs ADD COLUMN refusal text;
ALTER TABLE sms_messages ADD COLUMN refusal text;
