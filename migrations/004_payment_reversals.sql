-- Bounced debits and chargebacks, with why; the payment's own row keeps what it was when applied.
CREATE TABLE payment_reversals (
    account_id     text NOT NULL REFERENCES accounts,
    payment_id     text NOT NULL,
    verdict        text NOT NULL,
    reason         text NOT NULL,
    restored_minor bigint NOT NULL,
    reversed_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, payment_id)
);
