-- Sales pack, core: a star schema. core.fact_sales (one row per sale id) with
-- the dimensions core.dim_product and core.dim_retailer (SCD type 2) and
-- sluice's calendar core.dim_date; 0006_pack_prefix.sql renames the first
-- three core.sales_fact, core.sales_dim_product and core.sales_dim_retailer.
-- Kept by the statement trigger of 0004_maintenance.sql; each table also has
-- a *_full() function here that computes it from staging alone, by other
-- code: the reference the tests hold the trigger and
-- core.sales_rebuild() to.
--
-- Rules (the same in the trigger and in the *_full() functions)
--
--   * Latest wins. A sale id may come in several rows (a later export repeats
--     it with corrected values, or one export repeats it). The row that counts
--     is the one of the latest file, then the latest row in that file: the
--     highest (_file_id, _record). _file_id is sluice.files.id, a bigserial,
--     so "latest file" means the file LOADED last, whatever its name or the
--     dates in it; the export system's own order is not in the data. Rows that
--     lost still count as duplicates in reports.sales_data_quality.
--
--   * The current rows make the history. Only the row that counts for each
--     sale id says anything about its product and retailer: a corrected export
--     that fixes a product's name leaves no trace of the wrong name in
--     core.dim_product.
--
--   * SCD2 by sale date. Each distinct (product_name, brand, category) of a
--     product_id is a version, valid from the first sale date on which it
--     appears in those rows, until the next version's. So the history is a
--     function of the rows, not of the order exports arrive in: an export of
--     January loaded after one of March gives the history that loading them in
--     order gives. Consequences, both deliberate:
--       - an attribute set that comes back (A, then B, then A again) is not a
--         new version: A's version ended where B first appeared, and the sales
--         of the third period carry B's version;
--       - two attribute sets that first appear on the same day: the one with
--         more sales that day is the version, then the first by
--         (product_name, brand, category) in byte order ("C" collation); the
--         other gets no version of its own.
--     The retailers' (retailer_name, channel, location) follow the same rules.
--
--   * Versions are half-open date ranges [valid_from, valid_to); the current
--     one has valid_to = 'infinity' (as in the hubdoc and pleo packs). A key
--     never changes its attributes: a version whose range moves keeps its key,
--     a version that no longer exists is deleted, and facts are re-pointed to
--     the version valid on their sale date whenever ranges change.
--
--   * Product id missing: the sale goes to the Unknown product, product_key 0,
--     valid forever. Its product name is in staging and in
--     reports.sales_data_quality.
--
--   * Surrogate keys of products and retailers are identity columns; date_key
--     is the day as YYYYMMDD, like the hubdoc pack's.

-- Date dimension ------------------------------------------------------------------------
-- core.dim_date is the warehouse's one calendar, sluice's own
-- (sql/sluice/0014_calendar.sql: the days of 2000-2060, date_key YYYYMMDD, and
-- weekday); sales inserts the days its facts need that are not there yet
-- (core.sales_ensure_dates()).

create function core.sales_date_key(d date) returns integer
  language sql immutable parallel safe
  return case when d = 'infinity' then 2147483647
              when d = '-infinity' then -2147483648
              else (extract(year from d) * 10000 + extract(month from d) * 100
                    + extract(day from d))::integer end;
comment on function core.sales_date_key(date) is
  'core.dim_date.date_key of a day (YYYYMMDD); infinity and -infinity map to the largest and smallest integer, so that date ranges map to date_key ranges.';

create function core.sales_key_month(date_key integer) returns date
  language sql immutable parallel safe
  return make_date(date_key / 10000, date_key / 100 % 100, 1);
comment on function core.sales_key_month(integer) is
  'First day of the month of a date_key (YYYYMMDD).';

create function core.sales_ensure_dates(days date[]) returns void
  language sql
as $$
  insert into core.dim_date (date, date_key, year, quarter, month, month_name, day, day_of_week,
                             day_name, iso_week, is_weekend, month_start, month_end, year_start)
  select d, core.sales_date_key(d), extract(year from d)::integer,
         extract(quarter from d)::integer, extract(month from d)::integer,
         trim(to_char(d, 'Month')), extract(day from d)::integer, extract(isodow from d)::integer,
         trim(to_char(d, 'Day')), extract(week from d)::integer, extract(isodow from d) in (6, 7),
         date_trunc('month', d)::date,
         (date_trunc('month', d) + interval '1 month' - interval '1 day')::date,
         date_trunc('year', d)::date
    from (select distinct u.d from unnest(days) as u(d) where u.d is not null) x
   where not exists (select 1 from core.dim_date dd where dd.date = x.d)
   order by d
  on conflict do nothing
$$;
comment on function core.sales_ensure_dates(date[]) is
  'Insert into core.dim_date the given days it does not hold yet.';

