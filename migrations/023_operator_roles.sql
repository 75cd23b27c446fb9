-- Operators' roles (roles/*.yaml names them) and the creditors whose accounts they see (NULL: every creditor).
-- Operators from before roles hold none until `collections operators add NAME --role ...` gives them some.
ALTER TABLE operators
    ADD COLUMN roles     text[] NOT NULL DEFAULT '{}',
    ADD COLUMN creditors text[];

-- Who decided an approval is the signed-in operator (decided_by); the policy's approver role they decided as.
ALTER TABLE approvals ADD COLUMN decided_as text;
