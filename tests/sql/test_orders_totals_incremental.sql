-- Incremental equals full, for the orders pack's order-level exports (feed
-- order_totals): a generated run of exports, each holding the orders of its
-- last days, with corrected totals, customers that come back (one-time
-- customers turning repeat), orders of both totals 0 or below 0, a line
-- repeated in one file with a later correction, exports whose names carry no
-- time, all loaded in random order and cut into random pieces, as the loader
-- commits them. After every piece core.orders_total and the four reports must
-- equal their *_full() recomputations; at the end they must equal the truth
-- computed here from the generated orders, and core.orders_total_rebuild()
-- must give the same.
--
-- Run by tests/sql/run_sql_test.sh in a fresh migrated database.

\set ON_ERROR_STOP 1
\o /dev/null
set client_min_messages = warning;
set synchronous_commit = off;  -- speed only

\ir lib/helpers.sql

select setseed(0.161803);

-- 600 orders of 150 customers over 10 weeks; each has a final state and an
-- earlier one (other totals) that early exports hold.
create temp table gen_order as
select o as id,
       1 + (random() * 149)::int as user_id,
       timestamptz '2026-09-01 00:00:00Z' + random() * interval '70 days' as completed_at,
       case when o % 97 = 0 then 0 when o % 89 = 0 then -5.25 else round((random() * 200)::numeric, 2) end as item_total,
       case when o % 97 = 0 then 0 when o % 83 = 0 then -1.00 else round((random() * 15)::numeric, 2) end as shipment_total,
       round((random() * 200)::numeric, 2) as early_item_total,
       (random() < 0.1) as moved  -- its customer was corrected: early exports name another
  from generate_series(1, 600) o;
-- A few customers with exactly one order, the rest more.
update gen_order set user_id = 1000 + id where id % 11 = 0;

-- An export every 2 days from 2026-09-03; it holds the orders of its last 5
-- days: as they finally are when the export is 3 days or more after the
-- order, else in their early state.
create temp table gen_file as
select f as file, timestamptz '2026-09-03 06:00:00Z' + (f - 1) * interval '2 days' as at,
       (f % 9 = 0) as untimed
  from generate_series(1, 36) f;
insert into sluice.files (id, feed, path, state, head_hash, done_hash)
select file, 'order_totals',
       case when untimed then 'order_totals/export-' || file || '.csv'
            else 'order_totals/orders-' || to_char(at at time zone 'UTC', 'YYYYMMDD"T"HH24MISS"Z"') || '.csv' end,
       'loaded', 'h' || file, 'h' || file
  from gen_file;
create temp table gen_export as
select f.file, (row_number() over (partition by f.file order by o.id, v.version))::bigint as record,
       o.id, case when o.moved and not v.final then o.user_id + 500 else o.user_id end as user_id, o.completed_at,
       case when v.final then o.item_total else o.early_item_total end as item_total,
       o.shipment_total
  from gen_file f
  join gen_order o on o.completed_at < f.at and o.completed_at >= f.at - interval '5 days'
  cross join lateral (select f.at - o.completed_at >= interval '3 days' as final) w
  -- the early row, then (in the same file, a later line) the final one for
  -- every 7th order: within a file the later line wins
  cross join lateral (select w.final as final, 1 as version
                      union all
                      select true, 2 where o.id % 7 = 0 and not w.final) v;

select pg_temp.assert_true('the exports have what the test is about',
  (select count(*) from (select id from gen_export group by 1 having count(distinct file) > 1) x) > 300
  and (select count(*) from gen_export e join gen_order o using (id) where e.item_total <> o.item_total) > 100
  and (select count(*) from (select file, id from gen_export group by 1, 2 having count(*) > 1) x) > 10
  and (select count(*) from gen_export e join gen_file f using (file) where f.untimed) > 50
  and (select count(*) from gen_order where item_total = 0 and shipment_total = 0) > 3
  and (select count(*) from gen_order where item_total < 0 or shipment_total < 0) > 5
  and (select count(*) from (select user_id from gen_order group by 1 having count(*) = 1) x) > 20);

-- What each order's row is once every export is in: its row of the latest
-- timed export (the later line within it), else of the last untimed one.
create temp table truth as
select distinct on (e.id) e.id as order_id, e.user_id, e.completed_at, e.item_total, e.shipment_total
  from gen_export e join gen_file f using (file)
 order by e.id, f.untimed, f.at desc, e.file desc, e.record desc;

