-- Sales pack: its core tables carry the pack's name, as every other pack's do.
-- core.fact_sales, core.dim_product and core.dim_retailer were the only tables
-- of a pack without it, and two packs' products or retailers would have met
-- there. Their names now:
--
--   core.fact_sales   -> core.sales_fact          (as core.sales_fact_full() had it)
--   core.dim_product  -> core.sales_dim_product   (core.sales_dim_product_full())
--   core.dim_retailer -> core.sales_dim_retailer  (core.sales_dim_retailer_full())
--
-- Rows, keys, triggers and views stay: a rename keeps the table. What names a
-- table by its text follows here: the names of the tables' constraints,
-- indexes and identity sequences; the bodies of the functions that read or
-- write them (PL/pgSQL and SQL bodies in quotes are text: they would fail at
-- their next call), each created again from its own definition with the new
-- names; and the comments that mention them. Rewritten rather than copied out
-- of 0002-0004: those hold some 700 lines of function bodies, and a copy would
-- be a second source of truth to keep equal. The last statement checks that
-- nothing in the warehouse names the old tables any more.

alter table core.fact_sales rename to sales_fact;
alter table core.dim_product rename to sales_dim_product;
alter table core.dim_retailer rename to sales_dim_retailer;

do $rename$
declare
  renamed constant text[][] := array[['fact_sales', 'sales_fact'],
                                     ['dim_product', 'sales_dim_product'],
                                     ['dim_retailer', 'sales_dim_retailer']];
  pair text[];
  item record;
begin
  foreach pair slice 1 in array renamed loop
    -- Constraints (a primary key or unique constraint renames its index too).
    for item in
      select c.conname from pg_constraint c
       where c.conrelid = ('core.' || pair[2])::regclass and c.conname like pair[1] || '\_%'
    loop
      execute format('alter table core.%I rename constraint %I to %I', pair[2], item.conname,
                     pair[2] || substr(item.conname, length(pair[1]) + 1));
    end loop;
    -- Indexes that back no constraint.
    for item in
      select i.relname from pg_index x join pg_class i on i.oid = x.indexrelid
       where x.indrelid = ('core.' || pair[2])::regclass and i.relname like pair[1] || '\_%'
    loop
      execute format('alter index core.%I rename to %I', item.relname,
                     pair[2] || substr(item.relname, length(pair[1]) + 1));
    end loop;
    -- Identity sequences.
    for item in
      select s.relname from pg_depend d join pg_class s on s.oid = d.objid
       where d.refobjid = ('core.' || pair[2])::regclass and s.relkind = 'S' and s.relname like pair[1] || '\_%'
    loop
      execute format('alter sequence core.%I rename to %I', item.relname,
                     pair[2] || substr(item.relname, length(pair[1]) + 1));
    end loop;
  end loop;
end
$rename$;

-- core.fact_sales -> core.sales_fact, core.dim_x -> core.sales_dim_x, in a text.
create function pg_temp.sales_renamed(text) returns text
  language sql immutable
  return regexp_replace(regexp_replace($1, 'core\.fact_sales\M', 'core.sales_fact', 'g'),
                        'core\.(dim_product|dim_retailer)\M', 'core.sales_\1', 'g');

do $bodies$
declare
  item record;
begin
  for item in
    select p.oid from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname in ('core', 'reports', 'staging') and p.prosrc ~ 'core\.(fact_sales|dim_product|dim_retailer)\M'
  loop
    execute pg_temp.sales_renamed(pg_get_functiondef(item.oid));
  end loop;
end
$bodies$;

do $comments$
declare
  item record;
begin
  for item in
    select format('comment on %s %s is %L',
                  case c.relkind when 'v' then 'view' when 'm' then 'materialized view' else 'table' end,
                  c.oid::regclass, pg_temp.sales_renamed(d.description)) as stmt
      from pg_description d
      join pg_class c on c.oid = d.objoid and d.classoid = 'pg_class'::regclass and d.objsubid = 0
     where d.description ~ 'core\.(fact_sales|dim_product|dim_retailer)\M'
    union all
    select format('comment on column %s.%I is %L', c.oid::regclass, a.attname, pg_temp.sales_renamed(d.description))
      from pg_description d
      join pg_class c on c.oid = d.objoid and d.classoid = 'pg_class'::regclass
      join pg_attribute a on a.attrelid = c.oid and a.attnum = d.objsubid
     where d.objsubid > 0 and d.description ~ 'core\.(fact_sales|dim_product|dim_retailer)\M'
    union all
    select format('comment on function %s is %L', p.oid::regprocedure, pg_temp.sales_renamed(d.description))
      from pg_description d
      join pg_proc p on p.oid = d.objoid and d.classoid = 'pg_proc'::regclass
     where d.description ~ 'core\.(fact_sales|dim_product|dim_retailer)\M'
  loop
    execute item.stmt;
  end loop;
end
$comments$;

do $check$
declare
  left_over text;
begin
  select string_agg(what, ', ') into left_over
    from (select p.oid::regprocedure::text as what from pg_proc p
           where p.prosrc ~ '\m(fact_sales|dim_product|dim_retailer)\M'
             and p.pronamespace in ('core'::regnamespace, 'reports'::regnamespace, 'staging'::regnamespace)
          union all
          select 'the comment of ' || d.objoid from pg_description d
           where d.description ~ 'core\.(fact_sales|dim_product|dim_retailer)\M'
          union all
          select c.oid::regclass::text from pg_class c
           where c.relnamespace = 'core'::regnamespace and c.relname ~ '^(fact_sales|dim_product|dim_retailer)') x;
  if left_over is not null then
    raise exception 'still named after core.fact_sales, core.dim_product or core.dim_retailer: %', left_over;
  end if;
end
$check$;

drop function pg_temp.sales_renamed(text);
