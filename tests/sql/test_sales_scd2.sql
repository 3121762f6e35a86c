-- The sales dimensions are well-formed SCD type 2 at every step: generated
-- exports (pg_temp.sales_generate() in lib/sales_helpers.sql, another seed
-- than the incremental test) are loaded in random pieces, and after every few
-- transactions:
--   * each product id (and the Unknown product) and each retailer id has
--     exactly one current version, and its versions leave no gap and do not
--     overlap, from its first sale date on;
--   * each version starts on the first sale date of its attributes among the
--     sales' current rows (the rule of sql/sales/0002_core.sql);
--   * every fact's product and retailer keys name versions of the sale's own
--     product id and retailer id that are valid on its sale date (Unknown
--     exactly for the sales without a product id), and its day is in
--     core.dim_date;
--   * a key never changes its attributes;
--   * the monthly sums are those of the facts.
--
-- Run by tests/sql/run_sql_test.sh in a fresh migrated database.

\set ON_ERROR_STOP 1
\o /dev/null
set client_min_messages = warning;
set synchronous_commit = off;
set jit = off;

\ir lib/helpers.sql
\ir lib/sales_helpers.sql

-- Every key seen so far with its attributes.
create temp table seen_keys (dim text, key integer, attributes jsonb, primary key (dim, key));

create function pg_temp.assert_sales_scd2(label text) returns void
  language plpgsql
