-- Orders pack on a hand-computed fixture: change-log rows inserted into
-- staging.shop_* as the replicator writes them (source shop), and CSV export
-- rows as the loader writes them (feed orders, with their sluice.files rows).
-- Every expected value below was worked out by hand; see the comments.
--
-- Run by tests/sql/run_sql_test.sh in a fresh migrated database.

\set ON_ERROR_STOP 1
\o /dev/null
set client_min_messages = warning;
set time zone 'UTC';

\ir lib/helpers.sql
\ir lib/orders_helpers.sql

-- Exports: A at 2024-03-02 10:30Z, C at 13:30Z, B at 2024-03-03 12:00Z; D has
-- no time in its name, so it counts from when sluice first saw it.
insert into sluice.files (id, feed, path, state, head_hash, done_hash, first_seen_at) values
  (1, 'orders', 'orders/orders-20240302T103000Z.csv', 'loaded', 'a', 'a', '2024-03-10 00:00Z'),
  (2, 'orders', 'orders/orders-20240303T120000Z.csv.gz', 'loaded', 'b', 'b', '2024-03-10 00:00Z'),
  (3, 'orders', 'orders/orders-20240302T133000Z.csv', 'loaded', 'c', 'c', '2024-03-10 00:00Z'),
  (4, 'orders', 'orders/manual.csv', 'loaded', 'd', 'd', '2024-03-01 00:00Z');

select pg_temp.assert_true('an export''s time comes from its name, else from when it was first seen',
  core.orders_export_time(1) = '2024-03-02 10:30Z' and core.orders_export_time(2) = '2024-03-03 12:00Z'
  and core.orders_export_time(4) = '2024-03-01 00:00Z');

-- Day 2024-03-01, all from the change log.
--   10: placed 09:00 with (1) 2 x 5.00 and (2) 1 x 3.50; paid 10:00; shipped 11:00.
--   11: placed 09:30 with (1) 1 x 5.00 and (3) 1 x 20.00; cancelled 10:30.
--   12: placed 23:30 with (2) 3 x 3.50 and (1) 1 x 5.00; the line of (1) is
--       deleted and the order touched without a status change at 23:50.
insert into staging.shop_orders (_op, _lsn, _seq, _commit_at, _unchanged, _old_order_id, order_id, customer_id, ordered_at, status, updated_at) values
  ('i', '0/100', 1, '2024-03-01 09:00Z', null, null, 10, 1, '2024-03-01 09:00Z', 'placed', '2024-03-01 09:00Z'),
  ('i', '0/150', 1, '2024-03-01 09:30Z', null, null, 11, 2, '2024-03-01 09:30Z', 'placed', '2024-03-01 09:30Z');
insert into staging.shop_order_lines (_op, _lsn, _seq, _commit_at, _unchanged, _old_order_id, _old_product_id, order_id, product_id, quantity, unit_price) values
  ('i', '0/100', 2, '2024-03-01 09:00Z', null, null, null, 10, 1, 2, 5.00),
  ('i', '0/100', 3, '2024-03-01 09:00Z', null, null, null, 10, 2, 1, 3.50),
  ('i', '0/150', 2, '2024-03-01 09:30Z', null, null, null, 11, 1, 1, 5.00),
  ('i', '0/150', 3, '2024-03-01 09:30Z', null, null, null, 11, 3, 1, 20.00);
insert into staging.shop_orders (_op, _lsn, _seq, _commit_at, _unchanged, _old_order_id, order_id, customer_id, ordered_at, status, updated_at) values
  ('u', '0/200', 1, '2024-03-01 10:00Z', null, null, 10, 1, '2024-03-01 09:00Z', 'paid', '2024-03-01 10:00Z'),
  ('u', '0/250', 1, '2024-03-01 10:30Z', null, null, 11, 2, '2024-03-01 09:30Z', 'cancelled', '2024-03-01 10:30Z'),
  ('u', '0/300', 1, '2024-03-01 11:00Z', null, null, 10, 1, '2024-03-01 09:00Z', 'shipped', '2024-03-01 11:00Z'),
  ('i', '0/400', 1, '2024-03-01 23:30Z', null, null, 12, 3, '2024-03-01 23:30Z', 'placed', '2024-03-01 23:30Z');
