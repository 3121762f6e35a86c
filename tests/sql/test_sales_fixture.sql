-- The sales pack on a hand-computed fixture: four exports with every trap of
-- the real one, inserted into staging as the loader would (typed; several
-- statements and transactions), with exact expected contents of core and the
-- reports after each export and at the end.
--
--   file 1  sales/export-2024-02.csv            February, loaded first
--   file 2  sales/export-2024-01.csv            January, loaded after February
--   file 3  sales/export-2024-02-corrected.csv  corrections of February sales
--   file 4  sales/export-2024-01-late.csv.gz    one more January sale
--
-- Traps: a blank ProductID (sale 103), a location written None (sale 104: NULL
-- like the empty locations of TechGear), a negative quantity (105, corrected
-- later, and 205), a date written 2024/02/28 (104), a price "100USD" (record 4
-- of file 1: a reject, not in staging), rows out of date order, a sale id twice
-- in one file (102, the later row wins), corrected sale ids in a later file
-- (101, 105, 108), a product renamed between months with the exports out of
-- order (product 1: Laptop in January, Laptop Pro in February), a typo that a
-- correction removes (Smartfone), a version appearing with an earlier sale date
-- that re-points stored facts (Laptop Pro from 01-25: sale 204; retailer 2
-- renamed from 01-20: sale 102), two names on a product's first day (Kettle
-- and Kettle Pro; Desk and Desk Lamp).
--
-- Run by tests/sql/run_sql_test.sh in a fresh migrated database.

\set ON_ERROR_STOP 1
\o /dev/null
set client_min_messages = warning;

\ir lib/helpers.sql
\ir lib/sales_helpers.sql

-- The contract ------------------------------------------------------------------------------

select pg_temp.assert_same('the sales feed is declared as the loader needs it',
  $$select name, file_globs, format, csv_header, null_strings, date_formats from sluice.feeds where name = 'sales'$$,
  $$values ('sales', '{sales/*.csv,sales/*.csv.gz}'::text[], 'csv', true, '{"",None,NULL,N/A}'::text[],
            '{YYYY-MM-DD,YYYY/MM/DD}'::text[])$$);
select pg_temp.assert_same('every header name maps to its staging column',
  $$select column_name, csv_header, json_pointer, csv_position from sluice.feed_columns
     where feed = 'sales' and target_table = 'staging.sales'$$,
  $$values ('sale_id', 'SaleID', null::text, null::int), ('product_id', 'ProductID', null, null),
           ('product_name', 'ProductName', null, null), ('brand', 'Brand', null, null),
           ('category', 'Category', null, null), ('retailer_id', 'RetailerID', null, null),
           ('retailer_name', 'RetailerName', null, null), ('channel', 'Channel', null, null),
           ('location', 'Location', null, null), ('quantity', 'Quantity', null, null),
           ('price', 'Price', null, null), ('sale_date', 'Date', null, null)$$);
select pg_temp.assert_same('the staging columns, their types and NOT NULLs are the contract',
  $$select a.attnum::int, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull
      from pg_attribute a
     where a.attrelid = 'staging.sales'::regclass and a.attnum > 0 and not a.attisdropped$$,
  $$values (1, '_file_id', 'bigint', true), (2, '_record', 'bigint', true),
           (3, 'sale_id', 'bigint', true), (4, 'product_id', 'integer', false),
           (5, 'product_name', 'text', true), (6, 'brand', 'text', false),
           (7, 'category', 'text', false), (8, 'retailer_id', 'integer', true),
           (9, 'retailer_name', 'text', false), (10, 'channel', 'text', false),
           (11, 'location', 'text', false), (12, 'quantity', 'integer', true),
           (13, 'price', 'numeric(12,2)', true), (14, 'sale_date', 'date', true)$$);
select pg_temp.assert_true('staging.sales has no CHECK constraint (it would abort a COPY)',
  not exists (select 1 from pg_constraint where conrelid = 'staging.sales'::regclass and contype = 'c'));

-- The exports -------------------------------------------------------------------------------

