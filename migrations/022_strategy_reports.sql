-- Strategy reports, written off the workflow path by a scheduled job; a request to /reports only reads the latest.
CREATE TABLE strategy_reports (
    report_id    text PRIMARY KEY,
    period_start date NOT NULL,
    period_end   date NOT NULL,
    html         text NOT NULL,
    csv          text NOT NULL,
    written_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX strategy_reports_latest ON strategy_reports (written_at DESC);

-- The people who may read the reports in a browser: a password (scrypt, never stored in the clear) and the sessions
-- it opened (the cookie's token is kept only as its sha256, so a read of this table opens no session).
CREATE TABLE operators (
    name          text PRIMARY KEY,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE operator_sessions (
    token_sha256 char(64) PRIMARY KEY,
    operator     text NOT NULL REFERENCES operators ON DELETE CASCADE,
    expires_at   timestamptz NOT NULL
);
