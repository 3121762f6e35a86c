-- Sales pack, staging: the rows of the sales CSV exports, typed. An export is a
-- CSV file dropped into sales/ under the inbox (*.csv or *.csv.gz), a full or
-- partial export of the sales system, with this header:
--
--   SaleID,ProductID,ProductName,Brand,Category,RetailerID,RetailerName,Channel,Location,Quantity,Price,Date
--
-- A later export may repeat sale ids with corrected values; staging keeps every
-- row of every export (core.fact_sales keeps one per sale id: see 0002_core.sql).
--
-- The column types and NOT NULLs are the feed's contract: the loader rejects a
-- row that does not fit, naming the column and the value (a price written
-- "100USD" is such a reject). The feed declares how text is read: '', None,
-- NULL and N/A are NULL; dates are YYYY-MM-DD or YYYY/MM/DD. No CHECK
-- constraints here (a failing check would abort a whole COPY): a negative
-- quantity or a missing product id is loaded, and reported by
-- reports.sales_data_quality.

create table staging.sales (
  _file_id      bigint not null,
  _record       bigint not null,
  sale_id       bigint not null,
  product_id    integer,
  product_name  text not null,
  brand         text,
  category      text,
  retailer_id   integer not null,
  retailer_name text,
  channel       text,
  location      text,
  quantity      integer not null,
  price         numeric(12,2) not null,
  sale_date     date not null
);

-- The maintenance trigger (0004_maintenance.sql) looks up the rows already
-- loaded for the sale ids of each batch: the latest one is the row the batch
-- may replace, and all of them are the duplicates the data-quality report
-- lists.
create index sales_sale_id on staging.sales (sale_id, _file_id, _record);

comment on table staging.sales is 'Sales export rows as loaded, one per CSV row of every file of the sales feed (sales/*.csv, sales/*.csv.gz), corrections included: a sale id may appear in several rows. The sale as it counts is in core.fact_sales; rows that could not be typed are in sluice.rejects (feed sales).';
comment on column staging.sales._file_id is 'File the row came from (sluice.files.id); a higher id was loaded later, and its values win (see core.fact_sales).';
comment on column staging.sales._record is '1-based ordinal of the row in its file (the header is not a record).';
comment on column staging.sales.sale_id is 'SaleID: the sale (order line); a later export may repeat it with corrected values.';
comment on column staging.sales.product_id is 'ProductID; NULL when the export left it empty (such sales go to the Unknown product).';
comment on column staging.sales.product_name is 'ProductName, e.g. Laptop.';
comment on column staging.sales.brand is 'Brand, e.g. BrandA.';
comment on column staging.sales.category is 'Category, e.g. Electronics.';
comment on column staging.sales.retailer_id is 'RetailerID.';
comment on column staging.sales.retailer_name is 'RetailerName, e.g. TechGear.';
comment on column staging.sales.channel is 'Channel: Online or Offline.';
comment on column staging.sales.location is 'Location of the store, e.g. New York; NULL for online retailers and when written None.';
comment on column staging.sales.quantity is 'Quantity: units sold; may be zero or negative in the export (see reports.sales_data_quality).';
comment on column staging.sales.price is 'Price: the amount of the whole line (unit price times quantity), not the unit price.';
comment on column staging.sales.sale_date is 'Date: the day of the sale (written YYYY-MM-DD or YYYY/MM/DD).';

-- The feed. One CSV file per export; every header name maps to its column.
insert into sluice.feeds (name, file_globs, format, route_pointer, csv_header, null_strings,
                          date_formats, description) values
  ('sales', '{sales/*.csv,sales/*.csv.gz}', 'csv', null, true, '{"",None,NULL,N/A}',
   '{YYYY-MM-DD,YYYY/MM/DD}',
   'Sales exports: CSV with a header, full or partial; a later export may repeat sale ids with corrected values.');

insert into sluice.feed_targets (feed, route_value, target_table) values
  ('sales', '', 'staging.sales');

insert into sluice.feed_columns (feed, target_table, column_name, csv_header) values
  ('sales', 'staging.sales', 'sale_id',       'SaleID'),
  ('sales', 'staging.sales', 'product_id',    'ProductID'),
  ('sales', 'staging.sales', 'product_name',  'ProductName'),
  ('sales', 'staging.sales', 'brand',         'Brand'),
  ('sales', 'staging.sales', 'category',      'Category'),
  ('sales', 'staging.sales', 'retailer_id',   'RetailerID'),
  ('sales', 'staging.sales', 'retailer_name', 'RetailerName'),
  ('sales', 'staging.sales', 'channel',       'Channel'),
  ('sales', 'staging.sales', 'location',      'Location'),
  ('sales', 'staging.sales', 'quantity',      'Quantity'),
  ('sales', 'staging.sales', 'price',         'Price'),
  ('sales', 'staging.sales', 'sale_date',     'Date');