insert into sluice.files (id, feed, path, state) values
  (1, 'sales', 'sales/export-2024-02.csv', 'loaded'),
  (2, 'sales', 'sales/export-2024-01.csv', 'loaded'),
  (3, 'sales', 'sales/export-2024-02-corrected.csv', 'loaded'),
  (4, 'sales', 'sales/export-2024-01-late.csv.gz', 'loaded');

-- File 1, February, in two statements of one transaction (two COPY batches).
-- Record 4 was 100USD: a reject.
begin;
insert into staging.sales values
  (1, 1, 101, 1, 'Laptop Pro', 'BrandA', 'Electronics', 1, 'TechGear', 'Online', null, 2, 3000.00, '2024-02-10'),
  (1, 2, 102, 2, 'Coffee Maker', 'BrandB', 'Appliances', 2, 'HomeEssentials', 'Offline', 'New York', 1, 100.00, '2024-02-03'),
  (1, 3, 103, null, 'Blender', 'BrandE', 'Appliances', 3, 'GadgetWorld', 'Offline', 'San Francisco', 4, 800.00, '2024-02-20');
insert into sluice.rejects (file_id, feed, record, line, byte_offset, field, reason, raw) values
  (1, 'sales', 4, 5, 361, 'Price', 'Price "100USD" is not a number',
   '109,2,Coffee Maker,BrandB,Appliances,1,TechGear,Online,,1,100USD,2024-02-12');
insert into staging.sales values
  (1, 5, 104, 3, 'Smartphone', 'BrandC', 'Electronics', 1, 'TechGear', 'Online', null, 1, 800.00, '2024-02-28'),
  (1, 6, 105, 1, 'Laptop Pro', 'BrandA', 'Electronics', 1, 'TechGear', 'Online', null, -1, -1500.00, '2024-02-15'),
  (1, 7, 106, 2, 'Coffee Maker', 'BrandB', 'Appliances', 3, 'GadgetWorld', 'Offline', 'San Francisco', 2, 200.00, '2024-02-01'),
  (1, 8, 108, 3, 'Smartfone', 'BrandC', 'Electronics', 3, 'GadgetWorld', 'Offline', 'San Francisco', 1, 800.00, '2024-02-25'),
  (1, 9, 102, 2, 'Coffee Maker', 'BrandB', 'Appliances', 2, 'HomeEssentials', 'Offline', 'New York', 2, 200.00, '2024-02-03');
commit;

select pg_temp.assert_same('products after file 1',
  'select product_id, product_name, brand, category, valid_from, valid_to from core.sales_dim_product',
  $$values (null::int, 'Unknown', 'Unknown', 'Unknown', date '-infinity', date 'infinity'),
           (1, 'Laptop Pro', 'BrandA', 'Electronics', '2024-02-10', 'infinity'),
           (2, 'Coffee Maker', 'BrandB', 'Appliances', '2024-02-01', 'infinity'),
           (3, 'Smartfone', 'BrandC', 'Electronics', '2024-02-25', '2024-02-28'),
           (3, 'Smartphone', 'BrandC', 'Electronics', '2024-02-28', 'infinity')$$);
select pg_temp.assert_same('sale 102: the later row of the same file wins; 105 is negative',
  'select sale_id, quantity, amount from core.sales_fact where sale_id in (102, 105)',
  $$values (102::bigint, 2, 200.00::numeric(12,2)), (105, -1, -1500.00)$$);
select pg_temp.assert_same('findings after file 1',
  'select * from reports.sales_data_quality',
  $$values (102::bigint, 'duplicate_sale_id', '2 rows: sales/export-2024-02.csv record 2, sales/export-2024-02.csv record 9; the last one counts'),
           (103, 'missing_product_id', 'ProductID is empty (ProductName Blender) in sales/export-2024-02.csv, record 3'),
           (105, 'non_positive_quantity', 'Quantity is -1 in sales/export-2024-02.csv, record 6')$$);

