-- An e-mail may carry a letter as PDF (the statement of account): its file name and checksum, as sent.
ALTER TABLE email_jobs ADD COLUMN attachment text;
ALTER TABLE email_jobs ADD COLUMN attachment_sha256 char(64);
