-- Sales pack, maintenance: how core.* and the reports stay current. Everything
-- is kept by statement triggers (AFTER INSERT ... REFERENCING NEW TABLE, FOR
-- EACH STATEMENT); nothing depends on time, so there is no job.
--
-- staging.sales -> core.sales_on_rows(), per batch (a COPY or INSERT):
--   1. Per sale id of the batch, its latest row in the batch and the latest
--      row loaded before (staging minus the batch, by the sale_id index). Where
--      the batch's is later (higher (_file_id, _record): the latest file loaded
--      wins, then the latest row in it), the sale changes: the old row's
--      attributes are taken out of core.sales_product_days /
--      core.sales_retailer_days (-1) and the new row's put in (+1), summed per
--      key first (ON CONFLICT DO UPDATE cannot touch a row twice in one
--      statement); new attribute sets are added to core.sales_*_attributes.
--   2. For the products and retailers whose counts changed, the versions are
--      recomputed from those counts (one index probe per attribute set for its
--      first day) and merged into core.dim_product /
--      core.dim_retailer (core.sales_sync_products() / _retailers()): new
--      versions are inserted, versions whose range moved are updated in place
--      (same key), versions that no longer exist are deleted; and the facts
--      already stored whose version changed are re-pointed, exactly: the
--      union of the old and new versions' bounds cuts the product's dates into
--      pieces, and only in the pieces whose old and new versions differ are
--      the facts of the old key updated (index (product_key, date_key)). This
--      is what a version appearing with an earlier sale date needs: the facts
--      between its first sale and the next version leave the version before.
--   3. The days core.dim_date lacks are inserted, and the changed sales are
--      upserted into core.fact_sales with the keys of the versions valid on
--      their sale dates.
--   4. reports.sales_data_quality: the findings of the batch's sale ids are
--      recomputed (also for rows that lost: they are duplicates all the same).
-- core.fact_sales -> statement triggers on INSERT, UPDATE and DELETE turn the
--   old and new rows (transition tables) into +/- deltas of
--   core.sales_month_totals, per month, product key and retailer key.
--
-- Concurrent loads (the loader streams batches on several connections; several
-- daemons may share a warehouse): step 1 reads what earlier batches left, and
-- every batch touches the same few products, so batches take turns: the
-- trigger first takes a transaction-level advisory lock, held until the batch
-- commits. Its next statement, in READ COMMITTED (the loader's isolation
-- level), has a new snapshot, which sees every batch committed before; a batch
-- still in flight holds the lock, so none is half-seen. The COPY of a batch
-- still runs alongside others; only the trigger and the commit take turns.
-- Under REPEATABLE READ the snapshot would predate the lock; run loads in READ
-- COMMITTED.
--
-- Measured with 10M sales in staging and core (scripts/bench_sales.sql;
-- PostgreSQL 15, 2 cores shared with other builds, so +-30%): a batch of
-- 10,000 rows (9,000 new sales, 1,000 corrections, over 200 products and 50
-- retailers) through the trigger takes 0.3-0.5 s, 30-50 us a row (0.6 s
-- with 200,000 sales: it does not grow with the tables, every step reads
-- index ranges of the batch's sale ids, attribute sets, products and
-- retailers). The biggest parts: the upsert into core.fact_sales (four
-- indexes), the per-day counts, the lookup of the earlier rows. Before the
-- per-attribute-set bookkeeping, recomputing the versions sorted every day of
-- every product of the batch: 1.1 s of a 2.6 s batch at 200,000 sales.
-- core.sales_rebuild() of the 10M rows takes 6.5 minutes.
--
-- The trigger holds a batch's rows in memory (arrays), which suits the
-- loader's batches (--batch-mb; 4 MB of COPY, the default, is ~25,000 sales).
-- To insert millions of rows in one statement by hand, disable the trigger
-- (alter table staging.sales disable trigger sales_rows), insert, enable it,
-- and run core.sales_rebuild(): one pass instead of a giant batch. Staging
-- rows are never updated or deleted by sluice; after editing or deleting
-- them by hand, run core.sales_rebuild() too.

