-- Hubdoc pack, maintenance: how core.* and reports.* stay current.
--
-- 1. Statement triggers on the staging tables (AFTER INSERT ... REFERENCING NEW
--    TABLE, FOR EACH STATEMENT) fold each loaded batch into core: the feed's
--    first/last event time, per-customer state (earliest sign-up, first/last
--    login) and the plan-change fact. Each trigger aggregates its transition
--    table by account first, then touches each core row once. Events arrive in
--    any order, so nothing assumes order: sign-up is a min, last login a max.
--    The SCD2 customer dimension is kept by the job (2.), for the accounts whose
--    sign-up changed or that got plan changes: their versions are recomputed
--    from the sign-up and all plan changes, with a plain insert for a new
--    customer without changes. It lags the load by at most one job run; in the
--    triggers it cost 5-10x the COPY of the sign-ups and plan changes.
--    The bulk event types stay cheap: PAGE_ACCESS and UPLOAD have no trigger at
--    all (they matter only through the feed's time span, which the job reads
--    through BRIN indexes); LOGIN appends one row per distinct account of the
--    batch to an unindexed log that the job folds into the per-customer state.
--
-- 2. Everything that depends on the as-of time (all four reports: churn moves
--    with time, and an explicit as-of hides later events) is kept by one
--    scheduled job, hubdoc_reports, so that the four reports always agree on
--    one as-of time. Each run re-derives, for the accounts that may have
--    changed, what the reports count for them (core.hubdoc_report_basis), turns
--    the difference into +/- deltas on small per-key count tables, and rebuilds
--    the report rows from those counts (a few hundred rows at most).
--    The accounts re-examined are
--      * those with LOGIN or PLAN_CHANGE events since the last run: the triggers
--        append them to core.hubdoc_account_log, which the job consumes (and folds
--        the logins into core.hubdoc_customer_state);
--      * those whose sign-up changed: their core.hubdoc_customer_state row was written by a transaction
--        at or above the previous watermark (changed_xid, indexed): every
--        transaction below it had finished before the previous run's snapshot,
--        so that run saw it. There is deliberately no upper bound: rows of
--        transactions at or above the new watermark that are already visible are
--        taken too (and again next run, harmlessly), so that a run leaves the
--        reports equal to a full recompute over its own snapshot even while an
--        unrelated long transaction holds the watermark back; and
--      * those whose 30 days of silence ended between the previous as-of time and
--        this one (an index range on last_login).
--    Everything is re-examined when the as-of setting changed or the job never ran.
--    A run that finds nothing changed reads three index ranges and returns.
--
-- Measured trigger overhead (PostgreSQL 15, shared 2-core box under load ~8, so
-- +-30%): 500k time-ordered events for 10k accounts (35% LOGIN, 45% PAGE_ACCESS,
-- 15% UPLOAD, 2% SIGN_UP, 3% PLAN_CHANGE) in 100 batches, each batch one binary
-- COPY per staging table and one commit: 1.2-2.4 s without the triggers,
-- 3.1-5.2 s with them (about 15-25 ms per batch). The first job run over all of
-- it took ~0.9 s, a run with nothing new ~15 ms, reports.hubdoc_rebuild() ~1.2 s.
-- Before logins went to the log and the SCD2 sync was made index-only, the same
-- load took 11.6 s with triggers.
-- Sign-ups and plan changes, 1M generated events (6,666 customers; one binary
-- COPY per table into a fresh database, medians of 5, same box): SIGN_UP 6,666
-- rows 316 ms -> 69 ms (12 ms without triggers), PLAN_CHANGE 1,263 rows
-- 65 ms -> 10.5 ms (4 ms without), once the SCD2 sync moved to the job and the
-- address is parsed once (core.hubdoc_address_tail()); the first job run over
-- it went from ~180 ms to ~190 ms.

-- SCD2 dimension --------------------------------------------------------------------

-- The versions a customer should have, from their earliest sign-up and every
-- plan change after it (ordered by change_date; of changes with the same
-- change_date the last logged wins, so no version is empty).
create function core.hubdoc_customer_versions(accounts integer[])
  returns table (account integer, plan text, valid_from timestamptz, valid_to timestamptz,
                 firstname text, lastname text, address text, province text,
                 postal_code text, signup_time timestamptz)
  language sql stable