-- File 2, January, loaded after February: product 1 was called Laptop then.
insert into staging.sales values
  (2, 1, 201, 1, 'Laptop', 'BrandA', 'Electronics', 1, 'TechGear', 'Online', null, 1, 1500.00, '2024-01-20'),
  (2, 2, 202, 1, 'Laptop', 'BrandA', 'Electronics', 2, 'HomeEssentials', 'Offline', 'New York', 3, 4500.00, '2024-01-05'),
  (2, 3, 203, 2, 'Coffee Maker', 'BrandB', 'Appliances', 1, 'TechGear', 'Online', null, 1, 100.00, '2024-01-12'),
  (2, 4, 204, 1, 'Laptop', 'BrandA', 'Electronics', 1, 'TechGear', 'Online', null, 2, 3000.00, '2024-01-28'),
  (2, 5, 205, 2, 'Coffee Maker', 'BrandB', 'Appliances', 1, 'TechGear', 'Online', null, -1, -100.00, '2024-01-30');

select pg_temp.assert_same('product 1 after the January file: Laptop until Laptop Pro first sold',
  'select product_name, valid_from, valid_to from core.sales_dim_product where product_id = 1',
  $$values ('Laptop', date '2024-01-05', date '2024-02-10'), ('Laptop Pro', '2024-02-10', 'infinity')$$);
select pg_temp.assert_same('sale 204 (01-28) is a Laptop sale, for now',
  $$select p.product_name from core.sales_fact f join core.sales_dim_product p using (product_key) where f.sale_id = 204$$,
  $$values ('Laptop')$$);

create temp table keys_before_corrections as
select f.sale_id, f.product_key, f.retailer_key from core.sales_fact f;

-- File 3: corrections of 101 (quantity), 105 (the negative quantity), 108 (the
-- typo), and 107, a Laptop Pro sale on 01-25 that the February export lacked.
begin;
insert into staging.sales values
  (3, 1, 101, 1, 'Laptop Pro', 'BrandA', 'Electronics', 1, 'TechGear', 'Online', null, 3, 4500.00, '2024-02-10'),
  (3, 2, 105, 1, 'Laptop Pro', 'BrandA', 'Electronics', 1, 'TechGear', 'Online', null, 1, 1500.00, '2024-02-15');
insert into staging.sales values
  (3, 3, 108, 3, 'Smartphone', 'BrandC', 'Electronics', 3, 'GadgetWorld', 'Offline', 'San Francisco', 1, 800.00, '2024-02-25'),
  (3, 4, 107, 1, 'Laptop Pro', 'BrandA', 'Electronics', 3, 'GadgetWorld', 'Offline', 'San Francisco', 1, 1500.00, '2024-01-25');
commit;

select pg_temp.assert_same('product 1 after the corrections: Laptop Pro from 01-25',
  'select product_name, valid_from, valid_to from core.sales_dim_product where product_id = 1',
  $$values ('Laptop', date '2024-01-05', date '2024-01-25'), ('Laptop Pro', '2024-01-25', 'infinity')$$);
select pg_temp.assert_same('sale 204 (01-28) is re-pointed to Laptop Pro, the version that kept its key',
  $$select p.product_name, f.product_key = (select k.product_key from keys_before_corrections k where k.sale_id = 101)
      from core.sales_fact f join core.sales_dim_product p using (product_key) where f.sale_id = 204$$,
  $$values ('Laptop Pro', true)$$);
select pg_temp.assert_same('the typo is gone: one version of product 3, the key sale 104 had',
  $$select p.product_name, p.valid_from, p.valid_to,
           p.product_key = (select k.product_key from keys_before_corrections k where k.sale_id = 104)
      from core.sales_dim_product p where p.product_id = 3$$,
  $$values ('Smartphone', date '2024-02-25', date 'infinity', true)$$);

-- File 4: retailer 2 is "Home Essentials" from 01-20 on. Two new products
-- whose first day has two names: Kettle (two sales) beats Kettle Pro (one),
-- and of Desk and Desk Lamp (one each) the first in byte order wins; the
-- loser gets no version of its own.
insert into staging.sales values
  (4, 1, 401, 2, 'Coffee Maker', 'BrandB', 'Appliances', 2, 'Home Essentials', 'Offline', 'New York', 1, 100.00, '2024-01-20'),
  (4, 2, 402, 5, 'Kettle', 'BrandF', 'Appliances', 1, 'TechGear', 'Online', null, 1, 50.00, '2024-01-15'),
  (4, 3, 404, 5, 'Kettle Pro', 'BrandF', 'Appliances', 1, 'TechGear', 'Online', null, 1, 60.00, '2024-01-15'),
  (4, 4, 403, 5, 'Kettle', 'BrandF', 'Appliances', 1, 'TechGear', 'Online', null, 1, 50.00, '2024-01-15'),
  (4, 5, 405, 6, 'Desk Lamp', 'BrandG', 'Furniture', 2, 'HomeEssentials', 'Offline', 'New York', 1, 30.00, '2024-01-16'),
  (4, 6, 406, 6, 'Desk', 'BrandG', 'Furniture', 2, 'HomeEssentials', 'Offline', 'New York', 1, 30.00, '2024-01-16');