-- Products --------------------------------------------------------------------------------

create table core.dim_product (
  product_key  integer generated always as identity primary key,
  product_id   integer,
  product_name text not null,
  brand        text,
  category     text,
  valid_from   date not null,
  valid_to     date not null default 'infinity',
  check (valid_from < valid_to),
  -- the Unknown product, and only it, has no product_id
  check ((product_id is null) = (product_key = 0))
);
-- Checked at the end of each statement, not row by row: the trigger moves
-- versions' ranges and inserts new ones in one statement.
alter table core.dim_product
  add constraint dim_product_version unique (product_id, valid_from) deferrable initially immediate,
  add constraint dim_product_attributes unique nulls not distinct (product_id, product_name, brand, category)
    deferrable initially immediate,
  add constraint dim_product_one_current exclude using btree (product_id with =)
    where (valid_to = 'infinity') deferrable initially immediate;

insert into core.dim_product (product_key, product_id, product_name, brand, category, valid_from, valid_to)
overriding system value
values (0, null, 'Unknown', 'Unknown', 'Unknown', '-infinity', 'infinity');

comment on table core.dim_product is 'Products, SCD type 2: one version per product_id and (product_name, brand, category) as the sales say, valid over [valid_from, valid_to) by sale date; the current version has valid_to = ''infinity''. product_key 0 is the Unknown product, which takes the sales without a product id. Rules: header of sql/sales/0002_core.sql.';
comment on column core.dim_product.product_key is 'Surrogate key of this version (identity; 0 = Unknown); core.fact_sales.product_key.';
comment on column core.dim_product.product_id is 'ProductID of the exports; NULL only for the Unknown product.';
comment on column core.dim_product.product_name is 'ProductName during this version; ''Unknown'' for the Unknown product.';
comment on column core.dim_product.brand is 'Brand during this version.';
comment on column core.dim_product.category is 'Category during this version.';
comment on column core.dim_product.valid_from is 'First sale date of this version (inclusive): the first sale date on which these attributes appear for the product; -infinity for Unknown.';
comment on column core.dim_product.valid_to is 'End of this version (exclusive): valid_from of the next version, or ''infinity'' for the current one.';

-- The bookkeeping the versions are computed from, per product: its attribute
-- sets (core.sales_product_attributes) and, per attribute set and sale date,
-- how many sales say so (core.sales_product_days). An attribute set's version
-- starts on its first day with sales there: one index probe per attribute set
-- (primary key order), however many days the product has sold on. Kept with
-- +/- deltas by the trigger, so a correction that moves the last sale of a
-- day away moves or removes a version.

-- One text per attribute set, NULLs included, equal exactly when the sets are
-- (NULL equal to NULL): a key a plain btree looks up, where the columns
-- themselves would need IS NOT DISTINCT FROM, which no index serves.
create function core.sales_attributes(a text, b text, c text) returns text
  language sql immutable parallel safe
  return quote_nullable(a) || ',' || quote_nullable(b) || ',' || quote_nullable(c);
comment on function core.sales_attributes(text, text, text) is
  'Key of an attribute set: the three values quoted, NULL as NULL; equal exactly when the three are (NULL equal to NULL).';

create table core.sales_product_attributes (
  product_id   integer not null,
  attributes   text not null,
  product_name text not null,
  brand        text,
  category     text,
  primary key (product_id, attributes)
);
comment on table core.sales_product_attributes is 'Bookkeeping of core.dim_product: the (product_name, brand, category) sets that sales have given a product_id, whether a version or not (see core.sales_product_days for when); a set no current row carries any more may stay, without days.';
comment on column core.sales_product_attributes.product_id is 'The product.';
comment on column core.sales_product_attributes.attributes is 'core.sales_attributes(product_name, brand, category): the key of the attribute set.';
comment on column core.sales_product_attributes.product_name is 'ProductName.';
comment on column core.sales_product_attributes.brand is 'Brand.';
comment on column core.sales_product_attributes.category is 'Category.';

create table core.sales_product_days (
  product_id integer not null,
  attributes text not null,
  sale_date  date not null,
  sales      integer not null,
  primary key (product_id, attributes, sale_date)
);
comment on table core.sales_product_days is 'Bookkeeping of core.dim_product: per product_id, attribute set and sale date, the number of sales whose current row says so. Rows that reach 0 are deleted.';
comment on column core.sales_product_days.product_id is 'The product.';
comment on column core.sales_product_days.attributes is 'The attribute set (core.sales_product_attributes.attributes).';
comment on column core.sales_product_days.sale_date is 'The sale date.';
comment on column core.sales_product_days.sales is 'How many sales (current rows) have this product, attribute set and date.';

-- Retailers -------------------------------------------------------------------------------

