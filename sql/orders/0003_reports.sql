-- Orders pack, reports: daily sales and baskets, kept current by the
-- maintenance triggers (0304_maintenance.sql). Both count the orders that
-- exist and are not cancelled (core.orders_basket), whether they came from the
-- change log or an export. Days are UTC days.

create table reports.orders_daily (
  day              date primary key,
  orders           integer not null,
  items            integer not null,
  revenue          numeric not null,
  avg_basket_items numeric not null,
  avg_basket_value numeric not null
);
comment on table reports.orders_daily is 'Daily sales of the shop by the day orders were placed (UTC): orders that exist and are not cancelled, in their latest state (change log of source shop and CSV exports of feed orders). An order cancelled later leaves its day. Days without such orders are absent.';
comment on column reports.orders_daily.day is 'Day the orders were placed (UTC).';
comment on column reports.orders_daily.orders is 'Orders placed that day and not cancelled.';
comment on column reports.orders_daily.items is 'Units in those orders (sum of line quantities).';
comment on column reports.orders_daily.revenue is 'Sum of quantity times unit price over their lines.';
comment on column reports.orders_daily.avg_basket_items is 'items / orders, rounded to 2 decimals.';
comment on column reports.orders_daily.avg_basket_value is 'revenue / orders, rounded to 2 decimals.';

create table reports.orders_product_pairs (
  product_a bigint not null,
  product_b bigint not null,
  baskets   integer not null,
  primary key (product_a, product_b),
  check (product_a < product_b)
);
create index orders_product_pairs_b on reports.orders_product_pairs (product_b);
comment on table reports.orders_product_pairs is 'Pairs of products bought in the same order: one row per pair that shares at least one order that exists and is not cancelled. Names: join core.orders_product on product_id.';
comment on column reports.orders_product_pairs.product_a is 'The lower product id of the pair (core.orders_product).';
comment on column reports.orders_product_pairs.product_b is 'The higher product id of the pair (core.orders_product).';
comment on column reports.orders_product_pairs.baskets is 'Orders (not cancelled) that hold both products.';
