-- Orders pack, full recompute: each core table and report computed from
-- staging alone, in one statement over every order, by code of its own (window
-- functions over the whole change log and every export, where the maintenance
-- of 0004_maintenance.sql works order by order with DISTINCT ON and deltas). The
-- references the tests hold the triggers and core.orders_rebuild() to, as every
-- pack's *_full() functions are; they read all of staging, so they are for
-- checks, not dashboards. The rules are the header's of 0002_core.sql.

-- The state that counts of each order and each line: the last word of the
-- change log (by LSN: after the last truncate, a key change deleting the old
-- key, the truncate itself deleting whatever came before it), the last word of
-- the exports (by export time, then file, then row), and of the two the later
-- by source time, the change log at equal times.
create function core.orders_order_full()
  returns table (order_id bigint, customer_id bigint, ordered_at timestamptz, status text,
                 source_time timestamptz, origin text)
  language sql stable
as $$
  with cut as (
    select t._lsn, t._seq, t._commit_at from staging.shop_orders t
     where t._op = 't' order by t._lsn desc, t._seq desc limit 1),
  changes as (
    select o.order_id as id, o._op = 'd' as gone, o.customer_id, o.ordered_at, o.status, o._commit_at as at,
           o._lsn, o._seq
      from staging.shop_orders o
     where o._op in ('r', 'i', 'u', 'd')
    union all
    select o._old_order_id, true, null, null, null, o._commit_at, o._lsn, o._seq
      from staging.shop_orders o
     where o._op = 'u' and o._old_order_id is not null),
  after_cut as (
    select c.* from changes c
     where not exists (select 1 from cut where (c._lsn, c._seq) <= (cut._lsn, cut._seq))),
  exports as (
    select e.order_id as id, e.customer_id, e.ordered_at, e.status, core.orders_export_time(e._file_id) as at,
           e._file_id, e._record
      from staging.orders_export e),
  ids as (
    select id from after_cut union select id from exports),
  cdc_word as (
    select x.id, x.gone, x.customer_id, x.ordered_at, x.status, x.at
      from (select a.*, row_number() over (partition by a.id order by a._lsn desc, a._seq desc) as n
              from after_cut a) x
     where x.n = 1
    union all  -- no change since the last truncate: the truncate deleted it
    select i.id, true, null, null, null, cut._commit_at
      from ids i, cut
     where not exists (select 1 from after_cut a where a.id = i.id)),
  csv_word as (
    select x.id, false as gone, x.customer_id, x.ordered_at, x.status, x.at
      from (select e.*, row_number() over (partition by e.id order by e.at desc, e._file_id desc, e._record desc) as n
              from exports e) x
     where x.n = 1),
  words as (
    select w.*, 'cdc' as origin, 1 as rank from cdc_word w
    union all
    select w.*, 'csv', 0 from csv_word w)
  select x.id, x.customer_id, x.ordered_at, x.status, x.at, x.origin
    from (select w.*, row_number() over (partition by w.id order by w.at desc, w.rank desc) as n from words w) x
   where x.n = 1 and not x.gone and x.ordered_at is not null and x.status is not null
$$;
comment on function core.orders_order_full() is
  'core.orders_order computed from scratch from staging (the change log of source shop and the CSV exports).';

create function core.orders_line_full()
  returns table (order_id bigint, product_id bigint, quantity integer, unit_price numeric(10,2),
                 source_time timestamptz, origin text)
  language sql stable
as $$
  with cut as (
    select t._lsn, t._seq, t._commit_at from staging.shop_order_lines t
     where t._op = 't' order by t._lsn desc, t._seq desc limit 1),
  changes as (
    select l.order_id, l.product_id, l._op = 'd' as gone, l.quantity, l.unit_price, l._commit_at as at,
           l._lsn, l._seq
      from staging.shop_order_lines l
     where l._op in ('r', 'i', 'u', 'd')
    union all
    select l._old_order_id, l._old_product_id, true, null, null, l._commit_at, l._lsn, l._seq
      from staging.shop_order_lines l
     where l._op = 'u' and l._old_order_id is not null),
  after_cut as (
    select c.* from changes c
     where c.product_id is not null
       and not exists (select 1 from cut where (c._lsn, c._seq) <= (cut._lsn, cut._seq))),
  exports as (
    select e.order_id, e.product_id, e.quantity, e.unit_price, core.orders_export_time(e._file_id) as at,
           e._file_id, e._record
      from staging.orders_export e),
  keys as (
    select a.order_id, a.product_id from after_cut a union select e.order_id, e.product_id from exports e),
  cdc_word as (
    select x.order_id, x.product_id, x.gone, x.quantity, x.unit_price, x.at
      from (select a.*, row_number() over (partition by a.order_id, a.product_id
                                           order by a._lsn desc, a._seq desc) as n
              from after_cut a) x
     where x.n = 1
    union all
    select k.order_id, k.product_id, true, null, null, cut._commit_at
      from keys k, cut
     where not exists (select 1 from after_cut a where a.order_id = k.order_id and a.product_id = k.product_id)),
  csv_word as (
    select x.order_id, x.product_id, false as gone, x.quantity, x.unit_price, x.at
      from (select e.*, row_number() over (partition by e.order_id, e.product_id
                                           order by e.at desc, e._file_id desc, e._record desc) as n
              from exports e) x
     where x.n = 1),
  words as (
    select w.*, 'cdc' as origin, 1 as rank from cdc_word w
    union all
    select w.*, 'csv', 0 from csv_word w)
  select x.order_id, x.product_id, x.quantity, x.unit_price, x.at, x.origin
    from (select w.*, row_number() over (partition by w.order_id, w.product_id order by w.at desc, w.rank desc) as n
            from words w) x
   where x.n = 1 and not x.gone and x.quantity is not null and x.unit_price is not null
