-- Incremental equals full: Hubdoc events for a few hundred customers, generated
-- with a fixed seed, are inserted in shuffled order in batches of very
-- different sizes (one INSERT per staging table per batch, as the loader's
-- COPY does), with the reports job run between some batches and the as-of
-- setting changed on the way. At the end every report table must equal its
-- *_full() recompute from staging, and the SCD2 customer dimension must be
-- well-formed and equal to its versions recomputed from staging.
--
-- Run by tests/sql/run_sql_test.sh in a fresh migrated database.

\set ON_ERROR_STOP 1
\o /dev/null
set client_min_messages = warning;
-- Speed only: each batch commits on its own, and the plans here are cheap.
set synchronous_commit = off;
set jit = off;
set timezone = 'America/Vancouver';

\ir lib/helpers.sql

create function pg_temp.assert_reports_equal_full(label text) returns void
  language plpgsql
as $$
begin
  perform pg_temp.assert_same(label || ': monthly churn',
    'select * from reports.hubdoc_monthly_churn', 'select * from reports.hubdoc_monthly_churn_full()');
  perform pg_temp.assert_same(label || ': signup plans',
    'select * from reports.hubdoc_signup_plans', 'select * from reports.hubdoc_signup_plans_full()');
  perform pg_temp.assert_same(label || ': plan changes',
    'select * from reports.hubdoc_plan_changes', 'select * from reports.hubdoc_plan_changes_full()');
  perform pg_temp.assert_same(label || ': active by province',
    'select * from reports.hubdoc_active_by_province', 'select * from reports.hubdoc_active_by_province_full()');
end
$$;

-- Generate the events ----------------------------------------------------------------

select setseed(0.3141592);

create temp table cust as
select 1000 + i as account,
       timestamptz '2018-01-01T00:00:00Z' + random() * interval '900 days' as signup_time,
       (array['PLAN_BRONZE', 'PLAN_SILVER', 'PLAN_GOLD'])[1 + floor(random() * 3)::integer] as plan,
       random() < 0.05 as no_signup,
       random() < 0.08 as second_signup,
       (array['NB', 'QC', 'ON', 'BC', 'AB'])[1 + floor(random() * 5)::integer] as province,
       random() < 0.05 as bad_address,
       floor(random() * 14)::integer as logins,
       floor(random() * 4)::integer as changes,
       5 + random() * 500 as active_days
  from generate_series(1, 300) as i;

create temp table ev (
  kind        text not null,
  account     integer not null,
  event_time  timestamptz not null,
  plan        text,
  firstname   text,
  lastname    text,
  address     text,
  change_date timestamptz,
  from_plan   text,
  to_plan     text,
  details     text
);

insert into ev (kind, account, event_time, plan, firstname, lastname, address)
select 'SIGN_UP', account, signup_time, plan, 'First' || account, 'Last' || account,
       case when bad_address then '''no postal code here'''
            else format('''%s Main St., Town, %s A1B 2C3''', account, province) end
  from cust
 where not no_signup;

-- A second SIGN_UP for some: at the same time, earlier or later, maybe another plan.
insert into ev (kind, account, event_time, plan, firstname, lastname, address)
select 'SIGN_UP', account,
       case when random() < 0.3 then signup_time
            else signup_time + (random() - 0.5) * interval '60 days' end,
       (array['PLAN_BRONZE', 'PLAN_SILVER', 'PLAN_GOLD'])[1 + floor(random() * 3)::integer],
       'Other' || account, 'Name' || account,
       format('''%s Other Rd., City, QC H2X 1Y4''', account)
  from cust
 where second_signup and not no_signup;

insert into ev (kind, account, event_time, details)
select 'LOGIN', c.account,
       c.signup_time - interval '1 day' + random() * (c.active_days + 1) * interval '1 day',
       'web login'
  from cust c, generate_series(1, c.logins) as g;

insert into ev (kind, account, event_time, details)
select 'PAGE_ACCESS', account, event_time + random() * interval '10 minutes', 'upload_page'
  from ev where kind = 'LOGIN' and random() < 0.6;
insert into ev (kind, account, event_time, details)
select 'UPLOAD', account, event_time + random() * interval '20 minutes', 'receipt.pdf'
  from ev where kind = 'LOGIN' and random() < 0.15;

