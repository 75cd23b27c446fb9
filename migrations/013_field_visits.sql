-- Field-visit orders as the field team works them (domain §8): the reference an agent quotes, why the visit is
-- warranted, the team's queue, the deadline, the addresses found invalid (never visited), who took the order, and
-- the finding reported back. status: open, assigned, reported.
ALTER TABLE field_visit_orders ADD COLUMN visit_ref text UNIQUE;
ALTER TABLE field_visit_orders ADD COLUMN reason text NOT NULL DEFAULT '';
ALTER TABLE field_visit_orders ADD COLUMN field_queue text NOT NULL DEFAULT '';
ALTER TABLE field_visit_orders ADD COLUMN deadline timestamptz;
ALTER TABLE field_visit_orders ADD COLUMN invalid_addresses jsonb NOT NULL DEFAULT '[]';
ALTER TABLE field_visit_orders ADD COLUMN assigned_to text;
ALTER TABLE field_visit_orders ADD COLUMN assigned_at timestamptz;
ALTER TABLE field_visit_orders ADD COLUMN finding text;
ALTER TABLE field_visit_orders ADD COLUMN notes text NOT NULL DEFAULT '';
ALTER TABLE field_visit_orders ADD COLUMN photos jsonb NOT NULL DEFAULT '[]';
ALTER TABLE field_visit_orders ADD COLUMN visited_at timestamptz;
CREATE INDEX field_visit_orders_open ON field_visit_orders (field_queue, deadline) WHERE status = 'open';
