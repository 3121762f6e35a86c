-- Helpers of the sales pack's SQL tests (included with \ir after helpers.sql;
-- not a test itself).

-- core.sales_fact by natural keys: each dimension version named by its id and
-- valid_from (surrogate keys depend on the order rows were loaded in). Inner
-- joins: a fact whose key names no dimension row drops out, and the
-- comparison with the full recompute fails.
create view pg_temp.sales_fact_natural as
select f.sale_id, d.date as sale_date, p.product_id, p.valid_from as product_valid_from,
       r.retailer_id, r.valid_from as retailer_valid_from, f.quantity, f.amount
  from core.sales_fact f
  join core.dim_date d on d.date_key = f.date_key
  join core.sales_dim_product p on p.product_key = f.product_key
  join core.sales_dim_retailer r on r.retailer_key = f.retailer_key;

-- Everything the trigger keeps equals its full recompute from staging.
create function pg_temp.assert_sales_equals_full(label text) returns void
  language plpgsql
as $$
begin
  perform pg_temp.assert_same(label || ': core.sales_dim_product',
    'select product_id, product_name, brand, category, valid_from, valid_to from core.sales_dim_product',
    'select * from core.sales_dim_product_full()');
  perform pg_temp.assert_same(label || ': core.sales_dim_retailer',
    'select retailer_id, retailer_name, channel, location, valid_from, valid_to from core.sales_dim_retailer',
    'select * from core.sales_dim_retailer_full()');
  perform pg_temp.assert_same(label || ': core.sales_fact',
    'select * from pg_temp.sales_fact_natural', 'select * from core.sales_fact_full()');
  perform pg_temp.assert_same(label || ': reports.sales_monthly',
    'select * from reports.sales_monthly', 'select * from reports.sales_monthly_full()');
  perform pg_temp.assert_same(label || ': reports.sales_data_quality',
    'select * from reports.sales_data_quality', 'select * from reports.sales_data_quality_full()');
  perform pg_temp.assert_same(label || ': core.sales_product_days',
    $q$select a.product_id, a.product_name, a.brand, a.category, d.sale_date, d.sales::bigint
         from core.sales_product_days d
         join core.sales_product_attributes a on a.product_id = d.product_id and a.attributes = d.attributes$q$,
    $q$select product_id, product_name, brand, category, sale_date, count(*)
         from core.sales_latest_rows() where product_id is not null group by 1, 2, 3, 4, 5$q$);
  perform pg_temp.assert_same(label || ': core.sales_retailer_days',
    $q$select a.retailer_id, a.retailer_name, a.channel, a.location, d.sale_date, d.sales::bigint
         from core.sales_retailer_days d
         join core.sales_retailer_attributes a on a.retailer_id = d.retailer_id and a.attributes = d.attributes$q$,
    $q$select retailer_id, retailer_name, channel, location, sale_date, count(*)
         from core.sales_latest_rows() group by 1, 2, 3, 4, 5$q$);
end
$$;

-- Generated exports ------------------------------------------------------------------------------
-- pg_temp.sales_generate(seed, sales, exports) fills temp table gen_row with
-- the rows of `exports` sales exports (file = 1..exports, in load order;
-- record = the row's ordinal in its file), in the shapes the real exports
-- take:
--   * products 1..16 and retailers 1..5 change their attributes 0-3 times in
--     2024's first half (names, a category that goes NULL, a store that
--     moves), so exports carry several versions of each; products 9..16 sell
--     rarely (4% of the sales), so that a correction of a product's first sales (which
--     changes the attributes a version starts with) happens too;
--   * an export is a window of 15-70 days (most of its sales), or a
--     correction file (a few percent of all sales, from any date); 15% of its
--     rows carry changed values (the attributes of another day, no product
--     id, quantity and amount, a misspelt product name, another sale date)
--     and 2% of them come twice in the same file;
--   * 4% of the sales have no product id, 3% a zero or negative quantity;
--   * rows are in random date order within a file, and files in random order
--     of the dates they cover.
create function pg_temp.sales_generate(seed double precision, sales integer, exports integer)
  returns void
  language plpgsql
