-- Record retention (issue 14, item 6). Every evidence row carries the retention class its account's rule set
-- requires, `<rule set>:<years>` (us_reg_f:3, 12 CFR 1006.100; cn_consumer:5, NIFA art. 21), taken from its account
-- when the row is written. No evidence row may be deleted while its class holds it: while the account is open, and
-- until that many years after it closed (a row without a class is kept for good). The daily erasure only blanks
-- personal data; the evidence itself stays.
ALTER TABLE accounts ADD COLUMN retention_class text NOT NULL DEFAULT '';

CREATE FUNCTION evidence_retention_class() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.retention_class = '' THEN
        NEW.retention_class := coalesce((SELECT retention_class FROM accounts WHERE account_id = NEW.account_id), '');
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION evidence_kept() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    closed timestamptz := (SELECT closed_at FROM accounts WHERE account_id = OLD.account_id AND status <> 'open');
    years integer := nullif(split_part(OLD.retention_class, ':', 2), '')::integer;
BEGIN
    IF closed IS NULL OR years IS NULL OR closed + make_interval(years => years) > now() THEN
        RAISE EXCEPTION 'evidence of account % is kept under retention class %: not deleted (%)',
            OLD.account_id, coalesce(nullif(OLD.retention_class, ''), 'none'), TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
END $$;

-- The evidence tables, each with its class and both triggers. A later migration adds its own evidence tables with
-- keep_as_evidence(ARRAY[...]).
CREATE FUNCTION evidence_tables() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$ SELECT '{}'::text[] $$;

CREATE FUNCTION keep_as_evidence(added text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t text;
BEGIN
    EXECUTE format('CREATE OR REPLACE FUNCTION evidence_tables() RETURNS text[] LANGUAGE sql IMMUTABLE AS %L',
                   format('SELECT %L::text[]', evidence_tables() || added));
    FOREACH t IN ARRAY added LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN retention_class text NOT NULL DEFAULT %L', t, '');
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON %I FOR EACH ROW EXECUTE FUNCTION evidence_retention_class()',
                       t || '_retention_class', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE DELETE ON %I FOR EACH ROW EXECUTE FUNCTION evidence_kept()',
                       t || '_kept', t);
    END LOOP;
END $$;

SELECT keep_as_evidence(ARRAY['action_log', 'contact_checks', 'contact_events', 'payments', 'payment_reversals',
                              'commitments', 'approvals', 'contact_ceases', 'disputes', 'debtor_events',
                              'fraud_claims', 'call_attempts', 'third_party_checks', 'visit_evidence',
                              'bureau_reports']);

-- An account opened before classes existed gets its class when it closes (infra/retention.keep), and so does its
-- evidence written without one.
CREATE FUNCTION set_retention_class(account text, class text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t text;
BEGIN
    UPDATE accounts SET retention_class = class WHERE account_id = account AND retention_class = '';
    FOREACH t IN ARRAY evidence_tables() LOOP
        EXECUTE format('UPDATE %I SET retention_class = $2 WHERE account_id = $1 AND retention_class = %L', t, '')
            USING account, class;
    END LOOP;
END $$;
