-- Orders pack, staging: a small shop's orders from two places (see
-- sql/orders/README.md for the shop's schema and how to connect it).
--
-- 1. Change data capture of the shop's database, replicated as the source
--    named `shop` (a row of sluice.sources with publication orders_pub). The
--    replicator creates staging.shop_<table> (the change log) and
--    core.shop_<table> (the mirror) for each published table when they are
--    missing. The pack's triggers must hang on those change logs before the
--    first change arrives, so the pack creates the change logs itself, in
--    exactly the shape the replicator gives them (loader/src/replicator.cpp,
--    ensure_tables): _op, _lsn, _seq, _commit_at, _unchanged, one _old_<key>
--    per primary-key column, then the table's columns in the source's order
--    and types. The replicator checks that shape (and stops the source with a
--    message naming the column when it differs) and adds what is missing: the
--    mirror core.shop_<table> and its trigger apply_to_mirror.
-- 2. The shop's CSV export: files dropped into orders/ under the inbox
--    (*.csv or *.csv.gz), one row per order line, with this header:
--
--      order_id,ordered_at,customer_id,product_id,product_name,quantity,unit_price,status
--
--    An export says how the shop's orders stood when it was written: its time
--    is taken from the file name (the first YYYYMMDDTHHMMSSZ in it, UTC, as
--    sluice-gen-orders --csv names its files: orders-20261130T214500Z.csv), or,
--    when the name has none, from when sluice first saw the file.
--
-- Staging keeps every change and every export row; which state of an order
-- counts is decided in core (0302_core.sql): the latest by source time.