-- Versions ----------------------------------------------------------------------------------

create function core.sales_sync_products(ids integer[]) returns bigint
  language sql
as $$
  with firsts as (
    select a.product_id, a.attributes, a.product_name, a.brand, a.category, f.sale_date, f.sales
      from core.sales_product_attributes a
     cross join lateral (
           select d.sale_date, d.sales
             from core.sales_product_days d
            where d.product_id = a.product_id and d.attributes = a.attributes and d.sales > 0
            order by d.sale_date
            limit 1) f
     where a.product_id = any (ids)),
  chosen as (
    select distinct on (f.product_id, f.sale_date) f.*
      from firsts f
     order by f.product_id, f.sale_date, f.sales desc, f.product_name collate "C",
              f.brand collate "C", f.category collate "C"),
  wanted as (
    select c.product_id, c.attributes, c.product_name, c.brand, c.category, c.sale_date as valid_from,
           coalesce(lead(c.sale_date) over (partition by c.product_id order by c.sale_date),
                    'infinity'::date) as valid_to
      from chosen c),
  stored as (
    select p.product_key, p.product_id, p.product_name, p.brand, p.category, p.valid_from, p.valid_to
      from core.dim_product p
     where p.product_id = any (ids)),
  matched as (
    select w.*, s.product_key, s.valid_from as old_from, s.valid_to as old_to
      from wanted w
      left join stored s
        on s.product_id = w.product_id
       and core.sales_attributes(s.product_name, s.brand, s.category) = w.attributes),
  added as (
    insert into core.dim_product (product_id, product_name, brand, category, valid_from, valid_to)
    select m.product_id, m.product_name, m.brand, m.category, m.valid_from, m.valid_to
      from matched m
     where m.product_key is null
     order by m.product_id, m.valid_from
    returning product_key, product_id, valid_from, valid_to),
  moved as (
    update core.dim_product p
       set valid_from = m.valid_from, valid_to = m.valid_to
      from matched m
     where p.product_key = m.product_key
       and (m.old_from, m.old_to) <> (m.valid_from, m.valid_to)
    returning p.product_key),
  gone as (
    delete from core.dim_product p
     using stored s
     where p.product_key = s.product_key
       and not exists (select 1 from matched m where m.product_key = s.product_key)
    returning p.product_key),
  new_map as (
    select m.product_id, m.product_key, m.valid_from, m.valid_to
      from matched m
     where m.product_key is not null
    union all
    select a.product_id, a.product_key, a.valid_from, a.valid_to
      from added a),
  -- The dates of each product cut at every old and new bound; a piece
  -- [lo, hi) has one old and one new version.
  bounds as (
    select s.product_id, s.valid_from as lo from stored s
    union
    select n.product_id, n.valid_from from new_map n),
  pieces as (
    select b.product_id, b.lo,
           coalesce(lead(b.lo) over (partition by b.product_id order by b.lo), 'infinity'::date) as hi
      from bounds b),
  changed as (
    select o.product_key as old_key, n.product_key as new_key, pc.lo, pc.hi
      from pieces pc
      join stored o on o.product_id = pc.product_id and o.valid_from <= pc.lo and pc.lo < o.valid_to
      join new_map n on n.product_id = pc.product_id and n.valid_from <= pc.lo and pc.lo < n.valid_to
     where o.product_key <> n.product_key),
  repointed as (
    update core.fact_sales f
       set product_key = c.new_key
      from changed c
     where f.product_key = c.old_key
       and f.date_key >= core.sales_date_key(c.lo) and f.date_key < core.sales_date_key(c.hi)
    returning f.sale_id)
  select (select count(*) from added) + (select count(*) from moved) + (select count(*) from gone)
         + (select count(*) from repointed)