-- The end state -------------------------------------------------------------------------------

select pg_temp.assert_same('core.sales_dim_product',
  'select product_id, product_name, brand, category, valid_from, valid_to from core.sales_dim_product',
  $$values (null::int, 'Unknown', 'Unknown', 'Unknown', date '-infinity', date 'infinity'),
           (1, 'Laptop', 'BrandA', 'Electronics', '2024-01-05', '2024-01-25'),
           (1, 'Laptop Pro', 'BrandA', 'Electronics', '2024-01-25', 'infinity'),
           (2, 'Coffee Maker', 'BrandB', 'Appliances', '2024-01-12', 'infinity'),
           (3, 'Smartphone', 'BrandC', 'Electronics', '2024-02-25', 'infinity'),
           (5, 'Kettle', 'BrandF', 'Appliances', '2024-01-15', 'infinity'),
           (6, 'Desk', 'BrandG', 'Furniture', '2024-01-16', 'infinity')$$);
select pg_temp.assert_true('the Unknown product is product_key 0',
  (select product_key from core.sales_dim_product where product_id is null) = 0);

select pg_temp.assert_same('core.sales_dim_retailer: None and empty are both NULL, so TechGear has one version',
  'select retailer_id, retailer_name, channel, location, valid_from, valid_to from core.sales_dim_retailer',
  $$values (1, 'TechGear', 'Online', null::text, date '2024-01-12', date 'infinity'),
           (2, 'HomeEssentials', 'Offline', 'New York', '2024-01-05', '2024-01-20'),
           (2, 'Home Essentials', 'Offline', 'New York', '2024-01-20', 'infinity'),
           (3, 'GadgetWorld', 'Offline', 'San Francisco', '2024-01-25', 'infinity')$$);

select pg_temp.assert_same('core.sales_fact: one row per sale id, latest values, versions valid on the sale date',
  $$select f.sale_id, d.date, p.product_id, p.product_name, r.retailer_id, r.retailer_name, f.quantity, f.amount
      from core.sales_fact f
      join core.dim_date d on d.date_key = f.date_key
      join core.sales_dim_product p on p.product_key = f.product_key
      join core.sales_dim_retailer r on r.retailer_key = f.retailer_key$$,
  $$values (101::bigint, date '2024-02-10', 1, 'Laptop Pro', 1, 'TechGear', 3, 4500.00::numeric(12,2)),
           (102, '2024-02-03', 2, 'Coffee Maker', 2, 'Home Essentials', 2, 200.00),
           (103, '2024-02-20', null, 'Unknown', 3, 'GadgetWorld', 4, 800.00),
           (104, '2024-02-28', 3, 'Smartphone', 1, 'TechGear', 1, 800.00),
           (105, '2024-02-15', 1, 'Laptop Pro', 1, 'TechGear', 1, 1500.00),
           (106, '2024-02-01', 2, 'Coffee Maker', 3, 'GadgetWorld', 2, 200.00),
           (107, '2024-01-25', 1, 'Laptop Pro', 3, 'GadgetWorld', 1, 1500.00),
           (108, '2024-02-25', 3, 'Smartphone', 3, 'GadgetWorld', 1, 800.00),
           (201, '2024-01-20', 1, 'Laptop', 1, 'TechGear', 1, 1500.00),
           (202, '2024-01-05', 1, 'Laptop', 2, 'HomeEssentials', 3, 4500.00),
           (203, '2024-01-12', 2, 'Coffee Maker', 1, 'TechGear', 1, 100.00),
           (204, '2024-01-28', 1, 'Laptop Pro', 1, 'TechGear', 2, 3000.00),
           (205, '2024-01-30', 2, 'Coffee Maker', 1, 'TechGear', -1, -100.00),
           (401, '2024-01-20', 2, 'Coffee Maker', 2, 'Home Essentials', 1, 100.00),
           (402, '2024-01-15', 5, 'Kettle', 1, 'TechGear', 1, 50.00),
           (403, '2024-01-15', 5, 'Kettle', 1, 'TechGear', 1, 50.00),
           (404, '2024-01-15', 5, 'Kettle', 1, 'TechGear', 1, 60.00),
           (405, '2024-01-16', 6, 'Desk', 2, 'HomeEssentials', 1, 30.00),
           (406, '2024-01-16', 6, 'Desk', 2, 'HomeEssentials', 1, 30.00)$$);
