-- Issue 15: after `sluice reload` removed a file's rows, the Pleo tables of
-- core (and so reports.pleo_cards_per_user) are recomputed from staging (its
-- triggers only add).
insert into sluice.rebuilds (name, pack, inputs, command) values
  ('pleo', 'pleo', '{staging.pleo_user,staging.pleo_card}', 'select core.pleo_rebuild()');
