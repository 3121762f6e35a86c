-- Helpers of the orders pack's SQL tests (included with \ir after helpers.sql;
-- not a test itself).

-- Everything the triggers keep equals the pack's *_full() functions (the
-- recompute from staging by other code, 0005_full.sql) and
-- core.orders_rebuild()'s recompute. The rebuild runs in a subtransaction that
-- is rolled back, so the incremental state carries on untouched.
create function pg_temp.assert_orders_equals_full(label text) returns void
  language plpgsql
as $$
declare
  problem text;
begin
  perform pg_temp.assert_same(label || ': reports.orders_daily = reports.orders_daily_full()',
    'table reports.orders_daily', 'select * from reports.orders_daily_full()');
  perform pg_temp.assert_same(label || ': reports.orders_product_pairs = reports.orders_product_pairs_full()',
    'table reports.orders_product_pairs', 'select * from reports.orders_product_pairs_full()');
  perform pg_temp.assert_same(label || ': core.orders_order = core.orders_order_full()',
    'table core.orders_order', 'select * from core.orders_order_full()');
  perform pg_temp.assert_same(label || ': core.orders_line = core.orders_line_full()',
    'table core.orders_line', 'select * from core.orders_line_full()');
  perform pg_temp.assert_same(label || ': core.orders_basket = core.orders_basket_full()',
    'table core.orders_basket', 'select * from core.orders_basket_full()');
  perform pg_temp.assert_same(label || ': core.orders_status_history = core.orders_status_history_full()',
    'table core.orders_status_history', 'select * from core.orders_status_history_full()');
  begin
    create temp table inc_daily as select * from reports.orders_daily;
    create temp table inc_pairs as select * from reports.orders_product_pairs;
    create temp table inc_history as select * from core.orders_status_history;
    create temp table inc_orders as select * from core.orders_order;
    create temp table inc_lines as select * from core.orders_line;
    create temp table inc_baskets as select * from core.orders_basket;
    perform core.orders_rebuild();
    begin
      perform pg_temp.assert_same(label || ': reports.orders_daily', 'table inc_daily', 'table reports.orders_daily');
      perform pg_temp.assert_same(label || ': reports.orders_product_pairs', 'table inc_pairs', 'table reports.orders_product_pairs');
      perform pg_temp.assert_same(label || ': core.orders_status_history', 'table inc_history', 'table core.orders_status_history');
      perform pg_temp.assert_same(label || ': core.orders_order', 'table inc_orders', 'table core.orders_order');
      perform pg_temp.assert_same(label || ': core.orders_line', 'table inc_lines', 'table core.orders_line');
      perform pg_temp.assert_same(label || ': core.orders_basket', 'table inc_baskets', 'table core.orders_basket');
    exception when others then
      problem := sqlerrm;
    end;
    raise exception 'roll the rebuild back' using errcode = 'OR001';
  exception when sqlstate 'OR001' then
    null;
  end;
  if problem is not null then
    raise exception '%', problem;
  end if;
end
$$;

-- A shop's history, generated: gen_order and gen_line hold what happened (with
-- the times), gen_change the change-log rows the replicator would write for it
-- (source shop), gen_export the rows of CSV exports (one file every 12 hours,
-- each holding the orders placed in the 36 hours before it, in their state at
-- that time). Orders with ids from 100001 exist only in the exports (a shop
-- whose old orders never went through the database sluice replicates).
create function pg_temp.orders_generate(seed double precision, orders integer, exports integer) returns void
  language plpgsql
