-- Hubdoc pack, reports: the four report tables people query, the "as of"
-- setting, and for every report a *_full() function that computes it straight
-- from staging. The tables are kept by the job in 0104_maintenance.sql; the
-- *_full() functions are the reference they must always equal (see
-- tests/sql/test_hubdoc_incremental.sql) and what reports.hubdoc_rebuild() is
-- checked against.
--
-- Semantics shared by all four reports
--   * as-of time A: reports.hubdoc_settings.as_of when set, else the latest
--     event_time of any Hubdoc event loaded. Events with event_time > A are ignored.
--   * periods are America/Toronto calendar months and years.
--   * a customer's sign-up is their earliest SIGN_UP (ties: lowest file, record).
--   * churn is terminal and per account: an account is churned iff its last LOGIN
--     at or before A is more than 720 hours (30 x 24 h) before A; its churn month
--     is the month of that LOGIN. Accounts without a LOGIN never churn. Churn is
--     counted for every account with a LOGIN (the definition is about logins), but
--     only signed-up customers are ever counted as active.
--   * a customer is "gone" from the end of their churn month on.

create table reports.hubdoc_settings (
  as_of timestamptz
);
create unique index hubdoc_settings_one_row on reports.hubdoc_settings ((true));
insert into reports.hubdoc_settings values (null);

comment on table reports.hubdoc_settings is 'Settings of the Hubdoc reports; exactly one row. Takes effect at the next run of the hubdoc_reports job (sluice.jobs).';
comment on column reports.hubdoc_settings.as_of is 'Evaluate the reports as of this time (events after it are ignored). NULL: as of the latest event time loaded, not the wall clock.';

create table reports.hubdoc_monthly_churn (
  month               date primary key,
  churned             integer not null,
  active_at_month_end integer not null,
  churn_rate          numeric
);
comment on table reports.hubdoc_monthly_churn is 'Monthly churn (America/Toronto months), one row per month from the month of the first event to the as-of month. An account churns when its last LOGIN is more than 30 days (720 h) before the as-of time; the churn belongs to that LOGIN''s month.';
comment on column reports.hubdoc_monthly_churn.month is 'First day of the month.';
comment on column reports.hubdoc_monthly_churn.churned is 'Accounts whose last LOGIN (at or before the as-of time, and more than 30 days before it) falls in this month.';
comment on column reports.hubdoc_monthly_churn.active_at_month_end is 'Customers who signed up before the end of the month (and by the as-of time) and have not churned in this month or earlier.';
comment on column reports.hubdoc_monthly_churn.churn_rate is 'churned / active_at_month_end, rounded to 4 decimals; NULL when nobody is active.';

create table reports.hubdoc_signup_plans (
  year      integer not null,
  plan      text not null,
  signups   integer not null,
  share_pct numeric not null,
  primary key (year, plan)
);
comment on table reports.hubdoc_signup_plans is 'Sign-up plan mix per calendar year of sign-up (America/Toronto); each customer counts once, with the plan of their earliest SIGN_UP.';
comment on column reports.hubdoc_signup_plans.year is 'Calendar year of the sign-up.';
comment on column reports.hubdoc_signup_plans.plan is 'Plan chosen at sign-up.';
comment on column reports.hubdoc_signup_plans.signups is 'Customers who signed up that year with this plan.';
comment on column reports.hubdoc_signup_plans.share_pct is 'signups as a percentage (0-100) of all sign-ups of the year, rounded to 2 decimals.';

create table reports.hubdoc_plan_changes (
  from_plan          text not null,
  to_plan            text not null,
  customers          integer not null,
  avg_days_to_change numeric not null,
  primary key (from_plan, to_plan)
);
comment on table reports.hubdoc_plan_changes is 'Customers'' first plan change after sign-up (the PLAN_CHANGE with the earliest details.change_date after the sign-up time), per pair of sign-up plan and new plan. A first change back to the sign-up plan is not counted.';
comment on column reports.hubdoc_plan_changes.from_plan is 'Plan chosen at sign-up.';
comment on column reports.hubdoc_plan_changes.to_plan is 'Plan after the first change.';
comment on column reports.hubdoc_plan_changes.customers is 'Customers whose first change went from from_plan to to_plan.';
comment on column reports.hubdoc_plan_changes.avg_days_to_change is 'Average time from the SIGN_UP event to details.change_date, in days (24 h) with fractions, rounded to 4 decimals.';

create table reports.hubdoc_active_by_province (
  year             integer not null,
  province         text,
  active_customers integer not null,
  unique nulls not distinct (year, province)
);
comment on table reports.hubdoc_active_by_province is 'Active customers per calendar year and province, from the first sign-up year to the as-of year: signed up by the end of the year (or the as-of time) and not churned in that year or earlier. A province appears from the year of its first sign-up on, also when nobody there is active any more.';
comment on column reports.hubdoc_active_by_province.year is 'Calendar year (America/Toronto).';
comment on column reports.hubdoc_active_by_province.province is 'Province code from the sign-up address; NULL for addresses that do not end with a province and postal code.';
comment on column reports.hubdoc_active_by_province.active_customers is 'Customers active at the end of the year (or at the as-of time in the as-of year).';

-- Full recompute, straight from staging ---------------------------------------------
-- Deliberately independent of core.*: these are the reference the incrementally
-- kept tables are tested against. They scan staging; fine for checks and
-- rebuilds, not for dashboards.

create function reports.hubdoc_as_of_full() returns timestamptz
  language sql stable