-- Change logs (the replicator's shape) -------------------------------------------------------

create table staging.shop_customers (
  _op text not null, _lsn pg_lsn not null, _seq integer not null, _commit_at timestamptz, _unchanged text,
  _old_customer_id bigint,
  customer_id bigint,
  name        text,
  email       text,
  created_at  timestamptz
);

create table staging.shop_products (
  _op text not null, _lsn pg_lsn not null, _seq integer not null, _commit_at timestamptz, _unchanged text,
  _old_product_id bigint,
  product_id bigint,
  name       text,
  price      numeric(10,2),
  updated_at timestamptz
);

create table staging.shop_orders (
  _op text not null, _lsn pg_lsn not null, _seq integer not null, _commit_at timestamptz, _unchanged text,
  _old_order_id bigint,
  order_id    bigint,
  customer_id bigint,
  ordered_at  timestamptz,
  status      text,
  updated_at  timestamptz
);

create table staging.shop_order_lines (
  _op text not null, _lsn pg_lsn not null, _seq integer not null, _commit_at timestamptz, _unchanged text,
  _old_order_id   bigint,
  _old_product_id bigint,
  order_id   bigint,
  product_id bigint,
  quantity   integer,
  unit_price numeric(10,2)
);

-- The maintenance (0304) looks up an order's changes by its id; an update that
-- changed the key (_old_*) and truncates are rare, hence partial indexes.
create index shop_orders_order_id on staging.shop_orders (order_id, _lsn, _seq);
create index shop_orders_old_order_id on staging.shop_orders (_old_order_id) where _old_order_id is not null;
create index shop_orders_truncates on staging.shop_orders (_lsn, _seq) where _op = 't';
create index shop_order_lines_order_id on staging.shop_order_lines (order_id, _lsn, _seq);
create index shop_order_lines_old_order_id on staging.shop_order_lines (_old_order_id) where _old_order_id is not null;
create index shop_order_lines_truncates on staging.shop_order_lines (_lsn, _seq) where _op = 't';
create index shop_products_product_id on staging.shop_products (product_id, _lsn, _seq);

do $comments$
declare
  t record;
  c record;
begin
  for t in select * from (values
      ('shop_customers', 'public.customers'), ('shop_products', 'public.products'),
      ('shop_orders', 'public.orders'), ('shop_order_lines', 'public.order_lines')) v(tab, src) loop
    execute format('comment on table staging.%I is %L', t.tab,
      'Change log of ' || t.src || ' on source shop (sluice.sources): every change a row, in commit order (_lsn, _seq). '
      || 'Created by the orders pack in the replicator''s shape, so that the pack''s triggers are in place before the first change.');
    execute format('comment on column staging.%I._op is %L', t.tab,
      'r: from the initial snapshot; i: insert; u: update; d: delete (the key columns hold the old key); t: truncate.');
    execute format('comment on column staging.%I._lsn is %L', t.tab,
      'Commit LSN of the source transaction (the snapshot''s consistent point for r).');
    execute format('comment on column staging.%I._seq is %L', t.tab, 'Order of the change within its transaction (0 for the snapshot).');
    execute format('comment on column staging.%I._commit_at is %L', t.tab, 'When the source transaction committed.');
    execute format('comment on column staging.%I._unchanged is %L', t.tab,
      'Comma-separated columns an update did not send because their (TOASTed) value did not change; they are NULL here and keep their value in the mirror.');
    for c in select a.attname from pg_attribute a
              where a.attrelid = ('staging.' || t.tab)::regclass and a.attnum > 0 and not a.attisdropped
                and a.attname not like '\_%' loop
      execute format('comment on column staging.%I.%I is %L', t.tab, c.attname,
        'Column ' || c.attname || ' of ' || t.src || ' on source shop.');
    end loop;
    for c in select a.attname from pg_attribute a
              where a.attrelid = ('staging.' || t.tab)::regclass and a.attname like '\_old\_%' loop
      execute format('comment on column staging.%I.%I is %L', t.tab, c.attname,
        'The old value of key column ' || substr(c.attname, 6) || ' when an update changed the key.');
    end loop;
  end loop;
end
$comments$;

-- The CSV export ---------------------------------------------------------------------------

create table staging.orders_export (
  _file_id     bigint not null,
  _record      bigint not null,
  order_id     bigint not null,
  ordered_at   timestamptz not null,
  customer_id  bigint,
  product_id   bigint not null,
  product_name text,
  quantity     integer not null,
  unit_price   numeric(10,2) not null,
  status       text not null
);
create index orders_export_order_id on staging.orders_export (order_id);

comment on table staging.orders_export is 'Rows of the shop''s CSV exports (orders/*.csv, orders/*.csv.gz) as loaded: one per order line of every export, so an order appears once per export that holds it. Which state counts is in core.orders_order / core.orders_line (the latest by source time, CDC included); rows that could not be typed are in sluice.rejects (feed orders).';
comment on column staging.orders_export._file_id is 'File the row came from (sluice.files.id); the export''s time comes from its name (YYYYMMDDTHHMMSSZ), else from sluice.files.first_seen_at.';
comment on column staging.orders_export._record is '1-based ordinal of the row in its file (the header is not a record).';
comment on column staging.orders_export.order_id is 'order_id: the order (same ids as the shop database''s orders.order_id).';
comment on column staging.orders_export.ordered_at is 'ordered_at: when the order was placed (ISO 8601; UTC when written without an offset).';
comment on column staging.orders_export.customer_id is 'customer_id: who ordered.';
comment on column staging.orders_export.product_id is 'product_id: the product of this line.';
comment on column staging.orders_export.product_name is 'product_name: the product''s name when exported.';
comment on column staging.orders_export.quantity is 'quantity: units of the product in the order.';
comment on column staging.orders_export.unit_price is 'unit_price: price of one unit as charged in this order.';
comment on column staging.orders_export.status is 'status: placed, paid, shipped or cancelled, as of the export.';

insert into sluice.feeds (name, file_globs, format, route_pointer, csv_header, null_strings, time_zone, description) values
  ('orders', '{orders/*.csv,orders/*.csv.gz}', 'csv', null, true, '{""}', 'UTC',
   'The shop''s order exports: CSV with a header, one row per order line; a later export repeats orders in their newer state.');

insert into sluice.feed_targets (feed, route_value, target_table) values
  ('orders', '', 'staging.orders_export');

insert into sluice.feed_columns (feed, target_table, column_name, csv_header) values
  ('orders', 'staging.orders_export', 'order_id',     'order_id'),
  ('orders', 'staging.orders_export', 'ordered_at',   'ordered_at'),
  ('orders', 'staging.orders_export', 'customer_id',  'customer_id'),
  ('orders', 'staging.orders_export', 'product_id',   'product_id'),
  ('orders', 'staging.orders_export', 'product_name', 'product_name'),
  ('orders', 'staging.orders_export', 'quantity',     'quantity'),
  ('orders', 'staging.orders_export', 'unit_price',   'unit_price'),
  ('orders', 'staging.orders_export', 'status',       'status');