select pg_temp.assert_same('fact date keys are YYYYMMDD',
  'select sale_id, date_key from core.sales_fact where sale_id in (104, 202)',
  $$values (104::bigint, 20240228), (202, 20240105)$$);

select pg_temp.assert_same('core.dim_date has the facts'' days, with their calendar attributes',
  $$select d.date_key, d.date, d.year, d.quarter, d.month, d.day, d.iso_week, d.weekday
      from core.dim_date d
     where d.date_key in (select f.date_key from core.sales_fact f)
       and d.date in ('2024-01-05', '2024-02-25', '2024-02-28')$$,
  $$values (20240105, date '2024-01-05', 2024, 1, 1, 5, 1, 5),
           (20240225, '2024-02-25', 2024, 1, 2, 25, 8, 7),
           (20240228, '2024-02-28', 2024, 1, 2, 28, 9, 3)$$);
select pg_temp.assert_true('core.dim_date has every day a fact needs',
  not exists (select 1 from core.sales_fact f
               where not exists (select 1 from core.dim_date d where d.date_key = f.date_key)));

select pg_temp.assert_same('reports.sales_monthly (quantity > 0, names of the versions valid on the sale date)',
  'select * from reports.sales_monthly',
  $$values (date '2024-01-01', 'Laptop', 'TechGear', 'Online', 1::bigint, 1500.00::numeric),
           ('2024-01-01', 'Laptop', 'HomeEssentials', 'Offline', 3, 4500.00),
           ('2024-01-01', 'Coffee Maker', 'TechGear', 'Online', 1, 100.00),
           ('2024-01-01', 'Laptop Pro', 'TechGear', 'Online', 2, 3000.00),
           ('2024-01-01', 'Laptop Pro', 'GadgetWorld', 'Offline', 1, 1500.00),
           ('2024-01-01', 'Coffee Maker', 'Home Essentials', 'Offline', 1, 100.00),
           ('2024-01-01', 'Kettle', 'TechGear', 'Online', 3, 160.00),
           ('2024-01-01', 'Desk', 'HomeEssentials', 'Offline', 2, 60.00),
           ('2024-02-01', 'Laptop Pro', 'TechGear', 'Online', 4, 6000.00),
           ('2024-02-01', 'Coffee Maker', 'Home Essentials', 'Offline', 2, 200.00),
           ('2024-02-01', 'Unknown', 'GadgetWorld', 'Offline', 4, 800.00),
           ('2024-02-01', 'Smartphone', 'TechGear', 'Online', 1, 800.00),
           ('2024-02-01', 'Coffee Maker', 'GadgetWorld', 'Offline', 2, 200.00),
           ('2024-02-01', 'Smartphone', 'GadgetWorld', 'Offline', 1, 800.00)$$);
select pg_temp.assert_same('reports.sales_monthly has the promised columns and types',
  $$select a.attname::text, format_type(a.atttypid, a.atttypmod)
      from pg_attribute a where a.attrelid = 'reports.sales_monthly'::regclass and a.attnum > 0$$,
  $$values ('month', 'date'), ('product_name', 'text'), ('retailer_name', 'text'), ('channel', 'text'),
           ('quantity', 'bigint'), ('revenue', 'numeric')$$);