insert into staging.shop_order_lines (_op, _lsn, _seq, _commit_at, _unchanged, _old_order_id, _old_product_id, order_id, product_id, quantity, unit_price) values
  ('i', '0/400', 2, '2024-03-01 23:30Z', null, null, null, 12, 2, 3, 3.50),
  ('i', '0/400', 3, '2024-03-01 23:30Z', null, null, null, 12, 1, 1, 5.00),
  ('d', '0/500', 1, '2024-03-01 23:50Z', null, null, null, 12, 1, null, null);
insert into staging.shop_orders (_op, _lsn, _seq, _commit_at, _unchanged, _old_order_id, order_id, customer_id, ordered_at, status, updated_at) values
  ('u', '0/500', 2, '2024-03-01 23:50Z', null, null, 12, 3, '2024-03-01 23:30Z', 'placed', '2024-03-01 23:50Z');

select pg_temp.assert_same('day one: 10 and 12 count (11 is cancelled, the deleted line of 12 is gone)',
  'select * from reports.orders_daily',
  $$values ('2024-03-01'::date, 2, 6, 24.00, 3.00, 12.00)$$);

-- Day 2024-03-02: the two ways meet.
--   20: only in export B (2024-03-03 12:00): paid, (1) 1 x 4.50, (2) 2 x 3.50.
--   21: change log placed 10:00 with (3) 1 x 20.00, paid 11:00; export A
--       (10:30) says cancelled, but it is older than the payment: paid wins.
--   22: change log placed 12:00 with (1) and (3); export B (newer) says
--       cancelled: cancelled wins.
--   23: export C (13:30) has it placed with (1) 1 x 5.00; the change log
--       placed it at 13:00 and deleted it at 14:00: the older export does not
--       bring it back.
--   24: export D (first seen 2024-03-01 00:00, so older than everything) has
--       it shipped; the change log placed it at 2024-03-02 15:00 with (2) 4 x
--       3.50: placed wins (and counts all the same).
insert into staging.shop_orders (_op, _lsn, _seq, _commit_at, _unchanged, _old_order_id, order_id, customer_id, ordered_at, status, updated_at) values
  ('i', '0/600', 1, '2024-03-02 10:00Z', null, null, 21, 4, '2024-03-02 10:00Z', 'placed', '2024-03-02 10:00Z'),
  ('u', '0/700', 1, '2024-03-02 11:00Z', null, null, 21, 4, '2024-03-02 10:00Z', 'paid', '2024-03-02 11:00Z'),
  ('i', '0/800', 1, '2024-03-02 12:00Z', null, null, 22, 5, '2024-03-02 12:00Z', 'placed', '2024-03-02 12:00Z'),
  ('i', '0/900', 1, '2024-03-02 13:00Z', null, null, 23, 6, '2024-03-02 13:00Z', 'placed', '2024-03-02 13:00Z'),
  ('d', '0/a00', 2, '2024-03-02 14:00Z', null, null, 23, null, null, null, null),
  ('i', '0/b00', 1, '2024-03-02 15:00Z', null, null, 24, 8, '2024-03-02 15:00Z', 'placed', '2024-03-02 15:00Z');
insert into staging.shop_order_lines (_op, _lsn, _seq, _commit_at, _unchanged, _old_order_id, _old_product_id, order_id, product_id, quantity, unit_price) values
  ('i', '0/600', 2, '2024-03-02 10:00Z', null, null, null, 21, 3, 1, 20.00),
  ('i', '0/800', 2, '2024-03-02 12:00Z', null, null, null, 22, 1, 1, 5.00),
  ('i', '0/800', 3, '2024-03-02 12:00Z', null, null, null, 22, 3, 1, 20.00),
  ('i', '0/900', 2, '2024-03-02 13:00Z', null, null, null, 23, 1, 1, 5.00),
  ('d', '0/a00', 1, '2024-03-02 14:00Z', null, null, null, 23, 1, null, null),
  ('i', '0/b00', 2, '2024-03-02 15:00Z', null, null, null, 24, 2, 4, 3.50);
insert into staging.orders_export (_file_id, _record, order_id, ordered_at, customer_id, product_id, product_name, quantity, unit_price, status) values
  (2, 1, 20, '2024-03-02 08:00Z', 7, 1, 'Mug', 1, 4.50, 'paid'),
  (2, 2, 20, '2024-03-02 08:00Z', 7, 2, 'Tea', 2, 3.50, 'paid'),
  (2, 3, 22, '2024-03-02 12:00Z', 5, 1, 'Mug', 1, 5.00, 'cancelled'),
  (2, 4, 22, '2024-03-02 12:00Z', 5, 3, 'Teapot', 1, 20.00, 'cancelled');