$$;
comment on function core.sales_sync_products(integer[]) is
  'Bring the versions of the given products in core.dim_product in line with core.sales_product_attributes and core.sales_product_days, and re-point the facts whose version changed. Returns how many versions and facts it wrote.';

create function core.sales_sync_retailers(ids integer[]) returns bigint
  language sql
as $$
  with firsts as (
    select a.retailer_id, a.attributes, a.retailer_name, a.channel, a.location, f.sale_date, f.sales
      from core.sales_retailer_attributes a
     cross join lateral (
           select d.sale_date, d.sales
             from core.sales_retailer_days d
            where d.retailer_id = a.retailer_id and d.attributes = a.attributes and d.sales > 0
            order by d.sale_date
            limit 1) f
     where a.retailer_id = any (ids)),
  chosen as (
    select distinct on (f.retailer_id, f.sale_date) f.*
      from firsts f
     order by f.retailer_id, f.sale_date, f.sales desc, f.retailer_name collate "C",
              f.channel collate "C", f.location collate "C"),
  wanted as (
    select c.retailer_id, c.attributes, c.retailer_name, c.channel, c.location, c.sale_date as valid_from,
           coalesce(lead(c.sale_date) over (partition by c.retailer_id order by c.sale_date),
                    'infinity'::date) as valid_to
      from chosen c),
  stored as (
    select r.retailer_key, r.retailer_id, r.retailer_name, r.channel, r.location, r.valid_from, r.valid_to
      from core.dim_retailer r
     where r.retailer_id = any (ids)),
  matched as (
    select w.*, s.retailer_key, s.valid_from as old_from, s.valid_to as old_to
      from wanted w
      left join stored s
        on s.retailer_id = w.retailer_id
       and core.sales_attributes(s.retailer_name, s.channel, s.location) = w.attributes),
  added as (
    insert into core.dim_retailer (retailer_id, retailer_name, channel, location, valid_from, valid_to)
    select m.retailer_id, m.retailer_name, m.channel, m.location, m.valid_from, m.valid_to
      from matched m
     where m.retailer_key is null
     order by m.retailer_id, m.valid_from
    returning retailer_key, retailer_id, valid_from, valid_to),
  moved as (
    update core.dim_retailer r
       set valid_from = m.valid_from, valid_to = m.valid_to
      from matched m
     where r.retailer_key = m.retailer_key
       and (m.old_from, m.old_to) <> (m.valid_from, m.valid_to)
    returning r.retailer_key),
  gone as (
    delete from core.dim_retailer r
     using stored s
     where r.retailer_key = s.retailer_key
       and not exists (select 1 from matched m where m.retailer_key = s.retailer_key)
    returning r.retailer_key),
  new_map as (
    select m.retailer_id, m.retailer_key, m.valid_from, m.valid_to
      from matched m
     where m.retailer_key is not null
    union all
    select a.retailer_id, a.retailer_key, a.valid_from, a.valid_to
      from added a),
  bounds as (
    select s.retailer_id, s.valid_from as lo from stored s
    union
    select n.retailer_id, n.valid_from from new_map n),
  pieces as (
    select b.retailer_id, b.lo,
           coalesce(lead(b.lo) over (partition by b.retailer_id order by b.lo), 'infinity'::date) as hi
      from bounds b),
  changed as (
    select o.retailer_key as old_key, n.retailer_key as new_key, pc.lo, pc.hi
      from pieces pc
      join stored o on o.retailer_id = pc.retailer_id and o.valid_from <= pc.lo and pc.lo < o.valid_to
      join new_map n on n.retailer_id = pc.retailer_id and n.valid_from <= pc.lo and pc.lo < n.valid_to
     where o.retailer_key <> n.retailer_key),
  repointed as (
    update core.fact_sales f
       set retailer_key = c.new_key
      from changed c
     where f.retailer_key = c.old_key
       and f.date_key >= core.sales_date_key(c.lo) and f.date_key < core.sales_date_key(c.hi)
    returning f.sale_id)
  select (select count(*) from added) + (select count(*) from moved) + (select count(*) from gone)
         + (select count(*) from repointed)
