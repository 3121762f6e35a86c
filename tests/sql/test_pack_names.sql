-- Packs are uniform in what they name: every table, view, sequence, index and
-- function a pack puts into the schemas people query (staging, core, reports)
-- is named after the pack, `<pack>` or `<pack>_...`, so that two packs never
-- meet on a name and a reader knows whose an object is. Exceptions, each for
-- a reason:
--   * core.dim_date (and its index and key), sluice's own calendar, shared;
--   * a replication source's change logs (the replicator's shape: _op and
--     _lsn columns) and their indexes, which the replicator names
--     `<source>_<table>` (the orders pack creates source shop's in advance);
--   * the product_usage pack's reports, named as the use case asks for them
--     (reports.product_feature_retention, ...): `product_...`, so no other
--     pack may begin with product_.
-- Fails listing what is named otherwise.
--
-- Run by tests/sql/run_sql_test.sh in a fresh database migrated with every
-- built-in pack.

\set ON_ERROR_STOP 1
\o /dev/null
set client_min_messages = warning;

do $$
declare
  packs text[] := array(select name from sluice.packs where name <> 'sluice');
  change_logs oid[] := array(
    select c.oid from pg_class c
     where c.relnamespace = 'staging'::regnamespace and c.relkind = 'r'
       and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = '_op')
       and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = '_lsn'));
  unnamed text;
begin
  if cardinality(packs) < 4 then
    raise exception 'expected every built-in pack to be installed, found %', packs;
  end if;
  select string_agg(what, E'\n  ' order by what) into unnamed
    from (select format('%s %s', case c.relkind when 'r' then 'table' when 'p' then 'table' when 'v' then 'view'
                                               when 'm' then 'materialized view' when 'S' then 'sequence'
                                               when 'i' then 'index' else c.relkind::text end,
                        c.oid::regclass) as what, c.relname as name
            from pg_class c
           where c.relnamespace in ('staging'::regnamespace, 'core'::regnamespace, 'reports'::regnamespace)
             and c.relkind in ('r', 'p', 'v', 'm', 'S', 'i')
             and not c.oid = any (change_logs)
             and not exists (select 1 from pg_index x where x.indexrelid = c.oid and x.indrelid = any (change_logs))
             and not (c.relnamespace = 'core'::regnamespace and c.relname in ('dim_date', 'dim_date_pkey',
                                                                             'dim_date_date_key_key'))
          union all
          select format('function %s', p.oid::regprocedure), p.proname
            from pg_proc p
           where p.pronamespace in ('staging'::regnamespace, 'core'::regnamespace, 'reports'::regnamespace)) x
   where not exists (select 1 from unnest(packs) k where x.name = k or x.name like k || '\_%')
     and not (x.name like 'product\_%' and 'product_usage' = any (packs));
  if unnamed is not null then
    raise exception E'these are not named after their pack (<pack> or <pack>_...):\n  %', unnamed;
  end if;
end
$$;
