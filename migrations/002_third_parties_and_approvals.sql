-- A call task says how far the stage may involve contact persons (domain §2: e.g. never disclose the debt in 6-17).
ALTER TABLE call_tasks ADD COLUMN third_parties text NOT NULL DEFAULT 'none';
-- Letters and placements the policy marks as needing approval wait for it (domain §9: the owner's approval).
ALTER TABLE letter_jobs ADD COLUMN requires_approval boolean NOT NULL DEFAULT false;
ALTER TABLE agency_placements ADD COLUMN requires_approval boolean NOT NULL DEFAULT false;
