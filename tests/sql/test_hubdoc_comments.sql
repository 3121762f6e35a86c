-- The warehouse explains itself: every table, view and materialized view in the
-- schemas people query (staging, core, reports, settings), and every column of them, has
-- a COMMENT. Fails listing what lacks one.
--
-- Run by tests/sql/run_sql_test.sh in a fresh migrated database.

\set ON_ERROR_STOP 1
\o /dev/null
set client_min_messages = warning;

do $$
declare
  missing text;
begin
  select string_agg(what, E'\n  ' order by what) into missing
    from (select format('%s %I.%I', case c.relkind when 'v' then 'view'
                                                   when 'm' then 'materialized view'
                                                   else 'table' end,
                        n.nspname, c.relname) as what
            from pg_class c
            join pg_namespace n on n.oid = c.relnamespace
           where n.nspname in ('staging', 'core', 'reports', 'settings')
             and c.relkind in ('r', 'p', 'v', 'm', 'f')
             and c.relispartition is false
             and coalesce(obj_description(c.oid, 'pg_class'), '') !~ '\S'
          union all
          select format('column %I.%I.%I', n.nspname, c.relname, a.attname)
            from pg_class c
            join pg_namespace n on n.oid = c.relnamespace
            join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
           where n.nspname in ('staging', 'core', 'reports', 'settings')
             and c.relkind in ('r', 'p', 'v', 'm', 'f')
             and c.relispartition is false
             and coalesce(col_description(c.oid, a.attnum), '') !~ '\S') x;
  if missing is not null then
    raise exception E'these have no COMMENT (add one that tells a person what it holds):\n  %', missing;
  end if;
  if (select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname in ('staging', 'core', 'reports', 'settings') and c.relkind in ('r', 'v')) < 10 then
    raise exception 'expected the staging, core and reports tables to exist; is the database migrated?';
  end if;
end
$$;