-- Plan changes: mostly after sign-up, some before it (ignored by design), random
-- plans (some "changes" back to the sign-up plan), and a few ties on change_date.
insert into ev (kind, account, event_time, change_date, from_plan, to_plan)
select 'PLAN_CHANGE', x.account, x.change_date + random() * interval '5 minutes', x.change_date,
       (array['PLAN_BRONZE', 'PLAN_SILVER', 'PLAN_GOLD'])[1 + floor(random() * 3)::integer],
       (array['PLAN_BRONZE', 'PLAN_SILVER', 'PLAN_GOLD'])[1 + floor(random() * 3)::integer]
  from (select c.account,
               case when random() < 0.1 then c.signup_time - random() * interval '10 days'
                    else c.signup_time + random() * c.active_days * interval '1 day' end as change_date
          from cust c, generate_series(1, c.changes) as g) x;
insert into ev (kind, account, event_time, change_date, from_plan, to_plan)
select 'PLAN_CHANGE', account, event_time + interval '1 minute', change_date, to_plan,
       (array['PLAN_BRONZE', 'PLAN_SILVER', 'PLAN_GOLD'])[1 + floor(random() * 3)::integer]
  from ev where kind = 'PLAN_CHANGE' and random() < 0.08;

-- Shuffle, then cut into batches: mostly a few dozen rows, some of one row, and
-- one of over a thousand.
create temp table shuffled as
select ev.*, row_number() over (order by random()) as rank from ev;

create temp table batched as
select s.*,
       1 + sum(case when s.rank = 1 or s.rank between 1200 and 2500 then 0
                    when random() < 0.05 then 1 else 0 end) over (order by s.rank) as batch
  from shuffled s;

select pg_temp.assert_true('the generated data is big enough',
  (select count(*) from batched) > 3000 and (select count(distinct account) from batched) >= 290);
select pg_temp.assert_true('some batch has over a thousand rows',
  (select max(n) from (select count(*) as n from batched group by batch) b) > 1000);
select pg_temp.assert_true('some batches have a single row',
  (select count(*) from (select batch from batched group by batch having count(*) = 1) b) > 0);
select pg_temp.assert_true('PLAN_CHANGE and LOGIN events arrive in batches before their SIGN_UP',
  (select count(distinct e.kind) from batched e
     join (select account, min(batch) as b from batched where kind = 'SIGN_UP' group by account) s
       on s.account = e.account and e.batch < s.b
    where e.kind in ('PLAN_CHANGE', 'LOGIN')) = 2);

-- Load -------------------------------------------------------------------------------
-- Each batch: one INSERT per staging table (also when it has no rows of that kind:
-- statement triggers then see an empty transition table). The job runs after
-- every fifth batch; the as-of time is set explicitly for the middle third.

select stmt
  from (select b.batch, t.step, t.stmt
          from (select distinct batch from batched) b
         cross join lateral (values
           (1, format('insert into staging.hubdoc_login select %1$s, rank, event_time, ''INFO'', account, details from batched where batch = %1$s and kind = ''LOGIN''', b.batch)),
           (2, format('insert into staging.hubdoc_page_access select %1$s, rank, event_time, ''INFO'', account, details from batched where batch = %1$s and kind = ''PAGE_ACCESS''', b.batch)),
           (3, format('insert into staging.hubdoc_upload select %1$s, rank, event_time, ''INFO'', account, details from batched where batch = %1$s and kind = ''UPLOAD''', b.batch)),
           (4, format('insert into staging.hubdoc_signup select %1$s, rank, event_time, ''INFO'', account, plan, firstname, lastname, address from batched where batch = %1$s and kind = ''SIGN_UP''', b.batch)),
           (5, format('insert into staging.hubdoc_plan_change select %1$s, rank, event_time, ''INFO'', account, change_date, from_plan, to_plan from batched where batch = %1$s and kind = ''PLAN_CHANGE''', b.batch)),
           (6, case when b.batch % 5 = 0 then 'select pg_temp.run_jobs()' end),
           (7, case when b.batch = (select max(batch) / 3 from batched)
                    then 'update settings.hubdoc set as_of = ''2019-03-10T07:30:00Z''' end),
           (8, case when b.batch = (select 2 * max(batch) / 3 from batched)
                    then 'update settings.hubdoc set as_of = null' end)) as t(step, stmt)) s
 where stmt is not null
 order by batch, step
\gexec

select pg_temp.run_jobs();

-- Incremental equals full --------------------------------------------------------------