create table core.dim_retailer (
  retailer_key  integer generated always as identity primary key,
  retailer_id   integer not null,
  retailer_name text,
  channel       text,
  location      text,
  valid_from    date not null,
  valid_to      date not null default 'infinity',
  check (valid_from < valid_to)
);
alter table core.dim_retailer
  add constraint dim_retailer_version unique (retailer_id, valid_from) deferrable initially immediate,
  add constraint dim_retailer_attributes unique nulls not distinct (retailer_id, retailer_name, channel, location)
    deferrable initially immediate,
  add constraint dim_retailer_one_current exclude using btree (retailer_id with =)
    where (valid_to = 'infinity') deferrable initially immediate;

comment on table core.dim_retailer is 'Retailers, SCD type 2: one version per retailer_id and (retailer_name, channel, location) as the sales say, valid over [valid_from, valid_to) by sale date; the current version has valid_to = ''infinity''. Rules: header of sql/sales/0002_core.sql.';
comment on column core.dim_retailer.retailer_key is 'Surrogate key of this version (identity); core.fact_sales.retailer_key.';
comment on column core.dim_retailer.retailer_id is 'RetailerID of the exports.';
comment on column core.dim_retailer.retailer_name is 'RetailerName during this version.';
comment on column core.dim_retailer.channel is 'Channel during this version: Online or Offline.';
comment on column core.dim_retailer.location is 'Location during this version; NULL for online retailers (and when the export said None).';
comment on column core.dim_retailer.valid_from is 'First sale date of this version (inclusive).';
comment on column core.dim_retailer.valid_to is 'End of this version (exclusive): valid_from of the next version, or ''infinity'' for the current one.';

create table core.sales_retailer_attributes (
  retailer_id   integer not null,
  attributes    text not null,
  retailer_name text,
  channel       text,
  location      text,
  primary key (retailer_id, attributes)
);
comment on table core.sales_retailer_attributes is 'Bookkeeping of core.dim_retailer: the (retailer_name, channel, location) sets that sales have given a retailer_id, whether a version or not (see core.sales_retailer_days for when); a set no current row carries any more may stay, without days.';
comment on column core.sales_retailer_attributes.retailer_id is 'The retailer.';
comment on column core.sales_retailer_attributes.attributes is 'core.sales_attributes(retailer_name, channel, location): the key of the attribute set.';
comment on column core.sales_retailer_attributes.retailer_name is 'RetailerName.';
comment on column core.sales_retailer_attributes.channel is 'Channel.';
comment on column core.sales_retailer_attributes.location is 'Location.';

create table core.sales_retailer_days (
  retailer_id integer not null,
  attributes  text not null,
  sale_date   date not null,
  sales       integer not null,
  primary key (retailer_id, attributes, sale_date)
);
comment on table core.sales_retailer_days is 'Bookkeeping of core.dim_retailer: per retailer_id, attribute set and sale date, the number of sales whose current row says so. Rows that reach 0 are deleted.';
comment on column core.sales_retailer_days.retailer_id is 'The retailer.';
comment on column core.sales_retailer_days.attributes is 'The attribute set (core.sales_retailer_attributes.attributes).';
comment on column core.sales_retailer_days.sale_date is 'The sale date.';
comment on column core.sales_retailer_days.sales is 'How many sales (current rows) have this retailer, attribute set and date.';

-- Facts -----------------------------------------------------------------------------------

-- Not partitioned. Measured with 10M facts (scripts/bench_sales.sql;
-- PostgreSQL 15, 2 cores shared with other builds, so +-30%): a copy
-- partitioned by month (36 partitions, the same indexes) grouped the whole
-- monthly report from the facts in 19.6 s against 19.1 s plain, and one month
-- of it in 0.27 s against 0.40 s; but it took a batch of 10,000 sales (1,000
-- of them corrections) in 2.4 s against 0.13 s. In a table partitioned by
-- month sale_id cannot be unique (a unique index must hold the partition key,
-- and a correction may move a sale to another month), so a batch has to find
-- its sale ids through every partition's index and delete them before it
-- inserts. And the reports do not read the facts by month anyway: one month
-- of reports.sales_monthly reads core.sales_month_totals in 9 ms.
create table core.fact_sales (
  sale_id      bigint primary key,
  date_key     integer not null,
  product_key  integer not null,
  retailer_key integer not null,
  quantity     integer not null,
  amount       numeric(12,2) not null
);
-- For BI filters and joins by day, product and retailer; the two composite
-- ones also let the trigger re-point exactly the facts of a version's changed
-- date range.
create index fact_sales_date on core.fact_sales (date_key);
create index fact_sales_product on core.fact_sales (product_key, date_key);
create index fact_sales_retailer on core.fact_sales (retailer_key, date_key);