$$;
comment on function core.sales_sync_retailers(integer[]) is
  'Bring the versions of the given retailers in core.dim_retailer in line with core.sales_retailer_attributes and core.sales_retailer_days, and re-point the facts whose version changed. Returns how many versions and facts it wrote.';

-- Staging -> core -------------------------------------------------------------------------------

-- enable_seqscan = off: everything here reads a few index ranges per sale id,
-- product or retailer of the batch; during a first load the planner has no
-- statistics yet and may guess a whole-table scan (as the pleo pack saw).
create function core.sales_on_rows() returns trigger
  language plpgsql
  set enable_seqscan = off
as $$
declare
  batch_ids bigint[];
  new_lines staging.sales[];
  old_lines staging.sales[];
  products  integer[];
  retailers integer[];
  product_days_emptied  core.sales_product_days[];
  retailer_days_emptied core.sales_retailer_days[];
begin
  -- Batches take turns (see the header); from here on every statement sees
  -- all batches committed before this one.
  perform pg_advisory_xact_lock(hashtext('sluice.pack:sales'));

  with batch as (
    select distinct on (n.sale_id) n.*
      from new_rows n
     order by n.sale_id, n._file_id desc, n._record desc),
  prior as (
    select distinct on (s.sale_id) s.*
      from staging.sales s
     where s.sale_id in (select b.sale_id from batch b)
       and not exists (select 1 from new_rows n where n._file_id = s._file_id and n._record = s._record)
     order by s.sale_id, s._file_id desc, s._record desc)
  select array_agg(b.sale_id),
         array_agg(b::staging.sales)
           filter (where p.sale_id is null or (b._file_id, b._record) > (p._file_id, p._record)),
         array_agg(p::staging.sales)
           filter (where p.sale_id is not null and (b._file_id, b._record) > (p._file_id, p._record))
    into batch_ids, new_lines, old_lines
    from batch b
    left join prior p on p.sale_id = b.sale_id;

  if new_lines is not null then
    with delta as (
      select d.product_id, d.product_name, d.brand, d.category,
             core.sales_attributes(d.product_name, d.brand, d.category) as attributes,
             d.sale_date, sum(d.w)::integer as w
        from (select n.product_id, n.product_name, n.brand, n.category, n.sale_date, 1 as w
                from unnest(new_lines) n
               where n.product_id is not null
              union all
              select o.product_id, o.product_name, o.brand, o.category, o.sale_date, -1
                from unnest(old_lines) o
               where o.product_id is not null) d
       group by d.product_id, d.product_name, d.brand, d.category, d.sale_date
      having sum(d.w) <> 0),
    named as (
      insert into core.sales_product_attributes (product_id, attributes, product_name, brand, category)
      select distinct d.product_id, d.attributes, d.product_name, d.brand, d.category
        from delta d
       where d.w > 0
       order by d.product_id, d.attributes
      on conflict do nothing),
    counted as (
      insert into core.sales_product_days as k (product_id, attributes, sale_date, sales)
      select d.product_id, d.attributes, d.sale_date, d.w
        from delta d
       order by d.product_id, d.attributes, d.sale_date
      on conflict (product_id, attributes, sale_date) do update set sales = k.sales + excluded.sales
      returning k.*)
    select array_agg(distinct c.product_id), array_agg(c) filter (where c.sales = 0)
      into products, product_days_emptied
      from counted c;

    with delta as (
      select d.retailer_id, d.retailer_name, d.channel, d.location,
             core.sales_attributes(d.retailer_name, d.channel, d.location) as attributes,
             d.sale_date, sum(d.w)::integer as w
        from (select n.retailer_id, n.retailer_name, n.channel, n.location, n.sale_date, 1 as w
                from unnest(new_lines) n
              union all
              select o.retailer_id, o.retailer_name, o.channel, o.location, o.sale_date, -1
                from unnest(old_lines) o) d
       group by d.retailer_id, d.retailer_name, d.channel, d.location, d.sale_date
      having sum(d.w) <> 0),
    named as (
      insert into core.sales_retailer_attributes (retailer_id, attributes, retailer_name, channel, location)
      select distinct d.retailer_id, d.attributes, d.retailer_name, d.channel, d.location
        from delta d
       where d.w > 0
       order by d.retailer_id, d.attributes
      on conflict do nothing),
    counted as (
      insert into core.sales_retailer_days as k (retailer_id, attributes, sale_date, sales)
      select d.retailer_id, d.attributes, d.sale_date, d.w
        from delta d
       order by d.retailer_id, d.attributes, d.sale_date
      on conflict (retailer_id, attributes, sale_date) do update set sales = k.sales + excluded.sales
      returning k.*)
    select array_agg(distinct c.retailer_id), array_agg(c) filter (where c.sales = 0)
      into retailers, retailer_days_emptied
      from counted c;

    -- A statement does not see the rows its own CTEs wrote: emptied days go here.
    if product_days_emptied is not null then
      delete from core.sales_product_days d
       using unnest(product_days_emptied) e
       where (d.product_id, d.attributes, d.sale_date) = (e.product_id, e.attributes, e.sale_date)
         and d.sales = 0;
    end if;
    if retailer_days_emptied is not null then
      delete from core.sales_retailer_days d
       using unnest(retailer_days_emptied) e
       where (d.retailer_id, d.attributes, d.sale_date) = (e.retailer_id, e.attributes, e.sale_date)
         and d.sales = 0;
    end if;
    if products is not null then
      perform core.sales_sync_products(products);
    end if;
    if retailers is not null then
      perform core.sales_sync_retailers(retailers);
    end if;

    perform core.sales_ensure_dates(array(select distinct n.sale_date from unnest(new_lines) n));

    insert into core.fact_sales as f (sale_id, date_key, product_key, retailer_key, quantity, amount)
    select n.sale_id, core.sales_date_key(n.sale_date), coalesce(p.product_key, 0), r.retailer_key,
           n.quantity, n.price
      from unnest(new_lines) n
      left join core.dim_product p
        on p.product_id = n.product_id and p.valid_from <= n.sale_date and n.sale_date < p.valid_to
      left join core.dim_retailer r
        on r.retailer_id = n.retailer_id and r.valid_from <= n.sale_date and n.sale_date < r.valid_to
     order by n.sale_id
    on conflict (sale_id) do update
       set date_key = excluded.date_key, product_key = excluded.product_key,
           retailer_key = excluded.retailer_key, quantity = excluded.quantity, amount = excluded.amount
     where (f.date_key, f.product_key, f.retailer_key, f.quantity, f.amount)
           is distinct from
           (excluded.date_key, excluded.product_key, excluded.retailer_key, excluded.quantity,
            excluded.amount);
  end if;

  delete from reports.sales_data_quality q where q.sale_id = any (batch_ids);
  insert into reports.sales_data_quality (sale_id, rule, detail)
  select x.sale_id, x.rule, x.detail from core.sales_findings(batch_ids) x;
  return null;