as $$
begin
  -- One current version per id; contiguous, non-overlapping versions.
  perform pg_temp.assert_same(label || ': one current product version per product id (and Unknown)',
    $q$select product_id, count(*) from core.sales_dim_product where valid_to = 'infinity' group by product_id$q$,
    $q$select distinct product_id, 1::bigint from core.sales_dim_product$q$);
  perform pg_temp.assert_same(label || ': one current retailer version per retailer id',
    $q$select retailer_id, count(*) from core.sales_dim_retailer where valid_to = 'infinity' group by retailer_id$q$,
    $q$select distinct retailer_id, 1::bigint from staging.sales$q$);
  perform pg_temp.assert_true(label || ': product versions are not empty, do not overlap, leave no gap',
    not exists (select 1
                  from (select valid_from, valid_to,
                               lead(valid_from) over (partition by product_id order by valid_from) as next_from
                          from core.sales_dim_product) v
                 where v.valid_from >= v.valid_to or (v.next_from is not null and v.next_from <> v.valid_to)));
  perform pg_temp.assert_true(label || ': retailer versions are not empty, do not overlap, leave no gap',
    not exists (select 1
                  from (select valid_from, valid_to,
                               lead(valid_from) over (partition by retailer_id order by valid_from) as next_from
                          from core.sales_dim_retailer) v
                 where v.valid_from >= v.valid_to or (v.next_from is not null and v.next_from <> v.valid_to)));

  -- Each version starts on the first sale date of its attributes; the first
  -- version on the id's first sale date.
  perform pg_temp.assert_true(label || ': a product version starts on the first sale of its attributes',
    not exists (select 1
                  from core.sales_dim_product p
                 where p.product_id is not null
                   and p.valid_from is distinct from
                       (select min(l.sale_date) from core.sales_latest_rows() l
                         where l.product_id = p.product_id
                           and (l.product_name, l.brand, l.category)
                               is not distinct from (p.product_name, p.brand, p.category))));
  perform pg_temp.assert_same(label || ': a product''s first version starts on its first sale',
    $q$select product_id, min(valid_from) from core.sales_dim_product where product_id is not null group by 1$q$,
    $q$select product_id, min(sale_date) from core.sales_latest_rows() where product_id is not null group by 1$q$);
  perform pg_temp.assert_true(label || ': a retailer version starts on the first sale of its attributes',
    not exists (select 1
                  from core.sales_dim_retailer r
                 where r.valid_from is distinct from
                       (select min(l.sale_date) from core.sales_latest_rows() l
                         where l.retailer_id = r.retailer_id
                           and (l.retailer_name, l.channel, l.location)
                               is not distinct from (r.retailer_name, r.channel, r.location))));
  perform pg_temp.assert_same(label || ': a retailer''s first version starts on its first sale',
    'select retailer_id, min(valid_from) from core.sales_dim_retailer group by 1',
    'select retailer_id, min(sale_date) from core.sales_latest_rows() group by 1');

  -- Every fact's keys are valid on its date and belong to its sale's ids.
  perform pg_temp.assert_same(label || ': every fact names versions of its own ids valid on its date',
    $q$select f.sale_id, p.product_id, r.retailer_id, d.date,
              p.valid_from <= d.date and d.date < p.valid_to,
              r.valid_from <= d.date and d.date < r.valid_to
         from core.sales_fact f
         join core.dim_date d on d.date_key = f.date_key
         join core.sales_dim_product p on p.product_key = f.product_key
         join core.sales_dim_retailer r on r.retailer_key = f.retailer_key$q$,
    $q$select sale_id, product_id, retailer_id, sale_date, true, true from core.sales_latest_rows()$q$);
  perform pg_temp.assert_true(label || ': the Unknown product takes exactly the sales without a product id',
    (select count(*) from core.sales_fact where product_key = 0)
    = (select count(*) from core.sales_latest_rows() where product_id is null));

  -- Keys keep their attributes.
  perform pg_temp.assert_same(label || ': a key never changes its attributes',
    $q$select k.dim, k.key, k.attributes from seen_keys k
        where (k.dim, k.key) in (select 'product', product_key from core.sales_dim_product
                                 union all select 'retailer', retailer_key from core.sales_dim_retailer)$q$,
    $q$select 'product', product_key, jsonb_build_array(product_id, product_name, brand, category)
         from core.sales_dim_product
        where product_key in (select key from seen_keys where dim = 'product')
       union all
       select 'retailer', retailer_key, jsonb_build_array(retailer_id, retailer_name, channel, location)
         from core.sales_dim_retailer
        where retailer_key in (select key from seen_keys where dim = 'retailer')$q$);
  insert into seen_keys
  select 'product', product_key, jsonb_build_array(product_id, product_name, brand, category)
    from core.sales_dim_product
  union all
  select 'retailer', retailer_key, jsonb_build_array(retailer_id, retailer_name, channel, location)
    from core.sales_dim_retailer
  on conflict do nothing;

  -- The monthly sums are the facts'.
  perform pg_temp.assert_same(label || ': core.sales_month_totals sums the facts with quantity > 0',
    'select month, product_key, retailer_key, quantity, revenue, sales from core.sales_month_totals',
    $q$select core.sales_key_month(date_key), product_key, retailer_key, sum(quantity)::bigint,
              sum(amount), count(*)
         from core.sales_fact where quantity > 0 group by 1, 2, 3$q$);
end
$$;

select pg_temp.sales_generate(0.1732, 1200, 14);

select pg_temp.assert_true('products and retailers come with several attribute sets, some on another day than their schedule',
  (select count(*) from (select distinct product_id, product_name, brand, category from gen_row
                          where product_id is not null) x) > 20
  and (select count(*) from (select distinct retailer_id, retailer_name, location from gen_row) x) > 8);

select stmt from pg_temp.sales_load_script(3, 'pg_temp.assert_sales_scd2') order by step
\gexec

select pg_temp.assert_true('every generated row is in staging',
  (select count(*) from staging.sales) = (select count(*) from gen_row));
select pg_temp.assert_true('the dimensions have history',
  (select count(*) from core.sales_dim_product where valid_to <> 'infinity') > 10
  and (select count(*) from core.sales_dim_retailer where valid_to <> 'infinity') > 3);
select pg_temp.assert_true('some keys were deleted along the way (versions a correction removed)',
  (select count(*) from seen_keys) > (select count(*) from core.sales_dim_product) + (select count(*) from core.sales_dim_retailer));
select pg_temp.assert_sales_scd2('at the end');