as $$
begin
  perform setseed(seed);
  drop table if exists gen_product_version, gen_retailer_version, gen_sale, gen_export, gen_row;

  create temp table gen_product_version as
  select p as product_id,
         case when v = 0 then date '2023-01-01' else date '2024-01-01' + floor(random() * 180)::integer end as from_date,
         (array['Laptop', 'Phone', 'Blender', 'Desk Chair', 'Kettle', 'Desk', 'Lamp', 'Monitor',
                'Toaster', 'Router', 'Sofa', 'Mixer', 'Tablet', 'Shelf', 'Fan', 'Camera'])[p]
           || case when v = 0 then '' else ' Mk' || (v + 1) end as product_name,
         'Brand' || chr(64 + p) as brand,
         case when random() < 0.15 then null
              else (array['Electronics', 'Appliances', 'Furniture'])[1 + p % 3] end as category
    from generate_series(1, 16) as p
   cross join lateral generate_series(0, floor(random() * 4)::integer + 0 * p) as v;

  create temp table gen_retailer_version as
  select r as retailer_id,
         case when v = 0 then date '2023-01-01' else date '2024-01-01' + floor(random() * 180)::integer end as from_date,
         (array['TechGear', 'ShopFast', 'HomeEssentials', 'GadgetWorld', 'CornerStore'])[r]
           || case when v > 0 and (r <= 2 or random() < 0.5) then ' ' || v else '' end as retailer_name,
         case when r <= 2 then 'Online' else 'Offline' end as channel,
         case when r <= 2 then null
              else (array['New York', 'San Francisco', 'Boston', 'Denver'])[1 + floor(random() * 4)::integer] end as location
    from generate_series(1, 5) as r
   cross join lateral generate_series(0, floor(random() * 4)::integer + 0 * r) as v;

  create temp table gen_sale as
  select s.sale_id, s.sale_date, s.product_id, s.retailer_id, s.quantity,
         (s.quantity * (100 + 50 * coalesce(s.product_id, 3)))::numeric(12,2) as price
    from (select 1000 + i as sale_id,
                 date '2024-01-01' + floor(random() * 182)::integer as sale_date,
                 case when random() < 0.04 then null
                      when random() < 0.04 then 9 + floor(random() * 8)::integer
                      else 1 + floor(random() * 8)::integer end as product_id,
                 1 + floor(random() * 5)::integer as retailer_id,
                 case when random() < 0.03 then -floor(random() * 3)::integer
                      else 1 + floor(random() * 5)::integer end as quantity
            from generate_series(1, sales) as i) s;

  -- Exports in the order they are loaded: mostly by window, with every third
  -- one swapped with a random other (exports arrive out of order).
  create temp table gen_export as
  select e as export,
         case when random() < 0.25 then 'correction' else 'window' end as kind,
         date '2024-01-01' + floor(random() * 170)::integer as win_from,
         15 + floor(random() * 55)::integer as win_days
    from generate_series(1, exports) as e;

  create temp table gen_row as
  with picked as (
    select x.export, s.*
      from gen_export x
      join gen_sale s
        on (x.kind = 'window' and s.sale_date >= x.win_from and s.sale_date < x.win_from + x.win_days
            and random() < 0.9)
        or (x.kind = 'correction' and random() < 0.04)),
  varied as (
    select p.export, p.sale_id, p.retailer_id, p.sale_date, random() as r, random() as r2,
           p.product_id, p.quantity, p.price
      from picked p
    union all
    select p.export, p.sale_id, p.retailer_id, p.sale_date, random(), random(),
           p.product_id, p.quantity, p.price
      from picked p
     where random() < 0.02),
  valued as (
    select v.export, v.sale_id, v.retailer_id,
           case when v.r between 0.13 and 0.15 then v.sale_date + (floor(v.r2 * 21)::integer - 10)
                else v.sale_date end as sale_date,
           case when v.r < 0.04 then v.sale_date + (floor(v.r2 * 41)::integer - 20)
                when v.r between 0.13 and 0.15 then v.sale_date + (floor(v.r2 * 21)::integer - 10)
                else v.sale_date end as attr_date,
           case when v.r between 0.04 and 0.06 then null else v.product_id end as product_id,
           case when v.r between 0.06 and 0.10 then v.quantity + 1 else v.quantity end as quantity,
           case when v.r between 0.06 and 0.10 then v.price + 10 else v.price end as price,
           v.r between 0.10 and 0.13 as misspelt
      from varied v)
  select x.export as file,
         row_number() over (partition by x.export order by random())::bigint as record,
         x.sale_id, x.product_id,
         case when x.misspelt then replace(p.product_name, 'a', 'e') else coalesce(p.product_name, 'Generic') end as product_name,
         p.brand, p.category, x.retailer_id, r.retailer_name, r.channel, r.location,
         x.quantity, x.price, x.sale_date
    from valued x
    left join lateral (
      select v.product_name, v.brand, v.category
        from gen_product_version v
       where v.product_id = coalesce(x.product_id, 1 + x.sale_id::integer % 16) and v.from_date <= x.attr_date
       order by v.from_date desc
       limit 1) p on true
    join lateral (
      select v.retailer_name, v.channel, v.location
        from gen_retailer_version v
       where v.retailer_id = x.retailer_id and v.from_date <= x.attr_date
       order by v.from_date desc
       limit 1) r on true;