end
$$;
comment on function core.sales_on_rows() is
  'Statement trigger on staging.sales: apply the batch''s sales that are later than what was loaded before to the dimensions (re-pointing facts whose version changed), core.fact_sales and reports.sales_data_quality. See the header of sql/sales/0004_maintenance.sql.';

create trigger sales_rows
  after insert on staging.sales
  referencing new table as new_rows
  for each statement execute function core.sales_on_rows();

-- core.fact_sales -> core.sales_month_totals -------------------------------------------------------

create function core.sales_on_facts_inserted() returns trigger
  language plpgsql
as $$
begin
  insert into core.sales_month_totals as t (month, product_key, retailer_key, quantity, revenue, sales)
  select core.sales_key_month(n.date_key), n.product_key, n.retailer_key,
         sum(n.quantity), sum(n.amount), count(*)
    from new_facts n
   where n.quantity > 0
   group by 1, 2, 3
   order by 1, 2, 3
  on conflict (month, product_key, retailer_key) do update
     set quantity = t.quantity + excluded.quantity, revenue = t.revenue + excluded.revenue,
         sales = t.sales + excluded.sales;
  return null;
end
$$;
comment on function core.sales_on_facts_inserted() is
  'Statement trigger on core.fact_sales (INSERT): add the new facts to core.sales_month_totals.';