comment on table core.fact_sales is 'Sales, one row per sale id, with the values of its latest row (the latest file loaded, then the latest row in it: see the header of sql/sales/0002_core.sql). Keys are those of the product and retailer versions valid on the sale date. Includes sales with a zero or negative quantity (see reports.sales_data_quality).';
comment on column core.fact_sales.sale_id is 'SaleID of the exports.';
comment on column core.fact_sales.date_key is 'Sale date as YYYYMMDD; joins core.dim_date.date_key.';
comment on column core.fact_sales.product_key is 'core.dim_product version valid on the sale date; 0 (Unknown) when the sale has no product id.';
comment on column core.fact_sales.retailer_key is 'core.dim_retailer version valid on the sale date.';
comment on column core.fact_sales.quantity is 'Units sold, as exported (may be zero or negative).';
comment on column core.fact_sales.amount is 'Amount of the whole line (the export''s Price: unit price times quantity).';

-- Full recompute, straight from staging: the reference for the tests ------------------------

create function core.sales_latest_rows()
  returns setof staging.sales
  language sql stable
as $$
  select distinct on (s.sale_id) s.*
    from staging.sales s
   order by s.sale_id, s._file_id desc, s._record desc
$$;
comment on function core.sales_latest_rows() is
  'The row that counts for each sale id: the highest (_file_id, _record).';

create function core.sales_dim_product_full()
  returns table (product_id integer, product_name text, brand text, category text,
                 valid_from date, valid_to date)
  language sql stable
as $$
  with days as (
    select l.product_id, l.product_name, l.brand, l.category, l.sale_date, count(*) as sales
      from core.sales_latest_rows() l
     where l.product_id is not null
     group by l.product_id, l.product_name, l.brand, l.category, l.sale_date),
  firsts as (
    select distinct on (d.product_id, d.product_name, d.brand, d.category) d.*
      from days d
     order by d.product_id, d.product_name, d.brand, d.category, d.sale_date),
  chosen as (
    select distinct on (f.product_id, f.sale_date) f.*
      from firsts f
     order by f.product_id, f.sale_date, f.sales desc, f.product_name collate "C",
              f.brand collate "C", f.category collate "C")
  select c.product_id, c.product_name, c.brand, c.category, c.sale_date,
         coalesce(lead(c.sale_date) over (partition by c.product_id order by c.sale_date),
                  'infinity'::date)
    from chosen c
  union all
  select null, 'Unknown', 'Unknown', 'Unknown', '-infinity', 'infinity'
$$;
comment on function core.sales_dim_product_full() is
  'core.dim_product (without keys) computed from scratch from staging.';

create function core.sales_dim_retailer_full()
  returns table (retailer_id integer, retailer_name text, channel text, location text,
                 valid_from date, valid_to date)
  language sql stable
as $$
  with days as (
    select l.retailer_id, l.retailer_name, l.channel, l.location, l.sale_date, count(*) as sales
      from core.sales_latest_rows() l
     group by l.retailer_id, l.retailer_name, l.channel, l.location, l.sale_date),
  firsts as (
    select distinct on (d.retailer_id, d.retailer_name, d.channel, d.location) d.*
      from days d
     order by d.retailer_id, d.retailer_name, d.channel, d.location, d.sale_date),
  chosen as (
    select distinct on (f.retailer_id, f.sale_date) f.*
      from firsts f
     order by f.retailer_id, f.sale_date, f.sales desc, f.retailer_name collate "C",
              f.channel collate "C", f.location collate "C")
  select c.retailer_id, c.retailer_name, c.channel, c.location, c.sale_date,
         coalesce(lead(c.sale_date) over (partition by c.retailer_id order by c.sale_date),
                  'infinity'::date)
    from chosen c
$$;
comment on function core.sales_dim_retailer_full() is
  'core.dim_retailer (without keys) computed from scratch from staging.';

-- Facts by natural keys: a version is named by its product_id (retailer_id)
-- and valid_from, since surrogate keys depend on the order rows were loaded in.
create function core.sales_fact_full()
  returns table (sale_id bigint, sale_date date, product_id integer, product_valid_from date,
                 retailer_id integer, retailer_valid_from date, quantity integer,
                 amount numeric(12,2))
  language sql stable
as $$
  select l.sale_id, l.sale_date, l.product_id,
         case when l.product_id is null then '-infinity'::date else p.valid_from end,
         l.retailer_id, r.valid_from, l.quantity, l.price
    from core.sales_latest_rows() l
    left join core.sales_dim_product_full() p
      on p.product_id = l.product_id and p.valid_from <= l.sale_date and l.sale_date < p.valid_to
    left join core.sales_dim_retailer_full() r
      on r.retailer_id = l.retailer_id and r.valid_from <= l.sale_date and l.sale_date < r.valid_to
$$;
comment on function core.sales_fact_full() is
  'core.fact_sales computed from scratch from staging, with natural keys: each version is named by its id and valid_from.';
