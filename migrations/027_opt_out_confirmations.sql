-- The one confirmation FCC 24-24 allows after an opt-out Twilio does not confirm itself ("OPT OUT", 退订, TD): the text
-- our answer to the reply's webhook carried, kept as evidence it was sent (NULL: the answer carried none).
ALTER TABLE inbound_sms ADD COLUMN opt_out_confirmation text;