-- Load: the exports in random order, each cut into 1-3 pieces (batches).
create temp table pieces as
select row_number() over (order by random()) as n, file, lo, hi
  from (select e.file, min(e.record) as lo, max(e.record) as hi
          from (select file, record, ntile(1 + (file * 7 % 3)) over (partition by file order by record) as piece
                  from gen_export) e
         group by e.file, e.piece) p;

create function pg_temp.assert_totals_equal_full(label text) returns void
  language plpgsql
as $$
begin
  perform pg_temp.assert_same(label || ': core.orders_total',
    'select order_id, user_id, completed_at, item_total, shipment_total from core.orders_total',
    'select order_id, user_id, completed_at, item_total, shipment_total from core.orders_total_facts()');
  perform pg_temp.assert_same(label || ': orders_weekly', 'select * from reports.orders_weekly',
    'select * from reports.orders_weekly_full()');
  perform pg_temp.assert_same(label || ': orders_customer_mix', 'select * from reports.orders_customer_mix',
    'select * from reports.orders_customer_mix_full()');
  perform pg_temp.assert_same(label || ': orders_time_between', 'select * from reports.orders_time_between',
    'select * from reports.orders_time_between_full()');
  perform pg_temp.assert_same(label || ': orders_quality', 'select * from reports.orders_quality',
    'select * from reports.orders_quality_full()');
end
$$;

select format('insert into staging.orders_total_export (_file_id, _record, id, user_id, completed_at, item_total,'
              ' shipment_total) select file, record, id, user_id, completed_at, item_total, shipment_total'
              ' from gen_export where file = %s and record between %s and %s order by record;'
              ' select pg_temp.assert_totals_equal_full(%L)', file, lo, hi, 'after piece ' || n)
  from pieces order by n
\gexec

select pg_temp.assert_same('every order as the truth has it', 
  'select order_id, user_id, completed_at, item_total, shipment_total from core.orders_total',
  'select * from truth');

-- The reports against the truth, computed here another way: per order its
-- customer's count of orders and previous order by a self-join.
select pg_temp.assert_same('orders_weekly equals the truth', 'select * from reports.orders_weekly',
  $$select date_trunc('week', t.completed_at at time zone 'UTC')::date, count(*), sum(t.item_total),
           sum(t.shipment_total), round(sum(t.item_total) / count(*), 2),
           round(sum(t.item_total) filter (where n.c >= 2) / nullif(count(*) filter (where n.c >= 2), 0), 2),
           round(sum(t.item_total) filter (where n.c = 1) / nullif(count(*) filter (where n.c = 1), 0), 2)
      from truth t join (select user_id, count(*) as c from truth group by 1) n using (user_id)
     group by 1$$);
select pg_temp.assert_same('orders_customer_mix equals the truth', 'select * from reports.orders_customer_mix',
  $$select date_trunc('month', t.completed_at at time zone 'UTC')::date,
           coalesce(sum(t.item_total) filter (where n.c = 1), 0), coalesce(sum(t.item_total) filter (where n.c > 1), 0)
      from truth t join (select user_id, count(*) as c from truth group by 1) n using (user_id)
     group by 1$$);
select pg_temp.assert_same('orders_time_between equals the truth', 'select * from reports.orders_time_between',
  $$select date_trunc('week', t.completed_at at time zone 'UTC')::date,
           round(avg(extract(epoch from t.completed_at - p.completed_at) / 86400), 4)
      from truth t
      join lateral (select max(q.completed_at) as completed_at from truth q
                     where q.user_id = t.user_id and (q.completed_at, q.order_id) < (t.completed_at, t.order_id)) p
        on p.completed_at is not null
     group by 1$$);
select pg_temp.assert_same('orders_quality equals the truth', 'select * from reports.orders_quality',
  $$select order_id, 'zero_total' from truth where item_total = 0 and shipment_total = 0
    union all select order_id, 'negative_amount' from truth where item_total < 0 or shipment_total < 0$$);

-- The rebuild gives the same.
create temp table before_rebuild as
select 'weekly' as r, x::text as v from reports.orders_weekly x
union all select 'mix', x::text from reports.orders_customer_mix x
union all select 'between', x::text from reports.orders_time_between x
union all select 'quality', x::text from reports.orders_quality x
union all select 'core', x::text from core.orders_total x;
select core.orders_total_rebuild();
select pg_temp.assert_same('core.orders_total_rebuild() gives what the triggers gave',
  $$select 'weekly', x::text from reports.orders_weekly x
    union all select 'mix', x::text from reports.orders_customer_mix x
    union all select 'between', x::text from reports.orders_time_between x
    union all select 'quality', x::text from reports.orders_quality x
    union all select 'core', x::text from core.orders_total x$$,
  'select * from before_rebuild');
