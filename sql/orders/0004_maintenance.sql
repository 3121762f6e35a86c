-- Orders pack, maintenance: how core.* and the reports stay current. Everything
-- is kept by statement triggers (AFTER INSERT ... REFERENCING NEW TABLE, FOR
-- EACH STATEMENT) on the three staging tables the orders come through:
-- staging.shop_orders, staging.shop_order_lines (change logs of source shop)
-- and staging.orders_export (CSV feed orders). Nothing depends on the wall
-- clock, so there is no job.
--
-- Each trigger collects the order ids of its batch and calls
-- core.orders_refresh(ids), which recomputes those orders from staging:
--   1. their state and their lines: the latest by source time among every
--      change-log row and export row of the order (see 0302_core.sql), so the
--      result does not depend on the order in which batches, files or the two
--      ways arrive;
--   2. their baskets (core.orders_basket) and, from the difference between the
--      old and new baskets summed per day and per product pair first (ON
--      CONFLICT DO UPDATE cannot touch a row twice in one statement), +/-
--      deltas of reports.orders_daily and reports.orders_product_pairs;
--   3. their status history (core.orders_status_history) from the change log.
-- The work is proportional to the changes of the batch's orders (index
-- ranges by order id), not to the size of staging. A truncate in the change
-- log refreshes every order.
--
-- Concurrent loads (a CSV batch and a CDC batch on two connections): the
-- triggers take turns through a transaction-level advisory lock held until the
-- batch commits; in READ COMMITTED (the loader's level) each statement after
-- the lock sees every batch committed before.
--
-- Measured on this machine (PostgreSQL 15, 2 cores shared with other builds,
-- so +-30%), with a generated shop of 24,000 orders: its whole change log of
-- 118,000 rows as one batch per table (as an initial snapshot arrives) takes
-- 6 s; 164,000 export rows in one batch 9-12 s (about 60 us a row: each row's
-- export time is looked up in sluice.files); a one-change batch afterwards
-- 6-13 ms; core.orders_rebuild() 10-12 s.
--
-- core.orders_rebuild() recomputes everything from staging (after staging was
-- edited by hand, or to check: the tests compare it with the incremental
-- result).

create function core.orders_refresh(ids bigint[]) returns void
  language plpgsql
as $$
declare
  order_cut_lsn pg_lsn := '0/0';
  order_cut_seq integer := -1;
  order_cut_at  timestamptz;
  line_cut_lsn  pg_lsn := '0/0';
  line_cut_seq  integer := -1;
  line_cut_at   timestamptz;
  days          date[];
  gone_a        bigint[];
  gone_b        bigint[];
begin
  -- The last truncate of a change log is a delete of every order (line) at
  -- its commit time: it cuts what came before it there, and exports older than
  -- it lose to it.
  select _lsn, _seq, _commit_at into order_cut_lsn, order_cut_seq, order_cut_at
    from staging.shop_orders where _op = 't' order by _lsn desc, _seq desc limit 1;
  if not found then order_cut_lsn := '0/0'; order_cut_seq := -1; order_cut_at := null; end if;
  select _lsn, _seq, _commit_at into line_cut_lsn, line_cut_seq, line_cut_at
    from staging.shop_order_lines where _op = 't' order by _lsn desc, _seq desc limit 1;
  if not found then line_cut_lsn := '0/0'; line_cut_seq := -1; line_cut_at := null; end if;

  -- 1. Orders and lines: the latest state by source time.
  delete from core.orders_order where order_id = any (ids);
  insert into core.orders_order (order_id, customer_id, ordered_at, status, source_time, origin)
  with candidates as (
    select o.order_id as id, o._op = 'd' as gone, o.customer_id, o.ordered_at, o.status,
           o._commit_at as source_time, 'cdc' as origin, 1 as rank,
           o._lsn - '0/0'::pg_lsn as pos1, o._seq::numeric as pos2
      from staging.shop_orders o
     where o.order_id = any (ids) and o._op in ('r', 'i', 'u', 'd')
       and (o._lsn, o._seq) > (order_cut_lsn, order_cut_seq)
    union all  -- an update that changed the key deletes the old one
    select o._old_order_id, true, null, null, null, o._commit_at, 'cdc', 1, o._lsn - '0/0'::pg_lsn, o._seq
      from staging.shop_orders o
     where o._old_order_id = any (ids) and o._op = 'u'
       and (o._lsn, o._seq) > (order_cut_lsn, order_cut_seq)
    union all
    select i.id, true, null, null, null, order_cut_at, 'cdc', 1, order_cut_lsn - '0/0'::pg_lsn, order_cut_seq
      from unnest(ids) i(id)
     where order_cut_at is not null
    union all
    select e.order_id, false, e.customer_id, e.ordered_at, e.status,
           core.orders_export_time(e._file_id), 'csv', 0, e._file_id, e._record
      from staging.orders_export e
     where e.order_id = any (ids)),
  -- The last word of each way: by LSN in the change log (commit times of
  -- the source and the snapshot's time of the warehouse need not agree),
  -- by export time, file and row in the exports.
  per_way as (
    select distinct on (origin, id) * from candidates
     order by origin, id, case when origin = 'csv' then source_time end desc nulls last, pos1 desc, pos2 desc)
  select id, customer_id, ordered_at, status, source_time, origin
    from (select distinct on (id) * from per_way order by id, source_time desc, rank desc) latest
   where not gone and ordered_at is not null and status is not null;

  delete from core.orders_line where order_id = any (ids);
  insert into core.orders_line (order_id, product_id, quantity, unit_price, source_time, origin)
  with candidates as (
    select l.order_id, l.product_id, l._op = 'd' as gone, l.quantity, l.unit_price,
           l._commit_at as source_time, 'cdc' as origin, 1 as rank,
           l._lsn - '0/0'::pg_lsn as pos1, l._seq::numeric as pos2
      from staging.shop_order_lines l
     where l.order_id = any (ids) and l._op in ('r', 'i', 'u', 'd')
       and (l._lsn, l._seq) > (line_cut_lsn, line_cut_seq)
    union all
    select l._old_order_id, l._old_product_id, true, null, null, l._commit_at, 'cdc', 1,
           l._lsn - '0/0'::pg_lsn, l._seq
      from staging.shop_order_lines l
     where l._old_order_id = any (ids) and l._op = 'u'
       and (l._lsn, l._seq) > (line_cut_lsn, line_cut_seq)
    union all
    select e.order_id, e.product_id, false, e.quantity, e.unit_price,
           core.orders_export_time(e._file_id), 'csv', 0, e._file_id, e._record
      from staging.orders_export e
     where e.order_id = any (ids)),
  with_cut as (
    select * from candidates where product_id is not null
    union all
    select distinct k.order_id, k.product_id, true, null::integer, null::numeric, line_cut_at, 'cdc', 1,
           line_cut_lsn - '0/0'::pg_lsn, line_cut_seq::numeric
      from candidates k
     where line_cut_at is not null and k.product_id is not null),
  per_way as (
    select distinct on (origin, order_id, product_id) * from with_cut
     order by origin, order_id, product_id, case when origin = 'csv' then source_time end desc nulls last,
              pos1 desc, pos2 desc)
  select order_id, product_id, quantity, unit_price, source_time, origin
    from (select distinct on (order_id, product_id) * from per_way
           order by order_id, product_id, source_time desc, rank desc) latest
   where not gone and quantity is not null and unit_price is not null;

  -- 2. Baskets and the reports: subtract the old baskets, add the new ones.
  with old as (
    select b.day, b.items, b.revenue, b.products from core.orders_basket b where b.order_id = any (ids)),
  new as (
    select b.day, b.items, b.revenue, b.products from core.orders_baskets_of(ids) b),
  daily_delta as (
    select day, sum(n)::integer as orders, sum(items)::integer as items, sum(revenue) as revenue
      from (select day, -1 as n, -items as items, -revenue as revenue from old
            union all
            select day, 1, items, revenue from new) d
     group by day),
  daily as (
    insert into reports.orders_daily as r (day, orders, items, revenue, avg_basket_items, avg_basket_value)
    select day, orders, items, revenue, 0, 0 from daily_delta
     where orders <> 0 or items <> 0 or revenue <> 0
    on conflict (day) do update
      set orders = r.orders + excluded.orders, items = r.items + excluded.items, revenue = r.revenue + excluded.revenue
    returning r.day),
  pair_delta as (
    select a, b, sum(n)::integer as n
      from (select p.a, p.b, -1 as n from old o, core.orders_pairs_of(o.products) p
            union all
            select p.a, p.b, 1 from new o, core.orders_pairs_of(o.products) p) d
     group by a, b
    having sum(n) <> 0),
  pairs as (
    insert into reports.orders_product_pairs as r (product_a, product_b, baskets)
    select a, b, n from pair_delta
    on conflict (product_a, product_b) do update set baskets = r.baskets + excluded.baskets
    returning r.product_a, r.product_b, r.baskets)
  select (select array_agg(day) from daily),
         (select array_agg(product_a order by product_a, product_b) from pairs where baskets <= 0),
         (select array_agg(product_b order by product_a, product_b) from pairs where baskets <= 0)
    into days, gone_a, gone_b;

  -- Rows the deltas brought to zero go (a statement cannot touch them twice).
  delete from reports.orders_product_pairs r using unnest(gone_a, gone_b) g(a, b)
   where r.product_a = g.a and r.product_b = g.b;
  delete from reports.orders_daily where day = any (days) and orders <= 0;
  update reports.orders_daily
     set avg_basket_items = round(items::numeric / orders, 2), avg_basket_value = round(revenue / orders, 2)
   where day = any (days);

  delete from core.orders_basket where order_id = any (ids);
  insert into core.orders_basket (order_id, day, items, revenue, products)
  select order_id, day, items, revenue, products from core.orders_baskets_of(ids);

  -- 3. Status history from the change log.
  delete from core.orders_status_history where order_id = any (ids);
  insert into core.orders_status_history (order_id, version, status, valid_from, valid_to, is_current, from_lsn)
  with events as (
    select o.order_id as id, o._lsn, o._seq, o._commit_at as at, o.status
      from staging.shop_orders o where o.order_id = any (ids) and o._op in ('r', 'i', 'u')
    union all
    select o.order_id, o._lsn, o._seq, o._commit_at, null from staging.shop_orders o
     where o.order_id = any (ids) and o._op = 'd'
    union all
    select o._old_order_id, o._lsn, o._seq, o._commit_at, null from staging.shop_orders o
     where o._old_order_id = any (ids) and o._op = 'u'
    union all
    select i.id, t._lsn, t._seq, t._commit_at, null from staging.shop_orders t, unnest(ids) i(id)
     where t._op = 't'),
  marked as (
    select *, lag(status) over (partition by id order by _lsn, _seq) as before from events),
  starts as (
    select id, status, at, _lsn, _seq,
           lead(at) over (partition by id order by _lsn, _seq) as until
      from marked where status is distinct from before)
  select id, row_number() over (partition by id order by _lsn, _seq)::integer, status, at, until, until is null, _lsn
    from starts
   where status is not null;
end
$$;
comment on function core.orders_refresh(bigint[]) is 'Recomputes the given orders from staging into core.orders_order, core.orders_line, core.orders_basket, core.orders_status_history, and applies the difference to reports.orders_daily and reports.orders_product_pairs.';

-- What the given orders add to the reports, from core as it stands.
create function core.orders_baskets_of(ids bigint[]) returns setof core.orders_basket
  language sql stable
as $$
  select o.order_id, (o.ordered_at at time zone 'UTC')::date,
         coalesce(sum(l.quantity), 0)::integer,
         coalesce(sum(l.quantity * l.unit_price), 0),
         coalesce(array_agg(l.product_id order by l.product_id) filter (where l.product_id is not null), '{}')
    from core.orders_order o
    left join core.orders_line l on l.order_id = o.order_id
   where o.order_id = any (ids) and o.status <> 'cancelled'
   group by o.order_id, o.ordered_at
$$;
comment on function core.orders_baskets_of(bigint[]) is 'The core.orders_basket rows of the given orders, computed from core.orders_order and core.orders_line (cancelled orders have none).';

create function core.orders_pairs_of(products bigint[], out a bigint, out b bigint) returns setof record
  language sql immutable
as $$
  select x, y from unnest(products) x, unnest(products) y where x < y
$$;
comment on function core.orders_pairs_of(bigint[]) is 'The pairs (a < b) of the distinct products of one basket.';

create function core.orders_all_ids() returns bigint[]
  language sql stable
as $$
  select coalesce(array_agg(distinct id), '{}')
    from (select order_id as id from core.orders_order
          union all select order_id from core.orders_line
          union all select order_id from core.orders_basket
          union all select order_id from core.orders_status_history) x
$$;
comment on function core.orders_all_ids() is 'Every order id core knows (what a truncate in the change log may touch).';

-- The triggers ------------------------------------------------------------------------------

create function core.orders_on_change_log() returns trigger
  language plpgsql
as $$
declare
  ids bigint[];
begin
  perform pg_advisory_xact_lock(hashtext('sluice orders pack'));
  if exists (select 1 from new_rows where _op = 't') then
    ids := core.orders_all_ids();
  end if;
  -- new_rows has order_id and _old_order_id in both change logs.
  select array_agg(distinct id) into ids
    from (select unnest(ids) as id
          union all select order_id from new_rows
          union all select _old_order_id from new_rows) x
   where id is not null;
  if ids is not null then
    perform core.orders_refresh(ids);
  end if;
  return null;
end
$$;
comment on function core.orders_on_change_log() is 'Statement trigger of staging.shop_orders and staging.shop_order_lines: refreshes the orders of the batch (every order after a truncate).';

create trigger orders_maintain after insert on staging.shop_orders
  referencing new table as new_rows for each statement execute function core.orders_on_change_log();
create trigger orders_maintain after insert on staging.shop_order_lines
  referencing new table as new_rows for each statement execute function core.orders_on_change_log();

create function core.orders_on_export() returns trigger
  language plpgsql
as $$
declare
  ids bigint[];
begin
  perform pg_advisory_xact_lock(hashtext('sluice orders pack'));
  select array_agg(distinct order_id) into ids from new_rows;
  if ids is not null then
    perform core.orders_refresh(ids);
  end if;
  return null;
end
$$;
comment on function core.orders_on_export() is 'Statement trigger of staging.orders_export: refreshes the orders of the batch.';

create trigger orders_maintain after insert on staging.orders_export
  referencing new table as new_rows for each statement execute function core.orders_on_export();

create function core.orders_rebuild() returns void
  language plpgsql
as $$
declare
  ids bigint[];
begin
  perform pg_advisory_xact_lock(hashtext('sluice orders pack'));
  truncate core.orders_order, core.orders_line, core.orders_basket, core.orders_status_history,
           reports.orders_daily, reports.orders_product_pairs;
  select coalesce(array_agg(distinct id), '{}') into ids
    from (select order_id as id from staging.shop_orders
          union all select _old_order_id from staging.shop_orders
          union all select order_id from staging.shop_order_lines
          union all select _old_order_id from staging.shop_order_lines
          union all select order_id from staging.orders_export) x
   where id is not null;
  perform core.orders_refresh(ids);
end
$$;
comment on function core.orders_rebuild() is 'Recomputes core.orders_* and reports.orders_* from staging from scratch (after editing staging by hand).';