insert into staging.orders_export (_file_id, _record, order_id, ordered_at, customer_id, product_id, product_name, quantity, unit_price, status) values
  (1, 1, 21, '2024-03-02 10:00Z', 4, 3, 'Pot', 1, 20.00, 'cancelled'),
  (3, 1, 23, '2024-03-02 13:00Z', 6, 1, 'Mug', 1, 5.00, 'placed'),
  (4, 1, 24, '2024-03-02 15:00Z', 8, 2, 'Tea', 4, 3.50, 'shipped');

select pg_temp.assert_same('each order keeps its latest state by source time',
  'select order_id, status, origin from core.orders_order',
  $$values (10::bigint, 'shipped', 'cdc'), (11, 'cancelled', 'cdc'), (12, 'placed', 'cdc'), (20, 'paid', 'csv'),
           (21, 'paid', 'cdc'), (22, 'cancelled', 'csv'), (24, 'placed', 'cdc')$$);

-- 03-01: 10 (3 items, 13.50) and 12 (3 items, 10.50).
-- 03-02: 20 (3 items, 11.50), 21 (1 item, 20.00), 24 (4 items, 14.00):
--        3 orders, 8 items, 45.50; 8/3 = 2.67, 45.50/3 = 15.17.
select pg_temp.assert_same('orders_daily by the day placed, cancelled and deleted orders left out',
  'select * from reports.orders_daily',
  $$values ('2024-03-01'::date, 2, 6, 24.00, 3.00, 12.00), ('2024-03-02', 3, 8, 45.50, 2.67, 15.17)$$);

-- Baskets counted: 10 {1,2}, 12 {2}, 20 {1,2}, 21 {3}, 24 {2}. (11 {1,3} and
-- 22 {1,3} are cancelled; 23 is deleted.)
select pg_temp.assert_same('orders_product_pairs counts counted orders holding both products',
  'select * from reports.orders_product_pairs',
  $$values (1::bigint, 2::bigint, 2)$$);

select pg_temp.assert_same('orders_status_history: a version per status change, from the change log',
  'select order_id, version, status, valid_from, valid_to, is_current from core.orders_status_history',
  $$values (10::bigint, 1, 'placed', '2024-03-01 09:00Z'::timestamptz, '2024-03-01 10:00Z'::timestamptz, false),
           (10, 2, 'paid', '2024-03-01 10:00Z', '2024-03-01 11:00Z', false),
           (10, 3, 'shipped', '2024-03-01 11:00Z', null, true),
           (11, 1, 'placed', '2024-03-01 09:30Z', '2024-03-01 10:30Z', false),
           (11, 2, 'cancelled', '2024-03-01 10:30Z', null, true),
           (12, 1, 'placed', '2024-03-01 23:30Z', null, true),
           (21, 1, 'placed', '2024-03-02 10:00Z', '2024-03-02 11:00Z', false),
           (21, 2, 'paid', '2024-03-02 11:00Z', null, true),
           (22, 1, 'placed', '2024-03-02 12:00Z', null, true),
           (23, 1, 'placed', '2024-03-02 13:00Z', '2024-03-02 14:00Z', false),
           (24, 1, 'placed', '2024-03-02 15:00Z', null, true)$$);

select pg_temp.assert_same('core.orders_product names products by their latest word',
  'select product_id, name from core.orders_product',
  $$values (1::bigint, 'Mug'), (2, 'Tea'), (3, 'Teapot')$$);

-- A later change: 12 is cancelled at 2024-03-03 09:00 and 21's key changes
-- to 25 (an update of the key deletes the old one); the reports follow.
insert into staging.shop_orders (_op, _lsn, _seq, _commit_at, _unchanged, _old_order_id, order_id, customer_id, ordered_at, status, updated_at) values
  ('u', '0/c00', 1, '2024-03-03 09:00Z', null, null, 12, 3, '2024-03-01 23:30Z', 'cancelled', '2024-03-03 09:00Z'),
  ('u', '0/d00', 1, '2024-03-03 10:00Z', null, 21, 25, 4, '2024-03-02 10:00Z', 'paid', '2024-03-03 10:00Z');
insert into staging.shop_order_lines (_op, _lsn, _seq, _commit_at, _unchanged, _old_order_id, _old_product_id, order_id, product_id, quantity, unit_price) values
  ('u', '0/d00', 2, '2024-03-03 10:00Z', null, 21, 3, 25, 3, 1, 20.00);