-- UPDATE: the old rows count -1, the new rows +1, summed per key first; sums
-- that reach no sale are deleted (in a second statement: a statement does not
-- see the rows its own CTEs wrote).
create function core.sales_on_facts_updated() returns trigger
  language plpgsql
as $$
declare
  emptied core.sales_month_totals[];
begin
  with delta as (
    select d.month, d.product_key, d.retailer_key, sum(d.quantity) as quantity,
           sum(d.revenue) as revenue, sum(d.sales) as sales
      from (select core.sales_key_month(o.date_key) as month, o.product_key, o.retailer_key,
                   -o.quantity::bigint as quantity, -o.amount as revenue, -1 as sales
              from old_facts o
             where o.quantity > 0
            union all
            select core.sales_key_month(n.date_key), n.product_key, n.retailer_key,
                   n.quantity, n.amount, 1
              from new_facts n
             where n.quantity > 0) d
     group by d.month, d.product_key, d.retailer_key
    having sum(d.sales) <> 0 or sum(d.quantity) <> 0 or sum(d.revenue) <> 0),
  applied as (
    insert into core.sales_month_totals as t (month, product_key, retailer_key, quantity, revenue, sales)
    select d.month, d.product_key, d.retailer_key, d.quantity, d.revenue, d.sales
      from delta d
     order by 1, 2, 3
    on conflict (month, product_key, retailer_key) do update
       set quantity = t.quantity + excluded.quantity, revenue = t.revenue + excluded.revenue,
           sales = t.sales + excluded.sales
    returning t.*)
  select array_agg(a) into emptied from applied a where a.sales = 0;

  if emptied is not null then
    delete from core.sales_month_totals t
     using unnest(emptied) e
     where (t.month, t.product_key, t.retailer_key) = (e.month, e.product_key, e.retailer_key)
       and t.sales = 0;
  end if;
  return null;
end
$$;
comment on function core.sales_on_facts_updated() is
  'Statement trigger on core.fact_sales (UPDATE): move the changed facts'' sums in core.sales_month_totals (old row -1, new row +1).';

create function core.sales_on_facts_deleted() returns trigger
  language plpgsql
as $$
begin
  with delta as (
    select core.sales_key_month(o.date_key) as month, o.product_key, o.retailer_key,
           sum(o.quantity) as quantity, sum(o.amount) as revenue, count(*) as sales
      from old_facts o
     where o.quantity > 0
     group by 1, 2, 3)
  update core.sales_month_totals t
     set quantity = t.quantity - d.quantity, revenue = t.revenue - d.revenue,
         sales = t.sales - d.sales
    from delta d
   where (t.month, t.product_key, t.retailer_key) = (d.month, d.product_key, d.retailer_key);
  delete from core.sales_month_totals t where t.sales = 0;
  return null;
end
$$;
comment on function core.sales_on_facts_deleted() is
  'Statement trigger on core.fact_sales (DELETE): take the deleted facts out of core.sales_month_totals.';

create trigger sales_facts_inserted
  after insert on core.fact_sales
  referencing new table as new_facts
  for each statement execute function core.sales_on_facts_inserted();

create trigger sales_facts_updated
  after update on core.fact_sales
  referencing old table as old_facts new table as new_facts
  for each statement execute function core.sales_on_facts_updated();