select pg_temp.assert_true('the reports are not trivial',
  (select count(*) from reports.hubdoc_monthly_churn where churned > 0) > 5
  and (select count(*) from reports.hubdoc_plan_changes) >= 6
  and exists (select 1 from reports.hubdoc_active_by_province where province is null)
  and (select count(distinct year) from reports.hubdoc_signup_plans) >= 3);

select pg_temp.assert_reports_equal_full('as of the latest event');

select pg_temp.assert_same('a second run with nothing new changes nothing',
  $$select reports.hubdoc_refresh(watermark, pg_snapshot_xmin(pg_current_snapshot())) from sluice.jobs where name = 'hubdoc_reports'$$,
  'values (0)');

-- SCD2 customer dimension -----------------------------------------------------------------

select pg_temp.assert_same('exactly one current row per signed-up customer',
  'select account, count(*) from core.hubdoc_dim_customer where valid_to = ''infinity'' group by account',
  'select distinct account, 1::bigint from staging.hubdoc_signup');

select pg_temp.assert_true('validity ranges of a customer do not overlap',
  not exists (select 1
                from core.hubdoc_dim_customer a
                join core.hubdoc_dim_customer b
                  on a.account = b.account and a.customer_key <> b.customer_key
                 and tstzrange(a.valid_from, a.valid_to) && tstzrange(b.valid_from, b.valid_to)));

select pg_temp.assert_true('validity ranges of a customer leave no gaps',
  not exists (select 1
                from (select valid_to, lead(valid_from) over (partition by account order by valid_from) as next_from
                        from core.hubdoc_dim_customer) v
               where v.next_from is not null and v.next_from <> v.valid_to));

select pg_temp.assert_same('customer dimension equals its versions recomputed from staging',
  'select account, plan, valid_from, valid_to from core.hubdoc_dim_customer',
  $$with s as (
      select distinct on (account) account, event_time, plan
        from staging.hubdoc_signup
       order by account, event_time, _file_id, _record),
    c as (
      select distinct on (p.account, p.change_date) p.account, p.change_date, p.to_plan
        from staging.hubdoc_plan_change p
        join s on s.account = p.account and p.change_date > s.event_time
       order by p.account, p.change_date, p.event_time desc, p._file_id desc, p._record desc),
    v as (select account, event_time as valid_from, plan from s
          union all select account, change_date, to_plan from c)
    select account, plan, valid_from,
           coalesce(lead(valid_from) over (partition by account order by valid_from), 'infinity')
      from v$$);

-- An explicit as-of time, late data while it is set, and back ---------------------------------

update settings.hubdoc set as_of = '2019-11-03T06:30:00Z';  -- the night Toronto leaves DST
select pg_temp.run_jobs();
select pg_temp.assert_reports_equal_full('as of 2019-11-03T06:30Z');

-- Late events, loaded while the as-of time is set: a comeback LOGIN before the
-- as-of time for every tenth customer and, for others, one after it.
insert into staging.hubdoc_login
select 9999, account, timestamptz '2019-10-20T12:00:00Z' + (account % 7) * interval '1 day', 'INFO', account, 'late login'
  from cust where account % 10 = 0;
insert into staging.hubdoc_login
select 9999, 1000 + account, timestamptz '2020-02-01T12:00:00Z', 'INFO', account, 'late login'
  from cust where account % 10 = 5;
select pg_temp.run_jobs();
select pg_temp.assert_reports_equal_full('as of 2019-11-03T06:30Z after late logins');

update settings.hubdoc set as_of = null;
select pg_temp.run_jobs();
select pg_temp.assert_reports_equal_full('back to the latest event');

-- A rebuild from staging alone gives the same reports.
create temp table before_rebuild as
select 'churn' as report, to_jsonb(r) as row from reports.hubdoc_monthly_churn r
union all select 'plans', to_jsonb(r) from reports.hubdoc_signup_plans r
union all select 'changes', to_jsonb(r) from reports.hubdoc_plan_changes r
union all select 'province', to_jsonb(r) from reports.hubdoc_active_by_province r;
select reports.hubdoc_rebuild();
select pg_temp.assert_same('a rebuild gives the reports the jobs kept',
  $$select 'churn' as report, to_jsonb(r) as row from reports.hubdoc_monthly_churn r
    union all select 'plans', to_jsonb(r) from reports.hubdoc_signup_plans r
    union all select 'changes', to_jsonb(r) from reports.hubdoc_plan_changes r
    union all select 'province', to_jsonb(r) from reports.hubdoc_active_by_province r$$,
  'select * from before_rebuild');
select pg_temp.assert_reports_equal_full('after a rebuild');
