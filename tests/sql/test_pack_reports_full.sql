-- Every report can be recomputed from scratch (invariant 5): each table and
-- view in the reports schema has a function reports.<name>_full() with the
-- same columns, which the pack's "incremental equals full" tests compare it
-- with (tests/sql/test_<pack>_incremental.sql). Settings tables (one row a
-- person edits, reports.<pack>_settings) are not reports. Fails listing the
-- reports without one.
--
-- Run by tests/sql/run_sql_test.sh in a fresh database migrated with every
-- built-in pack.

\set ON_ERROR_STOP 1
\o /dev/null
set client_min_messages = warning;

do $$
declare
  missing text;
  reports integer;
begin
  select count(*), string_agg(format('%s (%s)', c.oid::regclass, problem), E'\n  ' order by c.relname)
           filter (where problem is not null)
    into reports, missing
    from pg_class c
    cross join lateral (
      select case
               when f.oid is null then 'no reports.' || c.relname || '_full()'
               when (select array_agg(a.attname::text order by a.attnum) from pg_attribute a
                      where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped)
                    is distinct from
                    (select array_agg(n order by i) from unnest(f.proargnames, f.proargmodes) with ordinality
                                                    as x(n, m, i) where m = 't')
                 then 'its _full() returns other columns'
             end as problem
        from (select null) x
        left join pg_proc f on f.pronamespace = 'reports'::regnamespace and f.proname = c.relname || '_full'
                           and f.pronargs = 0) p
   where c.relnamespace = 'reports'::regnamespace and c.relkind in ('r', 'v', 'm', 'p')
     and c.relname !~ '_settings$';
  if reports < 8 then
    raise exception 'expected the reports of every built-in pack, found %', reports;
  end if;
  if missing is not null then
    raise exception E'these reports cannot be recomputed from scratch:\n  %', missing;
  end if;
end
$$;
