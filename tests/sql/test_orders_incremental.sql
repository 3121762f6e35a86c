-- Incremental equals full, for the orders pack: a generated shop history (new
-- orders, payments, shipments, cancellations, quantity changes, deleted lines,
-- deleted orders; see pg_temp.orders_generate() in lib/orders_helpers.sql) is
-- loaded as the replicator and the loader would: the change log of source
-- shop in commit order but cut into batches of random size, and CSV exports
-- (stale ones included, and orders only the exports know) in random order,
-- cut into pieces, between those batches. Along the way core and the reports
-- must equal the pack's *_full() functions and core.orders_rebuild()'s
-- recompute from staging; at the end they must equal the shop's final state
-- computed straight from the history.
--
-- Run by tests/sql/run_sql_test.sh in a fresh migrated database.

\set ON_ERROR_STOP 1
\o /dev/null
set client_min_messages = warning;
set synchronous_commit = off;  -- speed only
set jit = off;

\ir lib/helpers.sql
\ir lib/orders_helpers.sql

select pg_temp.orders_generate(0.271828, 1200, 10);

-- The data has what it should ----------------------------------------------------------------

select pg_temp.assert_true('the history has every kind of change',
  (select count(*) from gen_cdc where tbl = 'orders' and status = 'cancelled') > 50
  and (select count(*) from gen_cdc where tbl = 'orders' and op = 'd') > 20
  and (select count(*) from gen_cdc where tbl = 'lines' and op = 'u') > 50
  and (select count(*) from gen_cdc where tbl = 'lines' and op = 'd') > 100);
select pg_temp.assert_true('exports hold orders the change log changed after them, and orders only they know',
  (select count(*) from gen_export e join gen_file f using (file) join gen_order o on o.id = e.order_id
    where o.id < 100000 and (o.shipped_at > f.at or o.cancelled_at > f.at)) > 100
  and (select count(distinct order_id) from gen_export where order_id > 100000) > 50);
select pg_temp.assert_true('an order appears in several exports',
  (select count(*) from (select order_id from gen_export group by 1 having count(distinct file) > 1) x) > 100);

-- Load, checking along the way ----------------------------------------------------------------

create temp table script as
select row_number() over (order by step) as n, stmt from pg_temp.orders_load_script(0.5);
select pg_temp.assert_true('the load has many batches of the change log, and pieces of exports',
  (select count(*) from script where stmt like '%shop_orders%') > 100
  and (select count(*) from script where stmt like '%orders_export%') > 15);

select case when n % 120 = 0 then stmt || '; select pg_temp.assert_orders_equals_full(''after step ' || n || ''')'
            else stmt end
  from script order by n
\gexec

select pg_temp.assert_true('everything is in staging',
  (select count(*) from staging.shop_orders) + (select count(*) from staging.shop_order_lines) = (select count(*) from gen_cdc)
  and (select count(*) from staging.orders_export) = (select count(*) from gen_export));

select pg_temp.assert_orders_equals_full('at the end');

select pg_temp.assert_same('orders_daily equals the shop''s final state',
  'select * from reports.orders_daily', 'select * from pg_temp.orders_truth_daily()');

select pg_temp.assert_same('one current status version per order that exists in the change log, none for deleted ones',
  'select order_id from core.orders_status_history where is_current',
  'select id from gen_order where id < 100000 and deleted_at is null');

select pg_temp.assert_same('orders_product_pairs equals pairs counted from core.orders_line',
  'select * from reports.orders_product_pairs',
  $$select a.product_id, b.product_id, count(*)::int
      from core.orders_order o
      join core.orders_line a on a.order_id = o.order_id
      join core.orders_line b on b.order_id = o.order_id and b.product_id > a.product_id
     where o.status <> 'cancelled'
     group by 1, 2$$);
