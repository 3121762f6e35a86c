-- Sales pack benchmark: is a month-partitioned core.sales_fact worth it, and
-- what do the report and a batch cost with 10M facts? Run it in a throwaway
-- database migrated with the sales pack (it creates schema bench and, with
-- -v real=1, fills the pack's own tables):
--
--   source scripts/lib.sh; sluice_throwaway_cluster
--   psql -X -d "$SLUICE_THROWAWAY_DSN" -c 'create database bench'
--   build/app/sluice migrate --dsn "$SLUICE_THROWAWAY_DSN dbname=bench" --packs sales
--   psql -X -d "$SLUICE_THROWAWAY_DSN dbname=bench" -v facts=10000000 -v real=1 -f scripts/bench_sales.sql
--
-- Part 1 (unless -v part1=0): two copies of core.sales_fact with the same `facts` rows,
-- one plain, one partitioned by month of date_key (36 partitions), with the
-- same indexes; then, on each, the best and median of 3 runs of: the monthly
-- report grouped from the facts (what a view over the facts would run), the
-- same for one month (a BI filter), a batch of 10,000 sales (9,000 new,
-- 1,000 corrections, 100 of which move to another month), and the re-pointing
-- of one product's facts over 20 days. Writes are rolled back after each run.
-- Part 2 (-v real=1): staging.sales with `facts` rows, core built by
-- core.sales_rebuild(), then the real trigger on a batch of 10,000 staging
-- rows, and reports.sales_monthly as it is (a view over the kept sums).

\set ON_ERROR_STOP 1
\if :{?facts}
\else
  \set facts 10000000
\endif
\if :{?real}
\else
  \set real 0
\endif
\if :{?part1}
\else
  \set part1 1
\endif
set client_min_messages = warning;
set jit = off;
\pset pager off
\o /dev/null

\if :part1
drop schema if exists bench cascade;
\endif
create schema if not exists bench;

create table if not exists bench.results (what text, variant text, best_ms numeric, median_ms numeric);

-- Runs `sql` `runs` times (rolling back what it writes) and records the best
-- and median wall-clock time.
create or replace function bench.time(what text, variant text, sql text, runs integer default 3) returns void
  language plpgsql
as $$
declare
  t0 timestamptz;
  times numeric[] := '{}';
begin
  for run in 1 .. runs loop
    begin
      t0 := clock_timestamp();
      execute sql;
      times := times || (extract(epoch from clock_timestamp() - t0) * 1000)::numeric;
      raise exception using errcode = 'P0001', message = 'bench: roll back';
    exception
      when sqlstate 'P0001' then null;
    end;
  end loop;
  insert into bench.results
  select what, variant, round(min(t), 1), round(percentile_cont(0.5) within group (order by t)::numeric, 1)
    from unnest(times) as t;
end
$$;

\if :part1
-- Dimensions: 200 products with 3 versions, 50 retailers with 2, over 2022-2024.
create table bench.dim_product (like core.sales_dim_product including all);
create table bench.dim_retailer (like core.sales_dim_retailer including all);
insert into bench.dim_product (product_id, product_name, brand, category, valid_from, valid_to)
select p, 'Product ' || p || ' v' || v, 'Brand' || p % 20, 'Category' || p % 7,
       case v when 1 then date '2022-01-01' when 2 then date '2023-01-01' else date '2024-01-01' end,
       case v when 1 then date '2023-01-01' when 2 then date '2024-01-01' else date 'infinity' end
  from generate_series(1, 200) p, generate_series(1, 3) v;
insert into bench.dim_retailer (retailer_id, retailer_name, channel, location, valid_from, valid_to)
select r, 'Retailer ' || r || ' v' || v, case when r % 3 = 0 then 'Online' else 'Offline' end,
       case when r % 3 = 0 then null else 'City ' || r % 11 end,
       case v when 1 then date '2022-01-01' else date '2023-07-01' end,
       case v when 1 then date '2023-07-01' else date 'infinity' end
  from generate_series(1, 50) r, generate_series(1, 2) v;
analyze bench.dim_product, bench.dim_retailer;

-- Facts: sale ids in sale-date order (as a source system numbers them), dates
-- spread over 2022-2024 with a few days of noise, so a table loaded export by
-- export is roughly in date order.
create table bench.fact_rows as
select i::bigint as sale_id,
       core.sales_date_key(least(date '2024-12-31', greatest(date '2022-01-01',
         date '2022-01-01' + (i::numeric * 1096 / :facts)::integer + floor(random() * 7)::integer - 3))) as date_key,
       1 + floor(random() * 200)::integer as product_id,
       1 + floor(random() * 50)::integer as retailer_id,
       case when random() < 0.03 then -1 else 1 + floor(random() * 5)::integer end as quantity
  from generate_series(1, :facts) as i;

create table bench.fact_plain (like core.sales_fact);
insert into bench.fact_plain
select f.sale_id, f.date_key, p.product_key, r.retailer_key, f.quantity, f.quantity * 150.00
  from bench.fact_rows f
  join bench.dim_product p on p.product_id = f.product_id
   and p.valid_from <= to_date(f.date_key::text, 'YYYYMMDD') and to_date(f.date_key::text, 'YYYYMMDD') < p.valid_to
  join bench.dim_retailer r on r.retailer_id = f.retailer_id
   and r.valid_from <= to_date(f.date_key::text, 'YYYYMMDD') and to_date(f.date_key::text, 'YYYYMMDD') < r.valid_to
 order by f.sale_id;
alter table bench.fact_plain add primary key (sale_id);
create index on bench.fact_plain (date_key);
create index on bench.fact_plain (product_key, date_key);
create index on bench.fact_plain (retailer_key, date_key);

-- Partitioned: the partition key must be in every unique index, so sale_id
-- is unique only together with date_key; a plain index on sale_id finds a
-- sale whose month is not known.
create table bench.fact_part (like core.sales_fact) partition by range (date_key);
select format('create table bench.fact_part_%s partition of bench.fact_part for values from (%s) to (%s)',
              to_char(m, 'YYYYMM'), to_char(m, 'YYYYMMDD'), to_char(m + interval '1 month', 'YYYYMMDD'))
  from generate_series(date '2022-01-01', date '2024-12-01', interval '1 month') m
\gexec
create table bench.fact_part_default partition of bench.fact_part default;
insert into bench.fact_part select * from bench.fact_plain order by sale_id;
alter table bench.fact_part add primary key (sale_id, date_key);
create index on bench.fact_part (sale_id);
create index on bench.fact_part (date_key);
create index on bench.fact_part (product_key, date_key);
create index on bench.fact_part (retailer_key, date_key);
drop table bench.fact_rows;
vacuum analyze bench.fact_plain;
vacuum analyze bench.fact_part;

-- A batch: 9,000 new sales in the last month, 1,000 corrections of random
-- earlier sales (100 of them move to the next month).
create table bench.batch as
select (:facts + i)::bigint as sale_id, 20241200 + 1 + i % 31 as date_key,
       (select product_key from bench.dim_product where product_id = 1 + i % 200 and valid_to = 'infinity') as product_key,
       (select retailer_key from bench.dim_retailer where retailer_id = 1 + i % 50 and valid_to = 'infinity') as retailer_key,
       1 + i % 5 as quantity, (1 + i % 5) * 150.00 as amount
  from generate_series(1, 9000) i
union all
select f.sale_id,
       case when c.n <= 100 then core.sales_date_key(to_date(f.date_key::text, 'YYYYMMDD') + 31) else f.date_key end,
       f.product_key, f.retailer_key, f.quantity + 1, f.amount + 10
  from (select row_number() over () as n, d.sale_id
          from (select distinct 1 + floor(random() * (:facts - 1))::bigint as sale_id
                  from generate_series(1, 1100)) d
         limit 1000) c
  join bench.fact_plain f on f.sale_id = c.sale_id;
analyze bench.batch;

\set report_sql 'select core.sales_key_month(f.date_key) as month, p.product_name, r.retailer_name, r.channel, sum(f.quantity)::bigint as quantity, sum(f.amount) as revenue from bench.%s f join bench.dim_product p on p.product_key = f.product_key join bench.dim_retailer r on r.retailer_key = f.retailer_key where f.quantity > 0 %s group by 1, 2, 3, 4'

select bench.time('monthly report from the facts', t,
                  format(:'report_sql', t, ''))
  from unnest(array['fact_plain', 'fact_part']) t;
select bench.time('one month of it (BI filter)', t,
                  format(:'report_sql', t, 'and f.date_key between 20240301 and 20240331'))
  from unnest(array['fact_plain', 'fact_part']) t;

-- The batch: plain upserts on sale_id; partitioned cannot (sale_id alone is
-- not unique there), so it deletes the batch's sale ids wherever they are and
-- inserts.
select bench.time('batch of 10,000 sales (9,000 new, 1,000 corrections)', 'fact_plain',
  $$insert into bench.fact_plain as f select * from bench.batch
    on conflict (sale_id) do update
       set date_key = excluded.date_key, product_key = excluded.product_key,
           retailer_key = excluded.retailer_key, quantity = excluded.quantity, amount = excluded.amount$$);
select bench.time('batch of 10,000 sales (9,000 new, 1,000 corrections)', 'fact_part',
  $$delete from bench.fact_part f using bench.batch b where f.sale_id = b.sale_id;
    insert into bench.fact_part select * from bench.batch$$);

select bench.time('re-point one product''s facts over 20 days', t,
  format($$update bench.%s set product_key = (select product_key from bench.dim_product where product_id = 7 and valid_to = 'infinity')
            where product_key = (select product_key from bench.dim_product where product_id = 7 and valid_to = '2024-01-01')
              and date_key >= 20231210 and date_key < 20231230$$, t))
  from unnest(array['fact_plain', 'fact_part']) t;

-- What reports.sales_monthly does instead: sums per (month, product key,
-- retailer key) kept by the triggers, joined to the dimensions at query time.
create table bench.month_totals as
select core.sales_key_month(date_key) as month, product_key, retailer_key,
       sum(quantity)::bigint as quantity, sum(amount) as revenue, count(*) as sales
  from bench.fact_plain where quantity > 0 group by 1, 2, 3;
alter table bench.month_totals add primary key (month, product_key, retailer_key);
analyze bench.month_totals;
select bench.time('monthly report from the kept sums (the view)', 'month_totals',
  $$select t.month, p.product_name, r.retailer_name, r.channel, sum(t.quantity)::bigint, sum(t.revenue)
      from bench.month_totals t
      join bench.dim_product p on p.product_key = t.product_key
      join bench.dim_retailer r on r.retailer_key = t.retailer_key
     group by 1, 2, 3, 4$$);

\o
select pg_size_pretty(pg_total_relation_size('bench.fact_plain')) as plain_size,
       (select pg_size_pretty(sum(pg_total_relation_size(c.oid)))
          from pg_inherits i join pg_class c on c.oid = i.inhrelid
         where i.inhparent = 'bench.fact_part'::regclass) as partitioned_size,
       (select count(*) from bench.month_totals) as month_total_rows,
       current_setting('work_mem') as work_mem, current_setting('shared_buffers') as shared_buffers;
\endif

-- Part 2: the pack's own tables -------------------------------------------------------------

\if :real
\o /dev/null
truncate staging.sales;
select core.sales_rebuild();
insert into sluice.files (id, feed, path, state)
select i, 'sales', format('sales/bench-%s.csv', i), 'loaded' from generate_series(1, 101) i
on conflict (id) do nothing;

-- The same shape of data: 200 products and 50 retailers renamed at the turn
-- of 2023 (and retailers mid-2023), sale ids in date order, 1% without a
-- product id, 3% returns; one file per 1% of the rows. Without the trigger:
-- one statement of 10M rows is the rebuild's job (the trigger works per
-- batch, in memory).
alter table staging.sales disable trigger sales_rows;
insert into staging.sales (_file_id, _record, sale_id, product_id, product_name, brand, category,
                           retailer_id, retailer_name, channel, location, quantity, price, sale_date)
