-- Orders pack, core: the shop's orders as they stand, whichever way they came.
--
-- An order (and each of its lines) keeps its latest state by source time:
--   CDC  the source transaction's commit time (_commit_at; for rows of the
--        initial snapshot, the time of the snapshot);
--   CSV  the export's time (core.orders_export_time: from the file name, else
--        when sluice first saw the file).
-- Each way first has its own last word: the change log's is its latest change
-- by LSN (not by time: the snapshot's rows carry the warehouse's clock), the
-- exports' is the latest export (then the later file and row). Of the two, the
-- later source time wins; at equal times the change log (it is the database
-- itself). A delete in the change log is a state too: an
-- older export does not bring a deleted order or line back, a newer one does.
-- A truncate of a table in the change log removes what came before it there.
--
-- Lines are kept one by one (order id, product id): an export that lacks a line
-- the database still has does not remove it. The shop's columns are small, so
-- no value is TOASTed and _unchanged is never set for them.

create table core.orders_order (
  order_id    bigint primary key,
  customer_id bigint,
  ordered_at  timestamptz not null,
  status      text not null,
  source_time timestamptz not null,
  origin      text not null check (origin in ('cdc', 'csv'))
);
comment on table core.orders_order is 'The shop''s orders as they stand now, one row per order that exists: the latest state by source time of the change log staging.shop_orders and the CSV exports staging.orders_export. Deleted orders are absent.';
comment on column core.orders_order.order_id is 'The order (orders.order_id in the shop).';
comment on column core.orders_order.customer_id is 'Who ordered (customers.customer_id in the shop).';
comment on column core.orders_order.ordered_at is 'When the order was placed.';
comment on column core.orders_order.status is 'placed, paid, shipped or cancelled.';
comment on column core.orders_order.source_time is 'Source time of the state shown: commit time of the change (cdc) or the export''s time (csv).';
comment on column core.orders_order.origin is 'Where the state shown came from: cdc (source shop) or csv (feed orders).';

create table core.orders_line (
  order_id    bigint not null,
  product_id  bigint not null,
  quantity    integer not null,
  unit_price  numeric(10,2) not null,
  source_time timestamptz not null,
  origin      text not null check (origin in ('cdc', 'csv')),
  primary key (order_id, product_id)
);
comment on table core.orders_line is 'The lines of the shop''s orders as they stand now, one row per (order, product) that exists: the latest state by source time, like core.orders_order. A line may outlive its order here only while the order''s own delete has not arrived; reports count lines of existing orders only.';
comment on column core.orders_line.order_id is 'The order (core.orders_order).';
comment on column core.orders_line.product_id is 'The product (core.orders_product); a product appears at most once per order.';
comment on column core.orders_line.quantity is 'Units of the product in the order.';
comment on column core.orders_line.unit_price is 'Price of one unit as charged in this order (the product''s price when it was ordered).';
comment on column core.orders_line.source_time is 'Source time of the state shown (see core.orders_order.source_time).';
comment on column core.orders_line.origin is 'cdc or csv, as core.orders_order.origin.';

create table core.orders_basket (
  order_id bigint primary key,
  day      date not null,
  items    integer not null,
  revenue  numeric not null,
  products bigint[] not null
);
comment on table core.orders_basket is 'What each counted order (existing, not cancelled) adds to the reports: its day, items, revenue and products. The maintenance subtracts an order''s old row and adds its new one, so reports.orders_daily and reports.orders_product_pairs stay exact.';
comment on column core.orders_basket.order_id is 'The order (core.orders_order).';
comment on column core.orders_basket.day is 'Day the order was placed, in UTC.';
comment on column core.orders_basket.items is 'Sum of the quantities of its lines.';
comment on column core.orders_basket.revenue is 'Sum of quantity times unit price of its lines.';
comment on column core.orders_basket.products is 'Its distinct products, ascending.';

create table core.orders_status_history (
  order_id   bigint not null,
  version    integer not null,
  status     text not null,
  valid_from timestamptz not null,
  valid_to   timestamptz,
  is_current boolean not null,
  from_lsn   pg_lsn not null,
  primary key (order_id, version)
);
create unique index orders_status_history_current on core.orders_status_history (order_id) where is_current;
comment on table core.orders_status_history is 'SCD2 of each order''s status from the change log staging.shop_orders (source shop; CSV exports carry no history): a new version whenever the status changes; a delete (or truncate) of the order closes its last version, and an order inserted again starts a new one. Versions of one transaction have the same valid_from.';
comment on column core.orders_status_history.order_id is 'The order.';
comment on column core.orders_status_history.version is '1, 2, ... in commit order.';
comment on column core.orders_status_history.status is 'placed, paid, shipped or cancelled.';
comment on column core.orders_status_history.valid_from is 'Commit time of the change that set the status (for the initial snapshot: the snapshot''s time).';
comment on column core.orders_status_history.valid_to is 'Commit time of the next change of status, or of the order''s delete; NULL for the current version.';
comment on column core.orders_status_history.is_current is 'True for the version in force now (at most one per order; none once the order was deleted).';
comment on column core.orders_status_history.from_lsn is 'Commit LSN of the change that set the status.';

-- The export's time: the first YYYYMMDDTHHMMSSZ in the file name (UTC), else
-- when sluice first saw the file.
create function core.orders_export_time(file_id bigint) returns timestamptz
  language sql stable
as $$
  select coalesce(
           regexp_replace(substring(f.path from '\d{8}T\d{6}Z'),
                          '^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$', '\1-\2-\3 \4:\5:\6+00')::timestamptz,
           f.first_seen_at)
    from sluice.files f
   where f.id = file_id
$$;
comment on function core.orders_export_time(bigint) is 'Source time of an orders CSV export (sluice.files.id): the first YYYYMMDDTHHMMSSZ in its file name, in UTC; else when sluice first saw the file.';

-- Products: the latest name and price by source time (change log of
-- public.products, and names of the exports).
create view core.orders_product as
  select distinct on (product_id) product_id, name, price, source_time, origin
    from (select p.product_id, p.name, p.price, p._commit_at as source_time, 'cdc'::text as origin, 1 as rank,
                 p._lsn - '0/0'::pg_lsn as pos1, p._seq::numeric as pos2
            from staging.shop_products p
           where p._op in ('r', 'i', 'u')
          union all
          select e.product_id, e.product_name, null::numeric(10,2), core.orders_export_time(e._file_id), 'csv', 0,
                 e._file_id, e._record
            from staging.orders_export e) s
   where product_id is not null
   order by product_id, source_time desc, rank desc, pos1 desc, pos2 desc;
comment on view core.orders_product is 'The shop''s products by their latest state (change log of public.products on source shop, and names in the CSV exports), for naming the products of the reports. A product deleted in the shop keeps its last name here.';
comment on column core.orders_product.product_id is 'The product (products.product_id in the shop).';
comment on column core.orders_product.name is 'Its latest name.';
comment on column core.orders_product.price is 'Its latest list price (from the change log; NULL when the latest word came from an export, which has only what a line was charged).';
comment on column core.orders_product.source_time is 'Source time of that state.';
comment on column core.orders_product.origin is 'cdc or csv.';
