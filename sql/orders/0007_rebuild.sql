-- Issue 15: after `sluice reload` removed an export's rows, the orders of core
-- and reports are recomputed from the exports and the change logs (its
-- triggers only add).
insert into sluice.rebuilds (name, pack, inputs, command) values
  ('orders', 'orders', '{staging.orders_export}', 'select core.orders_rebuild()');