end
$$;

-- Load gen_row into staging in random pieces: each file gets a ledger row
-- (id = its load order) and is cut into pieces of consecutive records (a cut
-- after 8% of the rows); the pieces of all files are shuffled and sent in
-- transactions of one to a few statements. Returns the statements, for
-- \gexec; after every `check_every`-th transaction the script calls
-- check_function(label) (by default: incremental == full).
create function pg_temp.sales_load_script(check_every integer,
                                          check_function text default 'pg_temp.assert_sales_equals_full')
  returns table (step integer, stmt text)
  language plpgsql
as $$
begin
  insert into sluice.files (id, feed, path, state)
  select f, 'sales', format('sales/export-%s.csv', lpad(f::text, 3, '0')), 'loaded'
    from (select distinct file as f from gen_row) x
  on conflict (id) do nothing;

  return query
  with cuts as (
    select g.file, g.record,
           sum(case when g.record = 1 or random() < 0.08 then 1 else 0 end)
             over (partition by g.file order by g.record) as piece
      from gen_row g),
  pieces as (
    select c.file, c.piece, min(c.record) as lo, max(c.record) as hi, random() as r
      from cuts c
     group by c.file, c.piece),
  ordered as (
    select p.*, row_number() over (order by p.r)::integer as n
      from pieces p),
  grouped as (
    select o.*,
           sum(case when o.n = 1 or random() < 0.4 then 1 else 0 end) over (order by o.n) as grp
      from ordered o),
  groups as (
    select g.grp, min(g.n) as first_n, max(g.n) as last_n
      from grouped g
     group by g.grp)
  select g.first_n * 10, 'begin' from groups g
  union all
  select o.n * 10 + 1,
         format('insert into staging.sales select file, record, sale_id, product_id, product_name, brand, category, retailer_id, retailer_name, channel, location, quantity, price, sale_date from gen_row where file = %s and record between %s and %s order by random()',
                o.file, o.lo, o.hi)
    from grouped o
  union all
  select g.last_n * 10 + 2, 'commit' from groups g
  union all
  select g.last_n * 10 + 3, format('select %s(''after %s pieces'')', check_function, g.last_n)
    from groups g
   where g.grp % check_every = 0
  order by 1;
end
$$;