as $$
begin
  perform setseed(seed);
  create temp table gen_order as
  select id, 1 + (random() * 40)::int as customer,
         timestamptz '2024-03-01 00:00Z' + (random() * 5 * 1440)::int * interval '1 minute' as placed_at,
         random() as fate, random() as fate2, random() as fate3
    from (select g as id from generate_series(1, orders) g
          union all select 100000 + g from generate_series(1, orders / 5) g) ids;
  alter table gen_order
    add column paid_at timestamptz, add column shipped_at timestamptz,
    add column cancelled_at timestamptz, add column deleted_at timestamptz;
  update gen_order set cancelled_at = placed_at + (5 + (fate2 * 1000)::int) * interval '1 minute' where fate < 0.15;
  update gen_order set paid_at = placed_at + (1 + (fate2 * 600)::int) * interval '1 minute' where fate >= 0.15;
  update gen_order set shipped_at = paid_at + (60 + (fate3 * 2000)::int) * interval '1 minute' where fate >= 0.45;
  update gen_order set deleted_at = cancelled_at + (10 + (fate3 * 3000)::int) * interval '1 minute'
   where cancelled_at is not null and fate3 < 0.5 and id < 100000;

  create temp table gen_line as
  select o.id as order_id, p as product_id, 1 + (random() * 4)::int as quantity,
         (100 + (random() * 3000)::int) / 100.0 as unit_price, random() as fate, random() as fate2,
         row_number() over (partition by o.id order by p) as line_no
    from gen_order o
    cross join lateral (select distinct 1 + (random() * 11)::int + 0 * o.id as p
                          from generate_series(1, 1 + (o.fate3 * 4)::int)) ps;
  alter table gen_line add column quantity2 integer, add column changed_at timestamptz, add column deleted_at timestamptz;
  update gen_line l set quantity2 = l.quantity + 1,
         changed_at = o.placed_at + (1 + (l.fate2 * 300)::int) * interval '1 minute'
    from gen_order o where o.id = l.order_id and l.fate < 0.12 and o.id < 100000;
  update gen_line l set deleted_at = o.placed_at + (2 + (l.fate2 * 300)::int) * interval '1 minute'
    from gen_order o where o.id = l.order_id and l.fate > 0.9 and l.line_no > 1 and o.id < 100000;
  -- Nothing happens to a line after its order is deleted.
  update gen_line l set changed_at = null, quantity2 = null
    from gen_order o where o.id = l.order_id and o.deleted_at is not null and l.changed_at >= o.deleted_at;
  update gen_line l set deleted_at = null
    from gen_order o where o.id = l.order_id and o.deleted_at is not null and l.deleted_at >= o.deleted_at;

  -- The change log. kind orders its rows within a transaction: inserts of
  -- orders before their lines, deletes of lines before their order.
  create temp table gen_change (at timestamptz, kind int, tbl text, op text, order_id bigint, product_id bigint,
                                customer_id bigint, ordered_at timestamptz, status text, quantity int, unit_price numeric(10,2));
  insert into gen_change
  select placed_at, 1, 'orders', 'i', id, null::bigint, customer, placed_at, 'placed', null::int, null::numeric
    from gen_order where id < 100000
  union all select paid_at, 1, 'orders', 'u', id, null, customer, placed_at, 'paid', null, null from gen_order where id < 100000 and paid_at is not null
  union all select shipped_at, 1, 'orders', 'u', id, null, customer, placed_at, 'shipped', null, null from gen_order where id < 100000 and shipped_at is not null
  union all select cancelled_at, 1, 'orders', 'u', id, null, customer, placed_at, 'cancelled', null, null from gen_order where id < 100000 and cancelled_at is not null
  union all select deleted_at, 3, 'orders', 'd', id, null, null, null::timestamptz, null, null, null from gen_order where id < 100000 and deleted_at is not null
  union all select o.placed_at, 2, 'lines', 'i', l.order_id, l.product_id, null, null, null, l.quantity, l.unit_price
              from gen_line l join gen_order o on o.id = l.order_id where o.id < 100000
  union all select l.changed_at, 2, 'lines', 'u', l.order_id, l.product_id, null, null, null, l.quantity2, l.unit_price
              from gen_line l where l.changed_at is not null
  union all select l.deleted_at, 2, 'lines', 'd', l.order_id, l.product_id, null, null, null, null, null
              from gen_line l where l.deleted_at is not null
  union all select o.deleted_at, 2, 'lines', 'd', l.order_id, l.product_id, null, null, null, null, null
              from gen_line l join gen_order o on o.id = l.order_id
             where o.deleted_at is not null and l.deleted_at is null;
  create temp table gen_cdc as
  select c.*, dense_rank() over (order by at) as tx,
         (row_number() over (partition by at order by kind, order_id, product_id nulls first, tbl))::int as seq
    from gen_change c;
  alter table gen_cdc add column lsn pg_lsn;
  update gen_cdc set lsn = ('0/' || to_hex(1000 + tx * 64))::pg_lsn;

  -- The exports: every 12 hours, at hh:00:30 (never at the time of a change).
  create temp table gen_file as
  select f as file, timestamptz '2024-03-01 12:00:30Z' + (f - 1) * interval '12 hours' as at
    from generate_series(1, exports) f;
  insert into sluice.files (id, feed, path, state, head_hash, done_hash)
  select file, 'orders', 'orders/orders-' || to_char(at at time zone 'UTC', 'YYYYMMDD"T"HH24MISS"Z"') || '.csv',
         'loaded', 'h' || file, 'h' || file
    from gen_file;
  create temp table gen_export as
  select f.file, (row_number() over (partition by f.file order by o.id, l.product_id))::bigint as record,
         o.id as order_id, o.placed_at, o.customer, l.product_id,
         case when l.quantity2 is not null and l.changed_at <= f.at then l.quantity2 else l.quantity end as quantity,
         l.unit_price,
         case when o.cancelled_at <= f.at then 'cancelled' when o.shipped_at <= f.at then 'shipped'
              when o.paid_at <= f.at then 'paid' else 'placed' end as status
    from gen_file f
    join gen_order o on o.placed_at < f.at and o.placed_at >= f.at - interval '36 hours'
                    and (o.deleted_at is null or o.deleted_at > f.at)
    join gen_line l on l.order_id = o.id and (l.deleted_at is null or l.deleted_at > f.at);