create trigger sales_facts_deleted
  after delete on core.fact_sales
  referencing old table as old_facts
  for each statement execute function core.sales_on_facts_deleted();

-- Full rebuild -------------------------------------------------------------------------------------

-- One pass over staging for the latest rows (kept in a temporary table), the
-- per-day counts from it, the versions from the counts by the trigger's own
-- core.sales_sync_*() (no facts yet, so nothing to re-point), then the facts
-- with one join. The tests hold the result to the *_full() functions.
create function core.sales_rebuild() returns void
  language plpgsql
as $$
begin
  perform pg_advisory_xact_lock(hashtext('sluice.pack:sales'));
  truncate core.fact_sales, core.sales_month_totals, core.dim_product, core.dim_retailer,
           core.sales_product_attributes, core.sales_product_days, core.sales_retailer_attributes,
           core.sales_retailer_days, reports.sales_data_quality
    restart identity;

  insert into core.dim_product (product_key, product_id, product_name, brand, category, valid_from, valid_to)
  overriding system value
  values (0, null, 'Unknown', 'Unknown', 'Unknown', '-infinity', 'infinity');

  drop table if exists pg_temp.sales_rebuild_latest;
  create temp table sales_rebuild_latest on commit drop as
  select * from core.sales_latest_rows();
  analyze pg_temp.sales_rebuild_latest;

  insert into core.sales_product_attributes (product_id, attributes, product_name, brand, category)
  select distinct l.product_id, core.sales_attributes(l.product_name, l.brand, l.category),
         l.product_name, l.brand, l.category
    from pg_temp.sales_rebuild_latest l
   where l.product_id is not null;
  insert into core.sales_product_days (product_id, attributes, sale_date, sales)
  select l.product_id, core.sales_attributes(l.product_name, l.brand, l.category), l.sale_date, count(*)
    from pg_temp.sales_rebuild_latest l
   where l.product_id is not null
   group by 1, 2, 3;
  insert into core.sales_retailer_attributes (retailer_id, attributes, retailer_name, channel, location)
  select distinct l.retailer_id, core.sales_attributes(l.retailer_name, l.channel, l.location),
         l.retailer_name, l.channel, l.location
    from pg_temp.sales_rebuild_latest l;
  insert into core.sales_retailer_days (retailer_id, attributes, sale_date, sales)
  select l.retailer_id, core.sales_attributes(l.retailer_name, l.channel, l.location), l.sale_date, count(*)
    from pg_temp.sales_rebuild_latest l
   group by 1, 2, 3;

  perform core.sales_sync_products(array(select distinct a.product_id from core.sales_product_attributes a));
  perform core.sales_sync_retailers(array(select distinct a.retailer_id from core.sales_retailer_attributes a));

  perform core.sales_ensure_dates(array(select distinct l.sale_date from pg_temp.sales_rebuild_latest l));

  -- core.sales_month_totals follows through the INSERT trigger on core.fact_sales.
  insert into core.fact_sales (sale_id, date_key, product_key, retailer_key, quantity, amount)
  select l.sale_id, core.sales_date_key(l.sale_date), coalesce(p.product_key, 0), r.retailer_key,
         l.quantity, l.price
    from pg_temp.sales_rebuild_latest l
    left join core.dim_product p
      on p.product_id = l.product_id and p.valid_from <= l.sale_date and l.sale_date < p.valid_to
    left join core.dim_retailer r
      on r.retailer_id = l.retailer_id and r.valid_from <= l.sale_date and l.sale_date < r.valid_to;

  insert into reports.sales_data_quality (sale_id, rule, detail)
  select q.sale_id, q.rule, q.detail from reports.sales_data_quality_full() q;
  drop table pg_temp.sales_rebuild_latest;
end
$$;
comment on function core.sales_rebuild() is
  'Recompute the sales pack''s core tables (keys renumbered) and reports from staging alone, e.g. after staging rows were deleted by hand. core.dim_date keeps its days. Takes the tables'' locks for the duration.';