select pg_temp.assert_same('reports.sales_data_quality',
  'select * from reports.sales_data_quality',
  $$values (101::bigint, 'duplicate_sale_id', '2 rows: sales/export-2024-02.csv record 1, sales/export-2024-02-corrected.csv record 1; the last one counts'),
           (102, 'duplicate_sale_id', '2 rows: sales/export-2024-02.csv record 2, sales/export-2024-02.csv record 9; the last one counts'),
           (103, 'missing_product_id', 'ProductID is empty (ProductName Blender) in sales/export-2024-02.csv, record 3'),
           (105, 'duplicate_sale_id', '2 rows: sales/export-2024-02.csv record 6, sales/export-2024-02-corrected.csv record 2; the last one counts'),
           (108, 'duplicate_sale_id', '2 rows: sales/export-2024-02.csv record 8, sales/export-2024-02-corrected.csv record 3; the last one counts'),
           (205, 'non_positive_quantity', 'Quantity is -1 in sales/export-2024-01.csv, record 5')$$);

select pg_temp.assert_sales_equals_full('at the end');

-- A rebuild from staging alone gives the same contents (keys renumbered).
create temp table before_rebuild as
select 'product' as t, to_jsonb(x) - 'product_key' as row from core.sales_dim_product x
union all select 'retailer', to_jsonb(x) - 'retailer_key' from core.sales_dim_retailer x
union all select 'fact', to_jsonb(x) from pg_temp.sales_fact_natural x
union all select 'monthly', to_jsonb(x) from reports.sales_monthly x
union all select 'quality', to_jsonb(x) from reports.sales_data_quality x;
select core.sales_rebuild();
select pg_temp.assert_same('a rebuild gives what the trigger kept',
  $$select 'product' as t, to_jsonb(x) - 'product_key' as row from core.sales_dim_product x
    union all select 'retailer', to_jsonb(x) - 'retailer_key' from core.sales_dim_retailer x
    union all select 'fact', to_jsonb(x) from pg_temp.sales_fact_natural x
    union all select 'monthly', to_jsonb(x) from reports.sales_monthly x
    union all select 'quality', to_jsonb(x) from reports.sales_data_quality x$$,
  'select * from before_rebuild');

-- The same exports loaded in calendar order (January, late January, February,
-- corrections; new ledger rows, so new file ids, still with the corrections
-- last) give the same history, facts and reports: the order exports arrive in
-- does not matter, only which file of a repeated sale id was loaded last.
truncate staging.sales;
select core.sales_rebuild();
select pg_temp.assert_true('after emptying staging, a rebuild leaves only the Unknown product',
  (select count(*) from core.sales_dim_product) = 1 and not exists (select 1 from core.sales_fact)
  and not exists (select 1 from core.sales_dim_retailer) and not exists (select 1 from reports.sales_data_quality));

insert into sluice.files (id, feed, path, state) values
  (12, 'sales', 'sales/export-2024-01.csv', 'loaded'),
  (14, 'sales', 'sales/export-2024-01-late.csv.gz', 'loaded'),
  (21, 'sales', 'sales/export-2024-02.csv', 'loaded'),
  (23, 'sales', 'sales/export-2024-02-corrected.csv', 'loaded');
insert into staging.sales values
  (12, 1, 201, 1, 'Laptop', 'BrandA', 'Electronics', 1, 'TechGear', 'Online', null, 1, 1500.00, '2024-01-20'),
  (12, 2, 202, 1, 'Laptop', 'BrandA', 'Electronics', 2, 'HomeEssentials', 'Offline', 'New York', 3, 4500.00, '2024-01-05'),
  (12, 3, 203, 2, 'Coffee Maker', 'BrandB', 'Appliances', 1, 'TechGear', 'Online', null, 1, 100.00, '2024-01-12'),
  (12, 4, 204, 1, 'Laptop', 'BrandA', 'Electronics', 1, 'TechGear', 'Online', null, 2, 3000.00, '2024-01-28'),
  (12, 5, 205, 2, 'Coffee Maker', 'BrandB', 'Appliances', 1, 'TechGear', 'Online', null, -1, -100.00, '2024-01-30');