end
$$;

-- The statements that load the generated history in random batches: the
-- change log in commit order cut into batches of random size (each batch one
-- statement per table, tables in random order), the exports' rows cut into
-- pieces, the pieces of the files in random order and spread between the
-- change-log batches.
create function pg_temp.orders_load_script(seed double precision) returns table (step double precision, stmt text)
  language plpgsql
as $$
declare
  batches integer;
begin
  perform setseed(seed);
  create temp table gen_tx_batch as
  select tx, sum(case when random() < 0.25 then 1 else 0 end) over (order by tx) as batch
    from (select distinct tx from gen_cdc) t;
  select max(batch) into batches from gen_tx_batch;
  create temp table gen_export_piece as
  select file, record, (random() * 2)::int as piece from gen_export;
  return query
  select b.batch::double precision + (case when t.tbl = 'orders' then r else 1 - r end) * 0.1, format(
           case t.tbl
             when 'orders' then
               'insert into staging.shop_orders (_op, _lsn, _seq, _commit_at, order_id, customer_id, ordered_at, status, updated_at)'
               ' select op, lsn, seq, at, order_id, customer_id, ordered_at, status, at from gen_cdc c'
               ' join gen_tx_batch b using (tx) where b.batch = %s and c.tbl = ''orders'' order by lsn, seq'
             else
               'insert into staging.shop_order_lines (_op, _lsn, _seq, _commit_at, order_id, product_id, quantity, unit_price)'
               ' select op, lsn, seq, at, order_id, product_id, quantity, unit_price from gen_cdc c'
               ' join gen_tx_batch b using (tx) where b.batch = %s and c.tbl = ''lines'' order by lsn, seq'
           end, b.batch)
    from (select distinct batch, random() as r from gen_tx_batch group by batch) b
    cross join (values ('orders'), ('lines')) t(tbl)
  union all
  select random() * (batches + 1), format(
           'insert into staging.orders_export (_file_id, _record, order_id, ordered_at, customer_id, product_id,'
           ' product_name, quantity, unit_price, status)'
           ' select e.file, e.record, e.order_id, e.placed_at, e.customer, e.product_id, ''Product '' || e.product_id,'
           ' e.quantity, e.unit_price, e.status from gen_export e join gen_export_piece p using (file, record)'
           ' where e.file = %s and p.piece = %s', p.file, p.piece)
    from (select distinct file, piece from gen_export_piece) p;
end
$$;

-- The shop's final state, straight from the generated history: CDC orders as
-- they ended; export-only orders as the latest export holding them says.
create function pg_temp.orders_truth_daily() returns table (day date, orders integer, items integer, revenue numeric,
                                                           avg_basket_items numeric, avg_basket_value numeric)
  language plpgsql
as $$
begin
  return query
  with final_order as (
    select id, placed_at,
           case when cancelled_at is not null then 'cancelled' when shipped_at is not null then 'shipped'
                when paid_at is not null then 'paid' else 'placed' end as status
      from gen_order where id < 100000 and deleted_at is null
    union all
    (select distinct on (e.order_id) e.order_id, e.placed_at, e.status
       from gen_export e join gen_file f using (file)
      where e.order_id > 100000
      order by e.order_id, f.at desc)),
  final_line as (
    select order_id, product_id, coalesce(quantity2, quantity) as quantity, unit_price
      from gen_line where order_id < 100000 and deleted_at is null
    union all
    select l.order_id, l.product_id, l.quantity, l.unit_price from gen_line l where l.order_id > 100000),
  basket as (
    select o.id, (o.placed_at at time zone 'UTC')::date as d, coalesce(sum(l.quantity), 0) as items,
           coalesce(sum(l.quantity * l.unit_price), 0) as revenue
      from final_order o left join final_line l on l.order_id = o.id
     where o.status <> 'cancelled'
     group by o.id, o.placed_at)
  select b.d, count(*)::int, sum(b.items)::int, sum(b.revenue), round(sum(b.items)::numeric / count(*), 2),
         round(sum(b.revenue) / count(*), 2)
    from basket b group by b.d;
end
$$;