as $$
  with s as (
    select st.*
      from unnest(accounts) as a(account)
      join core.hubdoc_customer_state st on st.account = a.account
     where st.signup_time is not null),
  changes as (
    select distinct on (p.account, p.change_date) s.account, p.change_date as valid_from,
           p.to_plan as plan, s.firstname, s.lastname, s.address, s.province, s.postal_code,
           s.signup_time
      from s
      join core.hubdoc_fact_plan_change p on p.account = s.account and p.change_date > s.signup_time
     order by p.account, p.change_date, p.event_time desc, p._file_id desc, p._record desc),
  -- Each branch carries the customer's columns, so no join follows: the caller
  -- plans with hash and merge joins off, and a join here would be a nested loop
  -- over two CTEs (quadratic in the batch's accounts).
  v as (
    select s.account, s.signup_time as valid_from, s.signup_plan as plan, s.firstname,
           s.lastname, s.address, s.province, s.postal_code, s.signup_time
      from s
    union all
    select * from changes)
  select v.account, v.plan, v.valid_from,
         coalesce(lead(v.valid_from) over (partition by v.account order by v.valid_from),
                  'infinity'::timestamptz),
         v.firstname, v.lastname, v.address, v.province, v.postal_code, v.signup_time
    from v
$$;
comment on function core.hubdoc_customer_versions(integer[]) is
  'The SCD2 versions core.hubdoc_dim_customer should hold for these accounts, computed from core.hubdoc_customer_state and core.hubdoc_fact_plan_change.';

-- Bring the dimension rows of these accounts in line with their versions, keeping
-- the surrogate key of every version whose start did not move. One statement, so
-- the versions are computed once; the one-current-row rule is checked at its end
-- (a version stops being current in the same statement its successor arrives).
-- plpgsql only to keep the plan: a SQL-language function is planned anew on
-- every call, which cost more than the work itself for a batch. The planner
-- settings make the plan what the work is: index lookups for the accounts of
-- the batch. Left to itself, with statistics from a smaller table (as during
-- any load), it hash-joined whole-table scans of the dimension and the
-- plan-change fact, 4x the cost at 10k customers and growing with the table.
--
-- Fast path first: an account with no dimension row yet and no plan change after
-- its sign-up (every new customer of a sign-up batch, as a rule) has exactly
-- one version, its sign-up, current: a plain insert, no versions to compute, no
-- rows to delete or update. Only the other accounts (plan changes, an earlier
-- sign-up arriving late) take the general recompute below. Both checks are
-- index probes, and they read the tables as they are now, whatever happened
-- before, so the fast path needs no assumption about earlier batches.
create function core.hubdoc_sync_dim_customer(accounts integer[]) returns void
  language plpgsql
  set enable_seqscan = off
  set enable_hashjoin = off
  set enable_mergejoin = off
as $$
declare
  rest integer[];
begin
  with st as (
    select s.*,
           not exists (select 1 from core.hubdoc_dim_customer d where d.account = s.account)
           and not exists (select 1 from core.hubdoc_fact_plan_change p
                            where p.account = s.account and p.change_date > s.signup_time)
             as simple
      from unnest(accounts) as a(account)
      join core.hubdoc_customer_state s on s.account = a.account
     where s.signup_time is not null),
  fast as (
    insert into core.hubdoc_dim_customer
           (account, plan, valid_from, firstname, lastname, address, province,
            postal_code, signup_time)
    select account, signup_plan, signup_time, firstname, lastname, address, province,
           postal_code, signup_time
      from st
     where simple)
  select array_agg(account) filter (where not simple) into rest from st;

  if rest is null then
    return;
  end if;

  with v as materialized (
    select * from core.hubdoc_customer_versions(rest)),
  starts as (
    select v.account, array_agg(v.valid_from) as valid_froms from v group by v.account),
  gone as (
    delete from core.hubdoc_dim_customer d
     using starts
     where d.account = starts.account and d.valid_from <> all (starts.valid_froms)),
  changed as (
    update core.hubdoc_dim_customer d
       set plan = v.plan, valid_to = v.valid_to, firstname = v.firstname,
           lastname = v.lastname, address = v.address, province = v.province,
           postal_code = v.postal_code, signup_time = v.signup_time
      from v
     where d.account = v.account and d.valid_from = v.valid_from
       and (d.plan, d.valid_to, d.firstname, d.lastname, d.address, d.province,
            d.postal_code, d.signup_time)
           is distinct from
           (v.plan, v.valid_to, v.firstname, v.lastname, v.address, v.province,
            v.postal_code, v.signup_time))
  insert into core.hubdoc_dim_customer
         (account, plan, valid_from, valid_to, firstname, lastname, address, province,
          postal_code, signup_time)
  select v.account, v.plan, v.valid_from, v.valid_to, v.firstname, v.lastname, v.address,
         v.province, v.postal_code, v.signup_time
    from v
   where not exists (select 1 from core.hubdoc_dim_customer d
                      where d.account = v.account and d.valid_from = v.valid_from);
end
$$;
comment on function core.hubdoc_sync_dim_customer(integer[]) is
  'Recompute the SCD2 rows of core.hubdoc_dim_customer for these accounts (order-independent; keeps surrogate keys of unchanged versions).';

-- Staging triggers ----------------------------------------------------------------------

-- Every trigger widens the feed's time span to its new rows' event times; this
-- touches the one row only when the span actually grows.
create function core.hubdoc_widen_feed_span_to(lo timestamptz, hi timestamptz) returns void
  language sql
as $$
  update core.hubdoc_feed_state f
     set first_event_time = least(f.first_event_time, lo),
         last_event_time = greatest(f.last_event_time, hi)
   where lo is not null
     and (f.first_event_time is null or lo < f.first_event_time or hi > f.last_event_time)
$$;
comment on function core.hubdoc_widen_feed_span_to(timestamptz, timestamptz) is
  'Widen core.hubdoc_feed_state to [lo, hi] (no-op for NULL or when already inside).';

-- PAGE_ACCESS and UPLOAD, three quarters of the feed, matter to the reports
-- only through the feed's time span. A transition table would copy every one
-- of their rows once more during the load, so they have no trigger: the job
-- reads what lies outside the known span through BRIN indexes on event_time,
-- which cost next to nothing to keep on append-only tables and point the read
-- at the block ranges written since (the new ones are not even summarized yet).
create index hubdoc_page_access_event_time on staging.hubdoc_page_access using brin (event_time);
create index hubdoc_upload_event_time on staging.hubdoc_upload using brin (event_time);

create function core.hubdoc_widen_feed_span_from_untriggered() returns void
  language plpgsql
as $$
declare
  lo timestamptz;
  hi timestamptz;
begin
  select f.first_event_time, f.last_event_time into lo, hi from core.hubdoc_feed_state f;
  if hi is null then
    perform core.hubdoc_widen_feed_span_to(min(t), max(t))
       from (select event_time from staging.hubdoc_page_access
             union all select event_time from staging.hubdoc_upload) x(t);
  else
    perform core.hubdoc_widen_feed_span_to(min(t), max(t))
       from (select event_time from staging.hubdoc_page_access where event_time > hi
             union all select event_time from staging.hubdoc_page_access where event_time < lo
             union all select event_time from staging.hubdoc_upload where event_time > hi
             union all select event_time from staging.hubdoc_upload where event_time < lo) x(t);
  end if;
end
$$;
comment on function core.hubdoc_widen_feed_span_from_untriggered() is
  'Widen core.hubdoc_feed_state to the PAGE_ACCESS and UPLOAD events outside it (run by the hubdoc_reports job; those tables have no trigger).';

-- Logins are a third of the feed, and a batch touches most of its accounts:
-- updating core.hubdoc_customer_state here (three indexes, no HOT) cost about as
-- much as the COPY itself. So the trigger only appends each batch's first/last
-- login per account to an unindexed log; the job folds it into
-- core.hubdoc_customer_state and re-examines exactly those accounts.
create table core.hubdoc_account_log (
  account     integer not null,
  first_login timestamptz,
  last_login  timestamptz
);
comment on table core.hubdoc_account_log is 'Accounts with LOGIN or PLAN_CHANGE events loaded since the last run of the hubdoc_reports job, one row per account and batch (appended by the staging triggers, consumed by the job). Not for reporting.';
comment on column core.hubdoc_account_log.account is 'Customer id.';
comment on column core.hubdoc_account_log.first_login is 'Earliest LOGIN of the account in the batch; NULL for a PLAN_CHANGE batch.';
comment on column core.hubdoc_account_log.last_login is 'Latest LOGIN of the account in the batch; NULL for a PLAN_CHANGE batch.';

-- LOGIN: log first/last login per account; widen the span.
create function core.hubdoc_on_login() returns trigger
  language plpgsql
as $$
begin
  with batch as (
    select account, min(event_time) as first_login, max(event_time) as last_login
      from new_rows
     group by account)
  insert into core.hubdoc_account_log (account, first_login, last_login)
  select account, first_login, last_login from batch;
  perform core.hubdoc_widen_feed_span_to(min(event_time), max(event_time)) from new_rows;
  return null;
end
$$;
comment on function core.hubdoc_on_login() is
  'Statement trigger on staging.hubdoc_login: append first/last login per account to core.hubdoc_account_log; widen the feed span.';

-- SIGN_UP: keep the earliest sign-up per account. The dimension of the accounts
-- whose earliest sign-up changed follows at the next run of the job (their
-- changed_xid tells it which).
create function core.hubdoc_on_signup() returns trigger
  language plpgsql
as $$
begin
  -- One regular expression per sign-up for both province and postal code (see
  -- core.hubdoc_address_tail()); computed here, in a CTE, so it runs once.
  with firsts as (
    select distinct on (account) account, event_time, plan, _file_id, _record,
           firstname, lastname, address, core.hubdoc_address_tail(address) as tail
      from new_rows
     order by account, event_time, _file_id, _record)
  insert into core.hubdoc_customer_state as s
         (account, signup_time, signup_plan, signup_file_id, signup_record, firstname,
          lastname, address, province, postal_code)
  select account, event_time, plan, _file_id, _record, firstname, lastname,
         core.hubdoc_address_clean(address),
         core.hubdoc_tail_province(tail), core.hubdoc_tail_postal_code(tail)
    from firsts
  on conflict (account) do update
     set signup_time = excluded.signup_time, signup_plan = excluded.signup_plan,
         signup_file_id = excluded.signup_file_id, signup_record = excluded.signup_record,
         firstname = excluded.firstname, lastname = excluded.lastname,
         address = excluded.address, province = excluded.province,
         postal_code = excluded.postal_code, changed_xid = excluded.changed_xid
   where s.signup_time is null
      or (excluded.signup_time, excluded.signup_file_id, excluded.signup_record)
         < (s.signup_time, s.signup_file_id, s.signup_record);
  perform core.hubdoc_widen_feed_span_to(min(event_time), max(event_time)) from new_rows;
  return null;
end
$$;
comment on function core.hubdoc_on_signup() is
  'Statement trigger on staging.hubdoc_signup: earliest sign-up per account in core.hubdoc_customer_state (the hubdoc_reports job brings their SCD2 dimension rows in line), and the feed span.';

-- PLAN_CHANGE: the fact row, and the account in the log for the job (which
-- re-examines its reports and brings its SCD2 dimension rows in line).
create function core.hubdoc_on_plan_change() returns trigger
  language plpgsql
as $$
begin
  insert into core.hubdoc_fact_plan_change
         (account, change_date, change_day, event_time, from_plan, to_plan, _file_id, _record)
  select account, change_date, (change_date at time zone 'America/Toronto')::date,
         event_time, from_plan, to_plan, _file_id, _record
    from new_rows;

  insert into core.hubdoc_account_log (account)
  select distinct account from new_rows;
  perform core.hubdoc_widen_feed_span_to(min(event_time), max(event_time)) from new_rows;
  return null;
end
$$;
comment on function core.hubdoc_on_plan_change() is
  'Statement trigger on staging.hubdoc_plan_change: core.hubdoc_fact_plan_change, the accounts in core.hubdoc_account_log for the job (reports and SCD2 versions), and the feed span.';

create trigger hubdoc_core after insert on staging.hubdoc_login
  referencing new table as new_rows for each statement execute function core.hubdoc_on_login();
create trigger hubdoc_core after insert on staging.hubdoc_signup
  referencing new table as new_rows for each statement execute function core.hubdoc_on_signup();
create trigger hubdoc_core after insert on staging.hubdoc_plan_change
  referencing new table as new_rows for each statement execute function core.hubdoc_on_plan_change();

-- What the reports count, per customer and per key ---------------------------------------

create table core.hubdoc_report_basis (
  account        integer primary key,
  signup_month   date,
  signup_year    integer,
  signup_plan    text,
  province       text,
  churn_month    date,
  change_to_plan text,
  change_days    numeric
);
comment on table core.hubdoc_report_basis is 'Per account, what the Hubdoc reports counted for it at the last run of the hubdoc_reports job (as of that run''s as-of time). The job diffs against it to apply +/- deltas to the count tables.';
comment on column core.hubdoc_report_basis.account is 'Customer id.';
comment on column core.hubdoc_report_basis.signup_month is 'Month of the sign-up, when signed up by the as-of time; NULL otherwise.';
comment on column core.hubdoc_report_basis.signup_year is 'Year of the sign-up, when signed up by the as-of time.';
comment on column core.hubdoc_report_basis.signup_plan is 'Plan chosen at sign-up, when signed up by the as-of time.';
comment on column core.hubdoc_report_basis.province is 'Province of the sign-up address, when signed up by the as-of time.';
comment on column core.hubdoc_report_basis.churn_month is 'Month of the last LOGIN when the account is churned as of the as-of time; NULL when not churned.';
comment on column core.hubdoc_report_basis.change_to_plan is 'Plan of the first change after sign-up, when it differs from the sign-up plan; NULL otherwise.';
comment on column core.hubdoc_report_basis.change_days is 'Days from sign-up to that first change.';

create table core.hubdoc_month_counts (
  month      date primary key,
  signups    integer not null,
  churned    integer not null,
  departures integer not null
);
comment on table core.hubdoc_month_counts is 'Per month, counts behind reports.hubdoc_monthly_churn (kept by the hubdoc_reports job with deltas).';
comment on column core.hubdoc_month_counts.month is 'First day of the month.';
comment on column core.hubdoc_month_counts.signups is 'Customers who signed up this month.';
comment on column core.hubdoc_month_counts.churned is 'Accounts whose churn month is this month.';
comment on column core.hubdoc_month_counts.departures is 'Signed-up customers who stop being active at the end of this month (the later of sign-up and churn month).';

create table core.hubdoc_year_province_counts (
  year       integer not null,
  province   text,
  signups    integer not null,
  departures integer not null,
  unique nulls not distinct (year, province)
);
comment on table core.hubdoc_year_province_counts is 'Per year and province, counts behind reports.hubdoc_active_by_province (kept by the hubdoc_reports job with deltas).';
comment on column core.hubdoc_year_province_counts.year is 'Calendar year.';
comment on column core.hubdoc_year_province_counts.province is 'Province of the sign-up address (NULL: not parsable).';
comment on column core.hubdoc_year_province_counts.signups is 'Customers who signed up this year.';
comment on column core.hubdoc_year_province_counts.departures is 'Signed-up customers gone from the end of this year on (the later of sign-up year and churn year).';

create table core.hubdoc_plan_year_counts (
  year    integer not null,
  plan    text not null,
  signups integer not null,
  primary key (year, plan)
);
comment on table core.hubdoc_plan_year_counts is 'Per sign-up year and plan, counts behind reports.hubdoc_signup_plans (kept by the hubdoc_reports job with deltas).';
comment on column core.hubdoc_plan_year_counts.year is 'Calendar year of the sign-up.';
comment on column core.hubdoc_plan_year_counts.plan is 'Plan chosen at sign-up.';
comment on column core.hubdoc_plan_year_counts.signups is 'Customers who signed up that year with this plan.';

create table core.hubdoc_plan_change_counts (
  from_plan  text not null,
  to_plan    text not null,
  customers  integer not null,
  total_days numeric not null,
  primary key (from_plan, to_plan)
);
comment on table core.hubdoc_plan_change_counts is 'Per (sign-up plan, first new plan), counts behind reports.hubdoc_plan_changes (kept by the hubdoc_reports job with deltas).';
comment on column core.hubdoc_plan_change_counts.from_plan is 'Plan chosen at sign-up.';
comment on column core.hubdoc_plan_change_counts.to_plan is 'Plan after the first change.';
comment on column core.hubdoc_plan_change_counts.customers is 'Customers with this first change.';
comment on column core.hubdoc_plan_change_counts.total_days is 'Sum over them of the days from sign-up to the change (exact; the report divides).';

create table core.hubdoc_refresh_state (
  singleton        boolean primary key default true check (singleton),
  ran              boolean not null default false,
  as_of            timestamptz,
  as_of_setting    timestamptz,
  first_event_time timestamptz
);
insert into core.hubdoc_refresh_state default values;
comment on table core.hubdoc_refresh_state is 'One row: what the last run of the hubdoc_reports job computed the reports with.';
comment on column core.hubdoc_refresh_state.singleton is 'Always true; keeps the table at one row.';
comment on column core.hubdoc_refresh_state.ran is 'False until the job has run (or after reports.hubdoc_rebuild() reset it): the next run re-examines every account.';
comment on column core.hubdoc_refresh_state.as_of is 'The as-of time the reports currently reflect.';
comment on column core.hubdoc_refresh_state.as_of_setting is 'reports.hubdoc_settings.as_of at that run; when the setting differs, the next run re-examines every account.';
comment on column core.hubdoc_refresh_state.first_event_time is 'core.hubdoc_feed_state.first_event_time at that run (the churn report starts at its month).';

-- Report rows from the count tables ---------------------------------------------------
-- Each report is a few hundred rows at most, so it is derived whole from the
-- count tables; core.hubdoc_replace_rows() then writes only the rows that differ.

create function core.hubdoc_monthly_churn_rows(as_of timestamptz, first_event timestamptz)
  returns table (month date, churned integer, active_at_month_end integer, churn_rate numeric)
  language sql stable
as $$
  select m.month, coalesce(c.churned, 0), a.active,
         round(coalesce(c.churned, 0)::numeric / nullif(a.active, 0), 4)
    from (select generate_series(core.hubdoc_local_month(first_event)::timestamp,
                                 core.hubdoc_local_month(as_of)::timestamp,
                                 interval '1 month')::date
           where first_event <= as_of) as m(month)
    left join core.hubdoc_month_counts c on c.month = m.month
   cross join lateral (select coalesce(sum(x.signups - x.departures), 0)::integer
                         from core.hubdoc_month_counts x
                        where x.month <= m.month) as a(active)
$$;
comment on function core.hubdoc_monthly_churn_rows(timestamptz, timestamptz) is
  'reports.hubdoc_monthly_churn as it follows from core.hubdoc_month_counts.';

create function core.hubdoc_signup_plans_rows()
  returns table (year integer, plan text, signups integer, share_pct numeric)
  language sql stable
as $$
  select p.year, p.plan, p.signups,
         round(100.0 * p.signups / sum(p.signups) over (partition by p.year), 2)
    from core.hubdoc_plan_year_counts p
   where p.signups > 0
$$;
comment on function core.hubdoc_signup_plans_rows() is
  'reports.hubdoc_signup_plans as it follows from core.hubdoc_plan_year_counts.';

create function core.hubdoc_plan_changes_rows()
  returns table (from_plan text, to_plan text, customers integer, avg_days_to_change numeric)
  language sql stable
as $$
  select c.from_plan, c.to_plan, c.customers, round(c.total_days / c.customers, 4)
    from core.hubdoc_plan_change_counts c
   where c.customers > 0
$$;
comment on function core.hubdoc_plan_changes_rows() is
  'reports.hubdoc_plan_changes as it follows from core.hubdoc_plan_change_counts.';

create function core.hubdoc_active_by_province_rows(as_of timestamptz)
  returns table (year integer, province text, active_customers integer)
  language sql stable
as $$
  with provinces as (
    select c.province, min(c.year) as first_year
      from core.hubdoc_year_province_counts c
     where c.signups > 0
     group by c.province),
  years as (
    select generate_series(min(p.first_year), core.hubdoc_local_year(as_of)) as year
      from provinces p)
  select y.year, p.province,
         (select coalesce(sum(x.signups - x.departures), 0)
            from core.hubdoc_year_province_counts x
           where x.province is not distinct from p.province and x.year <= y.year)::integer
    from years y
    join provinces p on p.first_year <= y.year
$$;
comment on function core.hubdoc_active_by_province_rows(timestamptz) is
  'reports.hubdoc_active_by_province as it follows from core.hubdoc_year_province_counts.';

-- Make table target hold exactly the rows of query source ($1, $2 bound to
-- arg1, arg2), deleting and inserting only rows that differ, so readers see
-- untouched rows untouched and a quiet run writes nothing.
create function core.hubdoc_replace_rows(target regclass, source text,
                                         arg1 timestamptz default null,
                                         arg2 timestamptz default null)
  returns void
  language plpgsql
as $$
begin
  execute format('delete from %s t where not exists (select 1 from (%s) s where s is not distinct from t)',
                 target, source) using arg1, arg2;
  execute format('insert into %s select * from (%s) s where not exists (select 1 from %s t where t is not distinct from s)',
                 target, source, target) using arg1, arg2;
end
$$;
comment on function core.hubdoc_replace_rows(regclass, text, timestamptz, timestamptz) is
  'Make a report table equal to a query''s rows, touching only the rows that differ.';

-- The job ------------------------------------------------------------------------------

-- jit off: the count tables are tiny but the planner cannot know it (fresh
-- tables, generate_series), and JIT-compiling those plans cost ~0.6 s a run.
create function reports.hubdoc_refresh(since xid8, upto xid8) returns integer
  language plpgsql
  set jit = off
as $$
declare
  v_setting     timestamptz;
  prev          core.hubdoc_refresh_state;
  v_first_event timestamptz;
  v_as_of       timestamptz;
  everything    boolean;
  candidates    integer[];
  late_accounts integer[];
  late_logins   timestamptz[];
  changed       integer := 0;
  logged        integer[];
  marked        integer[];
  resync        integer[];
begin
  perform core.hubdoc_widen_feed_span_from_untriggered();
  select s.as_of into v_setting from reports.hubdoc_settings s;
  select * into prev from core.hubdoc_refresh_state;
  select coalesce(v_setting, f.last_event_time), f.first_event_time
    into v_as_of, v_first_event
    from core.hubdoc_feed_state f;
  everything := not prev.ran or prev.as_of_setting is distinct from v_setting
                or v_as_of < prev.as_of;

  -- Fold the logins (and plan-change marks) logged by the triggers since the
  -- last run into the per-customer state; those accounts are re-examined.
  -- Rows of transactions this snapshot cannot see stay for the next run.
  with consumed as (
    delete from core.hubdoc_account_log returning account, first_login, last_login),
  per_account as (
    select account, min(first_login) as first_login, max(last_login) as last_login
      from consumed
     group by account),
  folded as (
    insert into core.hubdoc_customer_state as s (account, first_login, last_login)
    select account, first_login, last_login from per_account
    on conflict (account) do update
       set first_login = least(s.first_login, excluded.first_login),
           last_login = greatest(s.last_login, excluded.last_login)
    returning s.account)
  select array_agg(account),
         (select array_agg(distinct c.account) from consumed c where c.first_login is null)
    into logged, marked
    from folded;

  -- The SCD2 dimension: the accounts whose earliest sign-up changed (the
  -- sign-up trigger set changed_xid) or that got plan changes (the plan-change
  -- trigger logged them with no login: marked). Done here rather than in the
  -- triggers, where it cost more than the COPY of those rows itself; so
  -- core.hubdoc_dim_customer (and core.hubdoc_fact_login's customer_key)
  -- lags the loaded sign-ups and plan changes by at most one run of this job.
  -- The same watermark rule as for the reports: every change is seen at least
  -- once, and seeing one again is harmless (the sync is idempotent).
  select array_agg(x.account) into resync
    from (select s.account
            from core.hubdoc_customer_state s
           where s.changed_xid >= since and s.signup_time is not null
          union
          select unnest(marked)) x;
  if resync is not null then
    perform core.hubdoc_sync_dim_customer(resync);
  end if;

  if everything then
    select array_agg(s.account) into candidates from core.hubdoc_customer_state s;
  else
    select array_agg(x.account) into candidates
      from (select s.account
              from core.hubdoc_customer_state s
             where s.changed_xid >= since
            union
            select unnest(logged)
            union
            -- their 30 days of silence ended since the last run
            select s.account
              from core.hubdoc_customer_state s
             where v_as_of > prev.as_of
               and s.last_login >= prev.as_of - interval '720 hours'
               and s.last_login < v_as_of - interval '720 hours') x;
    if candidates is null and v_as_of is not distinct from prev.as_of
       and v_first_event is not distinct from prev.first_event_time then
      return 0;
    end if;
  end if;

  -- With an explicit as-of time, an account that logged in after it needs its
  -- last login at or before it, and only staging keeps every login: one scan,
  -- and only when such accounts are among the candidates.
  if v_setting is not null and exists (select 1
                                         from unnest(candidates) c(account)
                                         join core.hubdoc_customer_state s on s.account = c.account
                                        where s.last_login > v_as_of) then
    select array_agg(l.account), array_agg(l.last_login) into late_accounts, late_logins
      from (select l.account, max(l.event_time) as last_login
              from staging.hubdoc_login l
             where l.event_time <= v_as_of
               and l.account in (select s.account
                                   from unnest(candidates) c(account)
                                   join core.hubdoc_customer_state s on s.account = c.account
                                  where s.last_login > v_as_of)
             group by l.account) l;
  end if;

  if candidates is not null then
    with st as (
      select s.account, s.signup_time <= v_as_of as signed_up, s.signup_time,
             s.signup_plan, s.province,
             coalesce(late.last_login,
                      case when s.last_login <= v_as_of then s.last_login end) as last_login
        from unnest(candidates) c(account)
        join core.hubdoc_customer_state s on s.account = c.account
        left join unnest(late_accounts, late_logins) late(account, last_login)
          on late.account = s.account),
    fresh as (
      select st.account,
             case when st.signed_up then core.hubdoc_local_month(st.signup_time) end as signup_month,
             case when st.signed_up then core.hubdoc_local_year(st.signup_time) end as signup_year,
             case when st.signed_up then st.signup_plan end as signup_plan,
             case when st.signed_up then st.province end as province,
             case when st.last_login < v_as_of - interval '720 hours'
                  then core.hubdoc_local_month(st.last_login) end as churn_month,
             case when fc.to_plan <> st.signup_plan then fc.to_plan end as change_to_plan,
             case when fc.to_plan <> st.signup_plan
                  then (extract(epoch from fc.change_date) - extract(epoch from st.signup_time)) / 86400
             end as change_days
        from st
        left join lateral (
          select p.to_plan, p.change_date
            from core.hubdoc_fact_plan_change p
           where p.account = st.account and p.change_date > st.signup_time
             and p.event_time <= v_as_of
           order by p.change_date, p.event_time desc, p._file_id desc, p._record desc
           limit 1) fc on st.signed_up),
    diff as (
      select f.*,
             b.signup_month as old_signup_month, b.signup_year as old_signup_year,
             b.signup_plan as old_signup_plan, b.province as old_province,
             b.churn_month as old_churn_month, b.change_to_plan as old_change_to_plan,
             b.change_days as old_change_days
        from fresh f
        left join core.hubdoc_report_basis b on b.account = f.account
       where (b.signup_month, b.signup_year, b.signup_plan, b.province, b.churn_month,
              b.change_to_plan, b.change_days)
             is distinct from
             (f.signup_month, f.signup_year, f.signup_plan, f.province, f.churn_month,
              f.change_to_plan, f.change_days)),
    -- what each changed account counted before (-1) and counts now (+1)
    contrib as (
      select -1 as w, old_signup_month as signup_month, old_signup_year as signup_year,
             old_signup_plan as signup_plan, old_province as province,
             old_churn_month as churn_month, old_change_to_plan as change_to_plan,
             old_change_days as change_days
        from diff
      union all
      select 1, signup_month, signup_year, signup_plan, province, churn_month,
             change_to_plan, change_days
        from diff),
    keep_basis as (
      insert into core.hubdoc_report_basis as b
      select account, signup_month, signup_year, signup_plan, province, churn_month,
             change_to_plan, change_days
        from diff
      on conflict (account) do update
         set signup_month = excluded.signup_month, signup_year = excluded.signup_year,
             signup_plan = excluded.signup_plan, province = excluded.province,
             churn_month = excluded.churn_month, change_to_plan = excluded.change_to_plan,
             change_days = excluded.change_days),
    by_month as (
      insert into core.hubdoc_month_counts as m (month, signups, churned, departures)
      select x.month, sum(x.signups), sum(x.churned), sum(x.departures)
        from (select signup_month as month, w as signups, 0 as churned, 0 as departures
                from contrib where signup_month is not null
              union all
              select churn_month, 0, w, 0 from contrib where churn_month is not null
              union all
              select greatest(signup_month, churn_month), 0, 0, w
                from contrib where signup_month is not null and churn_month is not null) x
       group by x.month
      on conflict (month) do update
         set signups = m.signups + excluded.signups, churned = m.churned + excluded.churned,
             departures = m.departures + excluded.departures),
    by_year_province as (
      insert into core.hubdoc_year_province_counts as y (year, province, signups, departures)
      select x.year, x.province, sum(x.signups), sum(x.departures)
        from (select signup_year as year, province, w as signups, 0 as departures
                from contrib where signup_year is not null
              union all
              select greatest(signup_year, extract(year from churn_month)::integer), province, 0, w
                from contrib where signup_year is not null and churn_month is not null) x
       group by x.year, x.province
      on conflict (year, province) do update
         set signups = y.signups + excluded.signups, departures = y.departures + excluded.departures),
    by_plan as (
      insert into core.hubdoc_plan_year_counts as p (year, plan, signups)
      select signup_year, signup_plan, sum(w)
        from contrib where signup_year is not null
       group by signup_year, signup_plan
      on conflict (year, plan) do update set signups = p.signups + excluded.signups),
    by_plan_change as (
      insert into core.hubdoc_plan_change_counts as pc (from_plan, to_plan, customers, total_days)
      select signup_plan, change_to_plan, sum(w), sum(w * change_days)
        from contrib where change_to_plan is not null
       group by signup_plan, change_to_plan
      on conflict (from_plan, to_plan) do update
         set customers = pc.customers + excluded.customers,
             total_days = pc.total_days + excluded.total_days)
    select count(*) into changed from diff;

    if changed > 0 then
      delete from core.hubdoc_month_counts where signups = 0 and churned = 0 and departures = 0;
      delete from core.hubdoc_year_province_counts where signups = 0 and departures = 0;
      delete from core.hubdoc_plan_year_counts where signups = 0;
      delete from core.hubdoc_plan_change_counts where customers = 0;
    end if;
  end if;

  perform core.hubdoc_replace_rows('reports.hubdoc_monthly_churn',
    'select * from core.hubdoc_monthly_churn_rows($1, $2)', v_as_of, v_first_event);
  perform core.hubdoc_replace_rows('reports.hubdoc_signup_plans',
    'select * from core.hubdoc_signup_plans_rows()');
  perform core.hubdoc_replace_rows('reports.hubdoc_plan_changes',
    'select * from core.hubdoc_plan_changes_rows()');
  perform core.hubdoc_replace_rows('reports.hubdoc_active_by_province',
    'select * from core.hubdoc_active_by_province_rows($1)', v_as_of);

  update core.hubdoc_refresh_state
     set ran = true, as_of = v_as_of, as_of_setting = v_setting,
         first_event_time = v_first_event;
  return changed;
end
$$;
comment on function reports.hubdoc_refresh(xid8, xid8) is
  'The hubdoc_reports job: bring the four Hubdoc reports up to date for accounts changed by transactions since the watermark `since` (upto, the new watermark, is not needed: visible later changes are taken too) and for the current as-of time. Returns how many accounts'' counted values changed. Idempotent.';

-- Recompute core and the reports from staging alone.
create function reports.hubdoc_rebuild() returns void
  language plpgsql
  set jit = off
as $$
begin
  truncate core.hubdoc_customer_state, core.hubdoc_account_log, core.hubdoc_dim_customer,
           core.hubdoc_fact_plan_change,
           core.hubdoc_report_basis, core.hubdoc_month_counts, core.hubdoc_year_province_counts,
           core.hubdoc_plan_year_counts, core.hubdoc_plan_change_counts;

  update core.hubdoc_feed_state f
     set first_event_time = b.lo, last_event_time = b.hi
    from (select min(lo), max(hi)
            from (select min(event_time), max(event_time) from staging.hubdoc_login
                  union all select min(event_time), max(event_time) from staging.hubdoc_page_access
                  union all select min(event_time), max(event_time) from staging.hubdoc_upload
                  union all select min(event_time), max(event_time) from staging.hubdoc_signup
                  union all select min(event_time), max(event_time) from staging.hubdoc_plan_change)
                 as t(lo, hi)) as b(lo, hi);

  insert into core.hubdoc_fact_plan_change
         (account, change_date, change_day, event_time, from_plan, to_plan, _file_id, _record)
  select account, change_date, (change_date at time zone 'America/Toronto')::date,
         event_time, from_plan, to_plan, _file_id, _record
    from staging.hubdoc_plan_change;

  insert into core.hubdoc_customer_state
         (account, signup_time, signup_plan, signup_file_id, signup_record, firstname,
          lastname, address, province, postal_code, first_login, last_login)
  with signup as (
    select distinct on (account) *
      from staging.hubdoc_signup
     order by account, event_time, _file_id, _record),
  login as (
    select account, min(event_time) as first_login, max(event_time) as last_login
      from staging.hubdoc_login
     group by account),
  accounts as (
    select account from signup
    union select account from login
    union select account from staging.hubdoc_plan_change)
  select a.account, s.event_time, s.plan, s._file_id, s._record, s.firstname, s.lastname,
         core.hubdoc_address_clean(s.address), core.hubdoc_address_province(s.address),
         core.hubdoc_address_postal_code(s.address), l.first_login, l.last_login
    from accounts a
    left join signup s on s.account = a.account
    left join login l on l.account = a.account;

  insert into core.hubdoc_dim_customer
         (account, plan, valid_from, valid_to, firstname, lastname, address, province,
          postal_code, signup_time)
  select account, plan, valid_from, valid_to, firstname, lastname, address, province,
         postal_code, signup_time
    from core.hubdoc_customer_versions(
           array(select account from core.hubdoc_customer_state where signup_time is not null));

  update core.hubdoc_refresh_state set ran = false;
  perform reports.hubdoc_refresh('0', '0');
end
$$;
comment on function reports.hubdoc_rebuild() is
  'Recompute core.hubdoc_* and the four Hubdoc reports from staging alone (after a bug fix, or to check). Takes the tables'' locks for the duration.';

insert into sluice.jobs (name, command, every, description) values
  ('hubdoc_reports', 'select reports.hubdoc_refresh($1, $2)', '2 seconds',
   'Hubdoc reports (churn, sign-up plans, plan changes, active by province) for the accounts changed since the watermark and the current as-of time.');
