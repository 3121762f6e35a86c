-- Issue 16: orders exported as shops write them, one row per order with its
-- totals, into folder order_totals/ under the inbox (*.csv or *.csv.gz):
--
--   id,user_id,completed_at,item_total,shipment_total
--
-- completed_at without an offset is UTC. The same order comes again in later
-- exports (corrected totals, a customer merged); which row counts:
--   * the export's time is the first YYYYMMDDTHHMMSSZ in its file name (UTC),
--     as orders-20261130T214500Z.csv; an export whose name has none counts as
--     older than every export whose name has one (among themselves, the one
--     loaded later wins);
--   * an order keeps the row of the latest export holding it (then the later
--     file, then the later line: within one file the later line wins).
-- So an earlier export dropped again never undoes a later one: byte for byte
-- it is a duplicate (sluice refuses a file whose content it loaded, under any
-- name), and changed under its own timed name it keeps its earlier time; a
-- copy renamed without a time counts as older than every timed export.
--
-- Staging keeps every row of every export; core.orders_total each order's
-- row that counts; the reports (weekly sales and baskets, the customer mix,
-- the time between a customer's orders, and outliers) are kept by a trigger
-- on staging that recomputes only the weeks and months of the customers a
-- batch touched: a customer's second order turns every week of their first
-- into a week with a repeat customer. These orders are counted apart from the
-- line-level exports and the shop's change log (core.orders_order): a shop
-- sends one shape or the other.

create table staging.orders_total_export (
  _file_id       bigint not null,
  _record        bigint not null,
  id             bigint not null,
  user_id        bigint not null,
  completed_at   timestamptz not null,
  item_total     numeric(12,2) not null,
  shipment_total numeric(12,2) not null
);
create index orders_total_export_id on staging.orders_total_export (id);
comment on table staging.orders_total_export is 'Rows of the order-level exports (order_totals/*.csv, order_totals/*.csv.gz) as loaded: one per order of every export, so an order appears once per export that holds it. Which row counts is in core.orders_total; rows that could not be typed are in sluice.rejects (feed order_totals).';
comment on column staging.orders_total_export._file_id is 'File the row came from (sluice.files.id); the export''s time is the first YYYYMMDDTHHMMSSZ in its name (core.orders_total_export_time).';
comment on column staging.orders_total_export._record is '1-based ordinal of the row in its file (the header is not a record).';
comment on column staging.orders_total_export.id is 'id: the order.';
comment on column staging.orders_total_export.user_id is 'user_id: the customer who placed it.';
comment on column staging.orders_total_export.completed_at is 'completed_at: when the order was completed (UTC when written without an offset).';
comment on column staging.orders_total_export.item_total is 'item_total: what the items cost, exact to the cent.';
comment on column staging.orders_total_export.shipment_total is 'shipment_total: what shipping cost, exact to the cent.';

insert into sluice.feeds (name, file_globs, format, route_pointer, csv_header, null_strings, time_zone, description) values
  ('order_totals', '{order_totals/*.csv,order_totals/*.csv.gz}', 'csv', null, true, '{""}', 'UTC',
   'Order-level exports: CSV with a header id,user_id,completed_at,item_total,shipment_total, one row per order; a later export repeats orders in their newer state.');
insert into sluice.feed_targets (feed, route_value, target_table) values
  ('order_totals', '', 'staging.orders_total_export');
insert into sluice.feed_columns (feed, target_table, column_name, csv_header) values
  ('order_totals', 'staging.orders_total_export', 'id',             'id'),
  ('order_totals', 'staging.orders_total_export', 'user_id',        'user_id'),
  ('order_totals', 'staging.orders_total_export', 'completed_at',   'completed_at'),
  ('order_totals', 'staging.orders_total_export', 'item_total',     'item_total'),
  ('order_totals', 'staging.orders_total_export', 'shipment_total', 'shipment_total');

-- The export's time: the first YYYYMMDDTHHMMSSZ in the file's name, UTC;
-- -infinity when there is none (older than every timed export).
create function core.orders_total_export_time(path text) returns timestamptz
  language sql immutable
as $$
  select coalesce(
           regexp_replace(substring(path from '\d{8}T\d{6}Z'),
                          '^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$', '\1-\2-\3 \4:\5:\6+00')::timestamptz,
           '-infinity')
$$;
comment on function core.orders_total_export_time(text) is 'Time of an order-level export from its file''s path: the first YYYYMMDDTHHMMSSZ in it, in UTC; -infinity when there is none, so that such a file never outranks a timed export.';

-- Core -------------------------------------------------------------------------------------

create table core.orders_total (
  order_id       bigint primary key,
  user_id        bigint not null,
  completed_at   timestamptz not null,
  item_total     numeric(12,2) not null,
  shipment_total numeric(12,2) not null,
  export_time    timestamptz not null,
  file_id        bigint not null,
  record         bigint not null
);
create index orders_total_user on core.orders_total (user_id, completed_at, order_id);
create index orders_total_completed on core.orders_total (completed_at);
comment on table core.orders_total is 'Each order of the order-level exports (feed order_totals) as it counts: the row of the latest export holding it (by the time in the export''s name, then the later file, then the later line).';
comment on column core.orders_total.order_id is 'The order (id in the export).';
comment on column core.orders_total.user_id is 'The customer who placed it.';
comment on column core.orders_total.completed_at is 'When it was completed.';
comment on column core.orders_total.item_total is 'What the items cost.';
comment on column core.orders_total.shipment_total is 'What shipping cost.';
comment on column core.orders_total.export_time is 'Time of the export the row came from (-infinity: its name has none).';
comment on column core.orders_total.file_id is 'File the row came from (sluice.files.id).';
comment on column core.orders_total.record is 'Its row in that file.';

-- Every export row with its export's time: whose row counts is the first by
-- (export_time desc, file_id desc, record desc) of each order.
create view core.orders_total_ranked as
  select e.id as order_id, e.user_id, e.completed_at, e.item_total, e.shipment_total,
         core.orders_total_export_time(f.path) as export_time, e._file_id as file_id, e._record as record
    from staging.orders_total_export e
    join sluice.files f on f.id = e._file_id;
comment on view core.orders_total_ranked is 'Every row of the order-level exports with its export''s time (core.orders_total_export_time of its file''s name): the row that counts of an order (core.orders_total) is its first by export_time, file_id, record, all descending.';
comment on column core.orders_total_ranked.order_id is 'The order (id in the export).';
comment on column core.orders_total_ranked.user_id is 'The customer who placed it.';
comment on column core.orders_total_ranked.completed_at is 'When it was completed.';
comment on column core.orders_total_ranked.item_total is 'What the items cost.';
comment on column core.orders_total_ranked.shipment_total is 'What shipping cost.';
comment on column core.orders_total_ranked.export_time is 'Time of the export (-infinity: its name has none).';
comment on column core.orders_total_ranked.file_id is 'File the row came from (sluice.files.id).';
comment on column core.orders_total_ranked.record is 'Its row in that file.';

-- Reports ------------------------------------------------------------------------------------

create table reports.orders_weekly (
  week                date primary key,
  orders              bigint not null,
  sales               numeric not null,
  shipping            numeric not null,
  avg_basket          numeric,
  avg_basket_repeat   numeric,
  avg_basket_one_time numeric
);
comment on table reports.orders_weekly is 'Weekly sales of the order-level exports (core.orders_total), by the ISO week of completed_at (UTC). A repeat customer has at least 2 orders among all loaded ones, a one-time customer exactly 1: a customer''s second order moves the weeks of their first. Weeks without orders are absent.';
comment on column reports.orders_weekly.week is 'Monday of the ISO week.';
comment on column reports.orders_weekly.orders is 'Orders completed that week.';
comment on column reports.orders_weekly.sales is 'Sum of their item_total.';
comment on column reports.orders_weekly.shipping is 'Sum of their shipment_total.';
comment on column reports.orders_weekly.avg_basket is 'sales / orders, rounded to the cent.';
comment on column reports.orders_weekly.avg_basket_repeat is 'Average item_total of that week''s orders by repeat customers, rounded to the cent; NULL when there are none.';
comment on column reports.orders_weekly.avg_basket_one_time is 'Average item_total of that week''s orders by one-time customers, rounded to the cent; NULL when there are none.';

create table reports.orders_customer_mix (
  month          date primary key,
  sales_one_time numeric not null,
  sales_repeat   numeric not null
);
comment on table reports.orders_customer_mix is 'Monthly sales (item_total) of the order-level exports split by customer: one-time customers (exactly 1 order among all loaded ones) and repeat customers (2 or more). Months without orders are absent.';
comment on column reports.orders_customer_mix.month is 'First day of the month of completed_at (UTC).';
comment on column reports.orders_customer_mix.sales_one_time is 'Sales of orders by one-time customers.';
comment on column reports.orders_customer_mix.sales_repeat is 'Sales of orders by repeat customers.';

create table reports.orders_time_between (
  week     date primary key,
  avg_days numeric not null
);
comment on table reports.orders_time_between is 'How long customers take to order again: for each order whose customer has an earlier one (by completed_at, then order id), the days since that previous order, averaged by the ISO week of the later order. Weeks without such orders are absent.';
comment on column reports.orders_time_between.week is 'Monday of the ISO week of the later order.';
comment on column reports.orders_time_between.avg_days is 'Average of the days (fractional) since the customer''s previous order, rounded to 4 decimals.';

create table reports.orders_quality (
  order_id bigint not null,
  rule     text not null check (rule in ('zero_total', 'negative_amount')),
  primary key (order_id, rule)
);
comment on table reports.orders_quality is 'Orders of the order-level exports worth a look: zero_total (item_total and shipment_total both 0), negative_amount (either below 0). Join core.orders_total on order_id for the row.';
comment on column reports.orders_quality.order_id is 'The order (core.orders_total).';
comment on column reports.orders_quality.rule is 'zero_total or negative_amount.';

-- What the full recomputations start from: each order's row that counts,
-- with its customer's order count and the time of the customer's previous
-- order.
create function core.orders_total_facts()
  returns table (order_id bigint, user_id bigint, completed_at timestamptz, item_total numeric,
                 shipment_total numeric, customer_orders bigint, previous_at timestamptz)
  language sql stable
as $$
  select o.order_id, o.user_id, o.completed_at, o.item_total, o.shipment_total,
         count(*) over (partition by o.user_id),
         lag(o.completed_at) over (partition by o.user_id order by o.completed_at, o.order_id)
    from (select distinct on (r.order_id) r.* from core.orders_total_ranked r
           order by r.order_id, r.export_time desc, r.file_id desc, r.record desc) o
$$;
comment on function core.orders_total_facts() is 'Each order of the order-level exports, computed from staging, with its customer''s number of orders and the completion time of the customer''s previous order (by completed_at, then order id).';

create function reports.orders_weekly_full()
  returns table (week date, orders bigint, sales numeric, shipping numeric, avg_basket numeric,
                 avg_basket_repeat numeric, avg_basket_one_time numeric)
  language sql stable
as $$
  select date_trunc('week', f.completed_at at time zone 'UTC')::date, count(*), sum(f.item_total),
         sum(f.shipment_total), round(avg(f.item_total), 2),
         round(avg(f.item_total) filter (where f.customer_orders >= 2), 2),
         round(avg(f.item_total) filter (where f.customer_orders = 1), 2)
    from core.orders_total_facts() f
   group by 1
$$;
comment on function reports.orders_weekly_full() is 'reports.orders_weekly computed from scratch from staging.';

create function reports.orders_customer_mix_full()
  returns table (month date, sales_one_time numeric, sales_repeat numeric)
  language sql stable
as $$
  select date_trunc('month', f.completed_at at time zone 'UTC')::date,
         coalesce(sum(f.item_total) filter (where f.customer_orders = 1), 0),
         coalesce(sum(f.item_total) filter (where f.customer_orders >= 2), 0)
    from core.orders_total_facts() f
   group by 1
$$;
comment on function reports.orders_customer_mix_full() is 'reports.orders_customer_mix computed from scratch from staging.';

create function reports.orders_time_between_full()
  returns table (week date, avg_days numeric)
  language sql stable
as $$
  select date_trunc('week', f.completed_at at time zone 'UTC')::date,
         round(avg(extract(epoch from f.completed_at - f.previous_at) / 86400), 4)
    from core.orders_total_facts() f
   where f.previous_at is not null
   group by 1
$$;
comment on function reports.orders_time_between_full() is 'reports.orders_time_between computed from scratch from staging.';

create function reports.orders_quality_full()
  returns table (order_id bigint, rule text)
  language sql stable
as $$
  select f.order_id, 'zero_total' from core.orders_total_facts() f
   where f.item_total = 0 and f.shipment_total = 0
  union all
  select f.order_id, 'negative_amount' from core.orders_total_facts() f
   where f.item_total < 0 or f.shipment_total < 0
$$;
comment on function reports.orders_quality_full() is 'reports.orders_quality computed from scratch from staging.';

-- Maintenance --------------------------------------------------------------------------------

-- Refreshes the orders `ids` in core.orders_total from staging, then every
-- report row their customers (before and after) touch: the weeks and months
-- of all those customers' orders, recomputed from core.
create function core.orders_total_refresh(ids bigint[]) returns void
  language plpgsql
as $$
declare
  customers bigint[];
  weeks date[];
  months date[];
begin
  -- Where the orders stood: their customers, weeks and months before.
  select array_agg(distinct t.user_id),
         array_agg(distinct date_trunc('week', t.completed_at at time zone 'UTC')::date),
         array_agg(distinct date_trunc('month', t.completed_at at time zone 'UTC')::date)
    into customers, weeks, months
    from core.orders_total t where t.order_id = any (ids);

  delete from core.orders_total where order_id = any (ids);
  insert into core.orders_total
  select distinct on (r.order_id) r.* from core.orders_total_ranked r
   where r.order_id = any (ids)
   order by r.order_id, r.export_time desc, r.file_id desc, r.record desc;

  delete from reports.orders_quality where order_id = any (ids);
  insert into reports.orders_quality (order_id, rule)
  select t.order_id, 'zero_total' from core.orders_total t
   where t.order_id = any (ids) and t.item_total = 0 and t.shipment_total = 0
  union all
  select t.order_id, 'negative_amount' from core.orders_total t
   where t.order_id = any (ids) and (t.item_total < 0 or t.shipment_total < 0);

  -- Every week and month of every order of those customers, now and before.
  select array_agg(distinct c) into customers
    from (select unnest(customers) union all
          select t.user_id from core.orders_total t where t.order_id = any (ids)) x(c)
   where c is not null;
  select array_agg(distinct w) filter (where w is not null), array_agg(distinct m) filter (where m is not null)
    into weeks, months
    from (select unnest(weeks), null::date union all
          select null, unnest(months) union all
          select date_trunc('week', t.completed_at at time zone 'UTC')::date,
                 date_trunc('month', t.completed_at at time zone 'UTC')::date
            from core.orders_total t where t.user_id = any (customers)) x(w, m);
  perform core.orders_total_recompute(weeks, months);
end
$$;
comment on function core.orders_total_refresh(bigint[]) is 'Recomputes the orders given in core.orders_total from staging, their rows of reports.orders_quality, and the weeks and months of the reports that their customers (before and after) have orders in.';

-- The report rows of `weeks` and `months`, from core.orders_total.
create function core.orders_total_recompute(weeks date[], months date[]) returns void
  language plpgsql
as $$
begin
  delete from reports.orders_weekly where week = any (weeks);
  delete from reports.orders_time_between where week = any (weeks);
  delete from reports.orders_customer_mix where month = any (months);

  -- The orders of those weeks and months, each with its customer's order
  -- count and previous order (over all of the customer's orders).
  with ranges as (  -- by completed_at, so that its index finds them
    select w::timestamp at time zone 'UTC' as lo, (w + 7)::timestamp at time zone 'UTC' as hi from unnest(weeks) w
    union all
    select m::timestamp at time zone 'UTC', (m + interval '1 month') at time zone 'UTC' from unnest(months) m),
  scope as (
    select t.completed_at, t.item_total, t.shipment_total,
           date_trunc('week', t.completed_at at time zone 'UTC')::date as week,
           date_trunc('month', t.completed_at at time zone 'UTC')::date as month,
           (select count(*) from core.orders_total c where c.user_id = t.user_id) as customer_orders,
           (select p.completed_at from core.orders_total p
             where p.user_id = t.user_id and (p.completed_at, p.order_id) < (t.completed_at, t.order_id)
             order by p.completed_at desc, p.order_id desc limit 1) as previous_at
      from core.orders_total t
     where t.order_id in (select i.order_id from ranges r
                            join core.orders_total i on i.completed_at >= r.lo and i.completed_at < r.hi)),
  weekly as (
    insert into reports.orders_weekly
    select s.week, count(*), sum(s.item_total), sum(s.shipment_total), round(avg(s.item_total), 2),
           round(avg(s.item_total) filter (where s.customer_orders >= 2), 2),
           round(avg(s.item_total) filter (where s.customer_orders = 1), 2)
      from scope s where s.week = any (weeks) group by s.week
    returning 1),
  between_orders as (
    insert into reports.orders_time_between
    select s.week, round(avg(extract(epoch from s.completed_at - s.previous_at) / 86400), 4)
      from scope s where s.previous_at is not null and s.week = any (weeks) group by s.week
    returning 1)
  insert into reports.orders_customer_mix
  select s.month, coalesce(sum(s.item_total) filter (where s.customer_orders = 1), 0),
         coalesce(sum(s.item_total) filter (where s.customer_orders >= 2), 0)
    from scope s where s.month = any (months) group by s.month;
end
$$;
comment on function core.orders_total_recompute(date[], date[]) is 'Recomputes the rows of reports.orders_weekly and reports.orders_time_between of the weeks given and of reports.orders_customer_mix of the months given, from core.orders_total.';

create function core.orders_total_on_export() returns trigger
  language plpgsql
as $$
declare
  ids bigint[];
begin
  -- Batches of two connections take turns (see 0004_maintenance.sql).
  perform pg_advisory_xact_lock(hashtext('sluice orders_total pack'));
  select array_agg(distinct id) into ids from new_rows;
  if ids is not null then
    perform core.orders_total_refresh(ids);
  end if;
  return null;
end
$$;
comment on function core.orders_total_on_export() is 'Statement trigger of staging.orders_total_export: refreshes the orders of the batch, and the report weeks and months of their customers.';
create trigger orders_total_maintain after insert on staging.orders_total_export
  referencing new table as new_rows for each statement execute function core.orders_total_on_export();

-- Everything again from staging (after `sluice reload` removed an export's
-- rows, or staging was edited by hand).
create function core.orders_total_rebuild() returns void
  language plpgsql
as $$
begin
  perform pg_advisory_xact_lock(hashtext('sluice orders_total pack'));
  truncate core.orders_total, reports.orders_weekly, reports.orders_customer_mix, reports.orders_time_between,
           reports.orders_quality;
  insert into core.orders_total
  select distinct on (r.order_id) r.* from core.orders_total_ranked r
   order by r.order_id, r.export_time desc, r.file_id desc, r.record desc;
  insert into reports.orders_quality select * from reports.orders_quality_full();
  perform core.orders_total_recompute(
    array(select distinct date_trunc('week', completed_at at time zone 'UTC')::date from core.orders_total),
    array(select distinct date_trunc('month', completed_at at time zone 'UTC')::date from core.orders_total));
end
$$;
comment on function core.orders_total_rebuild() is 'Recomputes core.orders_total and its reports from staging.orders_total_export.';

insert into sluice.rebuilds (name, pack, inputs, command) values
  ('order_totals', 'orders', '{staging.orders_total_export}', 'select core.orders_total_rebuild()');
