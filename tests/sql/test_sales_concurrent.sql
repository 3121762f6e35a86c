-- Concurrent loads: the loader streams batches on several connections, so two
-- batches with the same sale id, or the same product, can be in flight at
-- once. Two dblink sessions play those batches: session a inserts and holds
-- its transaction open, session b inserts meanwhile, then a commits. b must
-- wait for a (the pack's advisory lock) and then see a's rows, so the result
-- equals the full recompute, as if they had run one after the other.
--
--   1. Same sale id, b's file later: b's values win, and the sale counts once
--      in the per-day counts (without waiting, b would not see a's row to
--      take it out).
--   2. Same sale id, b's file earlier (loaded alongside, committed later):
--      a's values stay.
--   3. Different sales of one product, each batch with another name of it:
--      the versions are those of both batches' sales.
--
-- Run by tests/sql/run_sql_test.sh in a fresh migrated database. Needs the
-- dblink extension (in Debian's postgresql package) and a server that lets its
-- superuser connect to itself over its unix socket without a password, as the
-- throwaway cluster of scripts/test.sh does.

\set ON_ERROR_STOP 1
\o /dev/null
set client_min_messages = warning;

\ir lib/helpers.sql
\ir lib/sales_helpers.sql

\ir lib/sessions.sql

insert into sluice.files (id, feed, path, state)
select i, 'sales', format('sales/export-%s.csv', i), 'loaded' from generate_series(1, 7) i;

select pg_temp.connect('a');
select pg_temp.connect('b') as b_pid \gset

-- 1. Same sale id, b's file later ------------------------------------------------------------
select dblink_exec('a', 'begin');
select dblink_exec('a', $$
  insert into staging.sales values
    (2, 1, 1, 1, 'Laptop', 'BrandA', 'Electronics', 1, 'TechGear', 'Online', null, 2, 3000.00, '2024-02-10')$$);
select pg_temp.start('b', $$
  insert into staging.sales values
    (3, 1, 1, 1, 'Laptop', 'BrandA', 'Electronics', 1, 'TechGear', 'Online', null, 3, 4500.00, '2024-02-10')$$);
select pg_temp.assert_true('a batch with a sale id another open batch holds waits for it', pg_temp.blocked(:b_pid));
select dblink_exec('a', 'commit');
select pg_temp.finish('b');

select pg_temp.assert_same('the later file''s values count, once',
  $$select f.sale_id, f.quantity, f.amount, (select sum(sales) from core.sales_product_days)
      from core.sales_fact f$$,
  $$values (1::bigint, 3, 4500.00::numeric(12,2), 1::bigint)$$);

-- 2. Same sale id, b's file earlier ----------------------------------------------------------
select dblink_exec('a', 'begin');
select dblink_exec('a', $$
  insert into staging.sales values
    (5, 1, 2, 2, 'Kettle', 'BrandB', 'Appliances', 1, 'TechGear', 'Online', null, 5, 250.00, '2024-02-11')$$);
select pg_temp.start('b', $$
  insert into staging.sales values
    (4, 1, 2, 2, 'Kettle', 'BrandB', 'Appliances', 1, 'TechGear', 'Online', null, 4, 200.00, '2024-02-11')$$);
select pg_temp.assert_true('also when its file is the earlier one', pg_temp.blocked(:b_pid));
select dblink_exec('a', 'commit');
select pg_temp.finish('b');

select pg_temp.assert_same('the file loaded later (higher id) wins, whichever committed last',
  'select sale_id, quantity, amount from core.sales_fact where sale_id = 2',
  $$values (2::bigint, 5, 250.00::numeric(12,2))$$);

-- 3. One product, two names, two batches ------------------------------------------------------
select dblink_exec('a', 'begin');
select dblink_exec('a', $$
  insert into staging.sales values
    (6, 1, 3, 1, 'Laptop Pro', 'BrandA', 'Electronics', 1, 'TechGear', 'Online', null, 1, 1500.00, '2024-02-01')$$);
select pg_temp.start('b', $$
  insert into staging.sales values
    (7, 1, 4, 1, 'Laptop X', 'BrandA', 'Electronics', 1, 'TechGear', 'Online', null, 1, 1500.00, '2024-01-20')$$);
select pg_temp.assert_true('a batch with a product another open batch changes waits for it', pg_temp.blocked(:b_pid));
select dblink_exec('a', 'commit');
select pg_temp.finish('b');

select pg_temp.assert_same('product 1 has the versions of both batches',
  'select product_name, valid_from, valid_to from core.sales_dim_product where product_id = 1',
  $$values ('Laptop X', date '2024-01-20', date '2024-02-01'), ('Laptop Pro', '2024-02-01', '2024-02-10'),
           ('Laptop', '2024-02-10', 'infinity')$$);

select pg_temp.assert_sales_equals_full('after the concurrent batches');

select dblink_disconnect('a');
select dblink_disconnect('b');
