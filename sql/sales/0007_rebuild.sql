-- Issue 15: after `sluice reload` removed a file's rows, the sales tables of
-- core and reports are recomputed from staging (its triggers only add).
insert into sluice.rebuilds (name, pack, inputs, command) values
  ('sales', 'sales', '{staging.sales}', 'select core.sales_rebuild()');

-- The rebuild runs as the daemon's role (sluice_loader), which may truncate
-- the pack's tables but not restart their key sequences (only their owner
-- may): the keys go on from where they were; no report shows them.
do $$
declare
  def text := pg_get_functiondef('core.sales_rebuild()'::regprocedure);
begin
  if position(E'\n    restart identity;' in def) = 0 then
    raise exception 'sluice: core.sales_rebuild() does not end its truncate with restart identity as sales/0007 expects';
  end if;
  execute replace(def, E'\n    restart identity;', ';');
end
$$;
