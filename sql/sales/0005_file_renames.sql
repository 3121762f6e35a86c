-- Sales pack: reports.sales_data_quality names files by their paths; when
-- sluice follows an export to a new name (sluice.files.path changes: a file
-- renamed, or moved out of the inbox and back), the findings that name it
-- are computed again, so that the report keeps equal to
-- reports.sales_data_quality_full().
--
-- BUG (soak seed 17, 2026-12-05): a loaded export renamed kept its old path
-- in the findings' detail, and the report no longer equalled its full
-- recompute.
--
-- Only the sale ids that have a finding can name a file: each is probed in
-- staging's (sale_id, _file_id, ...) index, so a rename costs one probe per
-- finding, and nothing for the files of other feeds.

create function core.sales_on_file_renamed() returns trigger
  language plpgsql
as $$
declare
  ids bigint[];
begin
  -- The same turn the batches take (0004_maintenance.sql): a batch of these
  -- sale ids that commits meanwhile is seen whole or not at all.
  perform pg_advisory_xact_lock(hashtext('sluice.pack:sales'));
  select array_agg(q.sale_id) into ids
    from (select distinct sale_id from reports.sales_data_quality) q
   where exists (select 1 from staging.sales s where s.sale_id = q.sale_id and s._file_id = new.id);
  if ids is null then
    return null;
  end if;
  delete from reports.sales_data_quality q where q.sale_id = any (ids);
  insert into reports.sales_data_quality (sale_id, rule, detail)
  select x.sale_id, x.rule, x.detail from core.sales_findings(ids) x;
  return null;
end
$$;
comment on function core.sales_on_file_renamed() is
  'Row trigger on sluice.files (path changed, feed sales): computes again the findings of reports.sales_data_quality whose detail names that file.';

create trigger sales_file_renamed
  after update of path on sluice.files
  for each row
  when (new.feed = 'sales' and old.path is distinct from new.path)
  execute function core.sales_on_file_renamed();
