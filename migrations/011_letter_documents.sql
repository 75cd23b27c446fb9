-- Letters as documents: the facts each letter states (fixed when its step was taken), the rendered PDF with its
-- checksum, the daily batches handed to the print-and-mail vendor, and the delivery evidence it sends back.
ALTER TABLE letter_jobs ADD COLUMN letter_ref text UNIQUE;
ALTER TABLE letter_jobs ADD COLUMN facts jsonb;
ALTER TABLE letter_jobs ADD COLUMN batch_id text;
-- The vendor's last word on the letter: sent, signed or returned (status says where it is on our side).
ALTER TABLE letter_jobs ADD COLUMN delivery_status text;
CREATE INDEX letter_jobs_queued ON letter_jobs (created_at) WHERE status = 'queued';

CREATE TABLE letter_documents (
    action_key  text PRIMARY KEY REFERENCES letter_jobs,
    letter_ref  text NOT NULL UNIQUE,
    pdf         bytea NOT NULL,
    sha256      char(64) NOT NULL,
    pages       integer NOT NULL,
    rendered_at timestamptz NOT NULL DEFAULT now()
);

-- status: writing (letters claimed, files not yet in the drop folder), dropped (the vendor may take it).
CREATE TABLE letter_batches (
    batch_id        text PRIMARY KEY,
    status          text NOT NULL,
    letters         integer NOT NULL,
    folder          text NOT NULL,
    manifest_sha256 char(64),
    created_at      timestamptz NOT NULL DEFAULT now(),
    dropped_at      timestamptz
);

CREATE TABLE letter_events (
    letter_ref  text NOT NULL REFERENCES letter_jobs (letter_ref),
    event_id    text NOT NULL,
    status      text NOT NULL,
    reason      text,
    evidence    text NOT NULL DEFAULT '',
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (letter_ref, event_id)
);
