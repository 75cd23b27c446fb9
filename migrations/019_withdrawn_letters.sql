-- Letters a batch did not print because their accounts stopped being collected (paid, disputed, closed) first.
ALTER TABLE letter_batches ADD COLUMN withdrawn integer NOT NULL DEFAULT 0;
