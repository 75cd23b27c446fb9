-- A phone's line type as the numbering plan gives it when billing sends the number (fixed_line, mobile,
-- fixed_line_or_mobile ...): a known landline is never texted. NULL: not a phone, or on file from before.
ALTER TABLE contact_points ADD COLUMN line_type text;