as $$
  select coalesce((select as_of from reports.hubdoc_settings),
                  (select max(t) from (select max(event_time) from staging.hubdoc_login
                                       union all select max(event_time) from staging.hubdoc_page_access
                                       union all select max(event_time) from staging.hubdoc_upload
                                       union all select max(event_time) from staging.hubdoc_signup
                                       union all select max(event_time) from staging.hubdoc_plan_change) as m(t)))
$$;
comment on function reports.hubdoc_as_of_full() is
  'The as-of time from staging: the setting, else the latest event time of any Hubdoc event.';

create function reports.hubdoc_customers_full()
  returns table (account integer, signup_time timestamptz, signup_plan text, province text,
                 churn_month date, change_to_plan text, change_date timestamptz)
  language sql stable
as $$
  with a as (select reports.hubdoc_as_of_full() as as_of),
  signup as (
    select distinct on (s.account) s.account, s.event_time, s.plan, s.address
      from staging.hubdoc_signup s, a
     where s.event_time <= a.as_of
     order by s.account, s.event_time, s._file_id, s._record),
  login as (
    select l.account, max(l.event_time) as last_login
      from staging.hubdoc_login l, a
     where l.event_time <= a.as_of
     group by l.account),
  first_change as (
    select distinct on (p.account) p.account, p.to_plan, p.change_date
      from staging.hubdoc_plan_change p
      join signup s on s.account = p.account, a
     where p.event_time <= a.as_of and p.change_date > s.event_time
     order by p.account, p.change_date, p.event_time desc, p._file_id desc, p._record desc)
  select coalesce(s.account, l.account), s.event_time, s.plan,
         core.hubdoc_address_province(s.address),
         case when l.last_login < a.as_of - interval '720 hours'
              then core.hubdoc_local_month(l.last_login) end,
         fc.to_plan, fc.change_date
    from signup s
    full join login l on l.account = s.account
    left join first_change fc on fc.account = s.account
   cross join a
$$;
comment on function reports.hubdoc_customers_full() is
  'Per account, from staging, as of the as-of time: sign-up time and plan, province, churn month (NULL: not churned) and first plan change after sign-up.';

create function reports.hubdoc_monthly_churn_full()
  returns table (month date, churned integer, active_at_month_end integer, churn_rate numeric)
  language sql stable
as $$
  with a as (select reports.hubdoc_as_of_full() as as_of),
  c as (select * from reports.hubdoc_customers_full()),
  first_event as (
    select min(t) as t
      from (select min(event_time) from staging.hubdoc_login
            union all select min(event_time) from staging.hubdoc_page_access
            union all select min(event_time) from staging.hubdoc_upload
            union all select min(event_time) from staging.hubdoc_signup
            union all select min(event_time) from staging.hubdoc_plan_change) as m(t)),
  months as (
    select generate_series(core.hubdoc_local_month(f.t)::timestamp,
                           core.hubdoc_local_month(a.as_of)::timestamp,
                           interval '1 month')::date as month
      from first_event f, a
     where f.t <= a.as_of),
  per_month as (
    select m.month,
           count(*) filter (where c.churn_month = m.month)::integer as churned,
           count(*) filter (where core.hubdoc_local_month(c.signup_time) <= m.month
                              and not coalesce(c.churn_month <= m.month, false))::integer as active
      from months m
      left join c on true
     group by m.month)
  select month, churned, active, round(churned::numeric / nullif(active, 0), 4)
    from per_month
$$;
comment on function reports.hubdoc_monthly_churn_full() is
  'reports.hubdoc_monthly_churn computed from scratch from staging.';

create function reports.hubdoc_signup_plans_full()
  returns table (year integer, plan text, signups integer, share_pct numeric)
  language sql stable
as $$
  select core.hubdoc_local_year(c.signup_time) as year, c.signup_plan, count(*)::integer,
         round(100.0 * count(*) / sum(count(*)) over (partition by core.hubdoc_local_year(c.signup_time)), 2)
    from reports.hubdoc_customers_full() c
   where c.signup_time is not null
   group by 1, 2
$$;
comment on function reports.hubdoc_signup_plans_full() is
  'reports.hubdoc_signup_plans computed from scratch from staging.';

create function reports.hubdoc_plan_changes_full()
  returns table (from_plan text, to_plan text, customers integer, avg_days_to_change numeric)
  language sql stable
as $$
  select c.signup_plan, c.change_to_plan, count(*)::integer,
         round(avg((extract(epoch from c.change_date) - extract(epoch from c.signup_time)) / 86400), 4)
    from reports.hubdoc_customers_full() c
   where c.change_to_plan <> c.signup_plan
   group by 1, 2
$$;
comment on function reports.hubdoc_plan_changes_full() is
  'reports.hubdoc_plan_changes computed from scratch from staging.';

create function reports.hubdoc_active_by_province_full()
  returns table (year integer, province text, active_customers integer)
  language sql stable
as $$
  with a as (select reports.hubdoc_as_of_full() as as_of),
  c as (select * from reports.hubdoc_customers_full() where signup_time is not null),
  years as (
    select generate_series(min(core.hubdoc_local_year(c.signup_time)),
                           core.hubdoc_local_year(a.as_of)) as year
      from c, a
     group by a.as_of)
  select y.year, c.province,
         count(*) filter (where not coalesce(extract(year from c.churn_month) <= y.year, false))::integer
    from years y
    join c on core.hubdoc_local_year(c.signup_time) <= y.year
   group by y.year, c.province
$$;
comment on function reports.hubdoc_active_by_province_full() is
  'reports.hubdoc_active_by_province computed from scratch from staging.';