select 1 + (i - 1) / (:facts / 100), i, i, x.product_id,
       'Product ' || coalesce(x.product_id, 0) || ' v' || (extract(year from x.d)::integer - 2021),
       'Brand' || coalesce(x.product_id, 0) % 20, 'Category' || coalesce(x.product_id, 0) % 7,
       x.retailer_id, 'Retailer ' || x.retailer_id || case when x.d < '2023-07-01' then ' v1' else ' v2' end,
       case when x.retailer_id % 3 = 0 then 'Online' else 'Offline' end,
       case when x.retailer_id % 3 = 0 then null else 'City ' || x.retailer_id % 11 end,
       x.quantity, x.quantity * 150.00, x.d
  from (select i,
               case when random() < 0.01 then null else 1 + floor(random() * 200)::integer end as product_id,
               1 + floor(random() * 50)::integer as retailer_id,
               case when random() < 0.03 then -1 else 1 + floor(random() * 5)::integer end as quantity,
               least(date '2024-12-31', greatest(date '2022-01-01',
                 date '2022-01-01' + (i::numeric * 1096 / :facts)::integer + floor(random() * 7)::integer - 3)) as d
          from generate_series(1, :facts) i) x;
alter table staging.sales enable trigger sales_rows;
\o
\timing on
select core.sales_rebuild();
\timing off
\o /dev/null
vacuum analyze staging.sales, core.sales_fact, core.sales_dim_product, core.sales_dim_retailer,
               core.sales_product_days, core.sales_retailer_days, core.sales_month_totals,
               reports.sales_data_quality;