insert into staging.sales values
  (14, 1, 401, 2, 'Coffee Maker', 'BrandB', 'Appliances', 2, 'Home Essentials', 'Offline', 'New York', 1, 100.00, '2024-01-20'),
  (14, 2, 402, 5, 'Kettle', 'BrandF', 'Appliances', 1, 'TechGear', 'Online', null, 1, 50.00, '2024-01-15');
insert into staging.sales values
  (14, 3, 404, 5, 'Kettle Pro', 'BrandF', 'Appliances', 1, 'TechGear', 'Online', null, 1, 60.00, '2024-01-15'),
  (14, 4, 403, 5, 'Kettle', 'BrandF', 'Appliances', 1, 'TechGear', 'Online', null, 1, 50.00, '2024-01-15'),
  (14, 5, 405, 6, 'Desk Lamp', 'BrandG', 'Furniture', 2, 'HomeEssentials', 'Offline', 'New York', 1, 30.00, '2024-01-16');
insert into staging.sales values
  (14, 6, 406, 6, 'Desk', 'BrandG', 'Furniture', 2, 'HomeEssentials', 'Offline', 'New York', 1, 30.00, '2024-01-16');
insert into staging.sales values
  (21, 1, 101, 1, 'Laptop Pro', 'BrandA', 'Electronics', 1, 'TechGear', 'Online', null, 2, 3000.00, '2024-02-10'),
  (21, 2, 102, 2, 'Coffee Maker', 'BrandB', 'Appliances', 2, 'HomeEssentials', 'Offline', 'New York', 1, 100.00, '2024-02-03'),
  (21, 3, 103, null, 'Blender', 'BrandE', 'Appliances', 3, 'GadgetWorld', 'Offline', 'San Francisco', 4, 800.00, '2024-02-20'),
  (21, 5, 104, 3, 'Smartphone', 'BrandC', 'Electronics', 1, 'TechGear', 'Online', null, 1, 800.00, '2024-02-28'),
  (21, 6, 105, 1, 'Laptop Pro', 'BrandA', 'Electronics', 1, 'TechGear', 'Online', null, -1, -1500.00, '2024-02-15'),
  (21, 7, 106, 2, 'Coffee Maker', 'BrandB', 'Appliances', 3, 'GadgetWorld', 'Offline', 'San Francisco', 2, 200.00, '2024-02-01'),
  (21, 8, 108, 3, 'Smartfone', 'BrandC', 'Electronics', 3, 'GadgetWorld', 'Offline', 'San Francisco', 1, 800.00, '2024-02-25'),
  (21, 9, 102, 2, 'Coffee Maker', 'BrandB', 'Appliances', 2, 'HomeEssentials', 'Offline', 'New York', 2, 200.00, '2024-02-03');
insert into staging.sales values
  (23, 1, 101, 1, 'Laptop Pro', 'BrandA', 'Electronics', 1, 'TechGear', 'Online', null, 3, 4500.00, '2024-02-10'),
  (23, 2, 105, 1, 'Laptop Pro', 'BrandA', 'Electronics', 1, 'TechGear', 'Online', null, 1, 1500.00, '2024-02-15'),
  (23, 3, 108, 3, 'Smartphone', 'BrandC', 'Electronics', 3, 'GadgetWorld', 'Offline', 'San Francisco', 1, 800.00, '2024-02-25'),
  (23, 4, 107, 1, 'Laptop Pro', 'BrandA', 'Electronics', 3, 'GadgetWorld', 'Offline', 'San Francisco', 1, 1500.00, '2024-01-25');

select pg_temp.assert_same('loaded in calendar order: the same history, facts and reports',
  $$select 'product' as t, to_jsonb(x) - 'product_key' as row from core.sales_dim_product x
    union all select 'retailer', to_jsonb(x) - 'retailer_key' from core.sales_dim_retailer x
    union all select 'fact', to_jsonb(x) from pg_temp.sales_fact_natural x
    union all select 'monthly', to_jsonb(x) from reports.sales_monthly x
    union all select 'quality', to_jsonb(x) from reports.sales_data_quality x$$,
  'select * from before_rebuild');
select pg_temp.assert_sales_equals_full('loaded in calendar order');