$$;
comment on function core.orders_line_full() is
  'core.orders_line computed from scratch from staging (the change log of source shop and the CSV exports).';

-- What the reports count: orders that exist and are not cancelled, with their
-- lines (an order without a line counts with 0 items).
create function core.orders_basket_full()
  returns table (order_id bigint, day date, items integer, revenue numeric, products bigint[])
  language sql stable
as $$
  select o.order_id, (o.ordered_at at time zone 'UTC')::date,
         coalesce(sum(l.quantity), 0)::integer,
         coalesce(sum(l.quantity * l.unit_price), 0),
         coalesce(array_agg(l.product_id order by l.product_id) filter (where l.product_id is not null), '{}')
    from core.orders_order_full() o
    left join core.orders_line_full() l on l.order_id = o.order_id
   where o.status <> 'cancelled'
   group by o.order_id, o.ordered_at
$$;
comment on function core.orders_basket_full() is
  'core.orders_basket computed from scratch from staging: each order that exists and is not cancelled, with its day (UTC), items, revenue and products.';

-- Status history: the runs of equal status in each order's change log (a
-- delete, a key change away, or a truncate is a run without status), each run
-- with a status a version, closed where the next run starts.
create function core.orders_status_history_full()
  returns table (order_id bigint, version integer, status text, valid_from timestamptz, valid_to timestamptz,
                 is_current boolean, from_lsn pg_lsn)
  language sql stable
as $$
  with ids as (
    select o.order_id as id from staging.shop_orders o where o.order_id is not null
    union
    select o._old_order_id from staging.shop_orders o where o._old_order_id is not null),
  events as (
    select o.order_id as id, o._lsn, o._seq, o._commit_at as at,
           case when o._op in ('r', 'i', 'u') then o.status end as status
      from staging.shop_orders o
     where o._op in ('r', 'i', 'u', 'd')
    union all
    select o._old_order_id, o._lsn, o._seq, o._commit_at, null
      from staging.shop_orders o
     where o._op = 'u' and o._old_order_id is not null
    union all
    select i.id, t._lsn, t._seq, t._commit_at, null
      from staging.shop_orders t cross join ids i
     where t._op = 't'),
  runs as (
    select e.*
      from (select e.*, lag(e.status) over (partition by e.id order by e._lsn, e._seq) as before from events e) e
     where e.status is distinct from e.before),
  versions as (
    select r.id, r.status, r.at, r._lsn,
           count(r.status) over (partition by r.id order by r._lsn, r._seq) as version,
           lead(r.at) over (partition by r.id order by r._lsn, r._seq) as until
      from runs r)
  select v.id, v.version::integer, v.status, v.at, v.until, v.until is null, v._lsn
    from versions v
   where v.status is not null
$$;
comment on function core.orders_status_history_full() is
  'core.orders_status_history computed from scratch from the change log staging.shop_orders.';

create function reports.orders_daily_full()
  returns table (day date, orders integer, items integer, revenue numeric, avg_basket_items numeric,
                 avg_basket_value numeric)
  language sql stable
as $$
  select b.day, count(*)::integer, sum(b.items)::integer, sum(b.revenue),
         round(sum(b.items)::numeric / count(*), 2), round(sum(b.revenue) / count(*), 2)
    from core.orders_basket_full() b
   group by b.day
$$;
comment on function reports.orders_daily_full() is
  'reports.orders_daily computed from scratch from staging.';

create function reports.orders_product_pairs_full()
  returns table (product_a bigint, product_b bigint, baskets integer)
  language sql stable
as $$
  select a.product_id, b.product_id, count(*)::integer
    from core.orders_basket_full() k
    cross join lateral unnest(k.products) as a(product_id)
    cross join lateral unnest(k.products) as b(product_id)
   where a.product_id < b.product_id
   group by 1, 2
$$;
comment on function reports.orders_product_pairs_full() is
  'reports.orders_product_pairs computed from scratch from staging.';