-- A real batch through the trigger: file 101, 9,000 new sales in the last
-- month and 1,000 corrections of random earlier sales.
create table bench.staging_batch as
select 101::bigint as _file_id, i::bigint as _record, (:facts + i)::bigint as sale_id,
       1 + i % 200 as product_id, 'Product ' || (1 + i % 200) || ' v3' as product_name,
       'Brand' || (1 + i % 200) % 20 as brand, 'Category' || (1 + i % 200) % 7 as category,
       1 + i % 50 as retailer_id, 'Retailer ' || (1 + i % 50) || ' v2' as retailer_name,
       case when (1 + i % 50) % 3 = 0 then 'Online' else 'Offline' end as channel,
       case when (1 + i % 50) % 3 = 0 then null else 'City ' || (1 + i % 50) % 11 end as location,
       1 + i % 5 as quantity, ((1 + i % 5) * 150.00)::numeric(12,2) as price,
       date '2024-12-01' + i % 31 as sale_date
  from generate_series(1, 9000) i
union all
select 101, 9000 + c.n, s.sale_id, s.product_id, s.product_name, s.brand, s.category, s.retailer_id,
       s.retailer_name, s.channel, s.location, s.quantity + 1, s.price + 10, s.sale_date
  from (select row_number() over () as n, d.sale_id
          from (select distinct 1 + floor(random() * (:facts - 1))::bigint as sale_id
                  from generate_series(1, 1100)) d
         limit 1000) c
  join staging.sales s on s.sale_id = c.sale_id;
select bench.time('batch of 10,000 staging rows through the trigger', 'core (real)',
  'insert into staging.sales select * from bench.staging_batch');
select bench.time('reports.sales_monthly (the view)', 'core (real)',
  'select * from reports.sales_monthly');
select bench.time('reports.sales_monthly, one month', 'core (real)',
  $$select * from reports.sales_monthly where month = '2024-03-01'$$);
\endif

\o
select what, variant, best_ms, median_ms from bench.results order by what, variant;