-- 21 was paid in export A (older than the change of key)... no: A said
-- cancelled at 10:30, older than the CDC delete of 21 at 2024-03-03 10:00, so
-- 21 is gone and 25 counts in its place: 03-02 is unchanged.
select pg_temp.assert_same('a cancellation leaves its day; a changed key moves the order',
  'select * from reports.orders_daily',
  $$values ('2024-03-01'::date, 1, 3, 13.50, 3.00, 13.50), ('2024-03-02', 3, 8, 45.50, 2.67, 15.17)$$);
select pg_temp.assert_orders_equals_full('after a change of key');
select pg_temp.assert_same('the old key''s history ends where the key changed',
  'select order_id, version, status, valid_to, is_current from core.orders_status_history where order_id in (12, 21, 25)',
  $$values (12::bigint, 1, 'placed', '2024-03-03 09:00Z'::timestamptz, false), (12, 2, 'cancelled', null, true),
           (21, 1, 'placed', '2024-03-02 11:00Z', false), (21, 2, 'paid', '2024-03-03 10:00Z', false),
           (25, 1, 'paid', null, true)$$);

-- Truncate of both tables on the source at 2024-03-04 00:00, then order 30:
-- a truncate is a delete of every order at its commit time, so the change
-- log's orders before it are gone, and so are the orders of the exports, all
-- older than it (20, 22, 23, 24). Only 30 is left.
insert into staging.shop_orders (_op, _lsn, _seq, _commit_at, _unchanged, _old_order_id, order_id, customer_id, ordered_at, status, updated_at) values
  ('t', '0/e00', 1, '2024-03-04 00:00Z', null, null, null, null, null, null, null),
  ('i', '0/f00', 1, '2024-03-04 01:00Z', null, null, 30, 9, '2024-03-04 01:00Z', 'placed', '2024-03-04 01:00Z');
insert into staging.shop_order_lines (_op, _lsn, _seq, _commit_at, _unchanged, _old_order_id, _old_product_id, order_id, product_id, quantity, unit_price) values
  ('t', '0/e00', 2, '2024-03-04 00:00Z', null, null, null, null, null, null, null),
  ('i', '0/f00', 2, '2024-03-04 01:00Z', null, null, null, 30, 1, 2, 5.00);
select pg_temp.assert_same('a truncate deletes every order older than it, from either way',
  'select * from reports.orders_daily',
  $$values ('2024-03-04'::date, 1, 2, 10.00, 2.00, 10.00)$$);
select pg_temp.assert_true('a pair no counted order holds any more is gone, not left at zero',
  not exists (select from reports.orders_product_pairs));
select pg_temp.assert_same('after the truncate only the newer order and its line remain',
  'select order_id, product_id from core.orders_line', $$values (30::bigint, 1::bigint)$$);
select pg_temp.assert_true('a truncate closes every current version of the change log',
  (select count(*) from core.orders_status_history where is_current) = 1
  and (select order_id from core.orders_status_history where is_current) = 30);

-- Incremental equals full: the *_full() functions, and the rebuild.
select pg_temp.assert_orders_equals_full('after a truncate');
create temp table before_daily as select * from reports.orders_daily;
create temp table before_pairs as select * from reports.orders_product_pairs;
create temp table before_history as select * from core.orders_status_history;
create temp table before_orders as select * from core.orders_order;
create temp table before_lines as select * from core.orders_line;
select core.orders_rebuild();
select pg_temp.assert_same('rebuild equals incremental: orders_daily', 'table reports.orders_daily', 'table before_daily');
select pg_temp.assert_same('rebuild equals incremental: pairs', 'table reports.orders_product_pairs', 'table before_pairs');
select pg_temp.assert_same('rebuild equals incremental: history', 'table core.orders_status_history', 'table before_history');
select pg_temp.assert_same('rebuild equals incremental: orders', 'table core.orders_order', 'table before_orders');
select pg_temp.assert_same('rebuild equals incremental: lines', 'table core.orders_line', 'table before_lines');

-- Every table, view and column a user queries has a comment.
select pg_temp.assert_same('every orders table, view and column has a comment',
  $$select c.oid::regclass::text || coalesce('.' || a.attname, '')
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
     where n.nspname in ('staging', 'core', 'reports') and c.relkind in ('r', 'v')
       and (c.relname like 'orders%' or c.relname like 'shop%')
       and (a.attname is null and obj_description(c.oid, 'pg_class') is null
            or a.attname is not null and col_description(c.oid, a.attnum) is null)$$,
  'select null::text where false');
