-- Placements as the agencies work them: the reference they quote, what they recovered, how the placement ended,
-- and every report they sent (payments, news, hand-backs). status: awaiting_approval, placed, recalled, settled.
ALTER TABLE agency_placements ADD COLUMN placement_ref text UNIQUE;
ALTER TABLE agency_placements ADD COLUMN recovered_minor bigint NOT NULL DEFAULT 0;
ALTER TABLE agency_placements ADD COLUMN ended_at timestamptz;
ALTER TABLE agency_placements ADD COLUMN end_reason text NOT NULL DEFAULT '';

CREATE TABLE agency_reports (
    placement_ref text NOT NULL REFERENCES agency_placements (placement_ref),
    report_id     text NOT NULL,
    kind          text NOT NULL,
    amount_minor  bigint,
    commission_minor bigint,
    note          text NOT NULL DEFAULT '',
    occurred_at   timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (placement_ref, report_id)
);
