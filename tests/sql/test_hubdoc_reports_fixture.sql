-- The four Hubdoc reports on a small hand-computed fixture, with the as-of time
-- taken from the data and then set explicitly.
--
-- Run by tests/sql/run_sql_test.sh in a fresh migrated database.
--
-- Times are UTC. Toronto is UTC-5 until 2019-03-10, UTC-4 after. The session
-- runs in another time zone on purpose: report periods must not depend on it.
--
-- Customers (A = as-of = latest event = 2019-04-05T12:00Z, A - 720 h = 2019-03-06T12:00Z;
-- the 30 days span the DST change, so a calendar "30 days" in Toronto would be 719 h):
--   7 Gus  sign-up 2018-11-20 GOLD NB; last login 2018-11-21          -> churned 2018-11
--   1 Alice sign-up 2018-12-10T15Z BRONZE NB; logins 2018-12-11, 2019-01-15 -> churned 2019-01
--          changes 2019-01-05T12Z BRONZE->SILVER (25.875 d), 2019-01-20 SILVER->GOLD
--   6 Fay  sign-up 2019-01-01T03Z (= 2018-12-31 22:00 Toronto: year 2018) SILVER ON;
--          login 2019-03-20 (active); changes 2019-03-25T12Z SILVER->GOLD (83.375 d), 2019-03-28 GOLD->BRONZE
--   2 Bo   sign-up 2019-01-02 GOLD QC; only login 2019-02-01T02Z (= January 31 in Toronto) -> churned 2019-01
--   3 Cy   sign-up 2019-01-10T12Z GOLD QC (and a later SIGN_UP with SILVER: ignored); no login ever;
--          change 2019-02-10T12Z GOLD->BRONZE (31 d)
--   4 Di   sign-up 2019-02-15T12Z SILVER ON; login 2019-03-06T12:00:00Z = exactly 720 h before A -> not churned;
--          change 2019-03-01T00Z SILVER->GOLD (13.5 d)
--   5 Ed   sign-up 2019-03-01 BRONZE, address without province; login 2019-03-06T11:59:59Z -> churned 2019-03
-- Events arrive in three batches in the wrong order (changes and logins before sign-ups).

\set ON_ERROR_STOP 1
\o /dev/null
set client_min_messages = warning;
-- Speed only: each batch commits on its own, and the plans here are cheap.
set synchronous_commit = off;
set jit = off;
set timezone = 'Pacific/Auckland';

\ir lib/helpers.sql

-- Batch 1: plan changes and some logins, before any sign-up.
insert into staging.hubdoc_plan_change values
  (1, 1, '2019-01-20T12:00:00Z', 'INFO', 1, '2019-01-20T12:00:00Z', 'PLAN_SILVER', 'PLAN_GOLD'),
  (1, 2, '2019-03-28T12:00:00Z', 'INFO', 6, '2019-03-28T12:00:00Z', 'PLAN_GOLD', 'PLAN_BRONZE'),
  (1, 3, '2019-01-05T12:00:00Z', 'INFO', 1, '2019-01-05T12:00:00Z', 'PLAN_BRONZE', 'PLAN_SILVER'),
  (1, 4, '2019-02-10T12:00:00Z', 'INFO', 3, '2019-02-10T12:00:00Z', 'PLAN_GOLD', 'PLAN_BRONZE');
insert into staging.hubdoc_login values
  (1, 5, '2019-01-15T15:00:00Z', 'INFO', 1, 'web login'),
  (1, 6, '2019-03-06T11:59:59Z', 'INFO', 5, 'web login'),
  (1, 7, '2019-02-01T02:00:00Z', 'INFO', 2, 'web login');
select pg_temp.run_jobs();

-- Batch 2: sign-ups (Cy's second one first), more logins, the latest event.
insert into staging.hubdoc_signup values
  (2, 1, '2019-02-20T12:00:00Z', 'INFO', 3, 'PLAN_SILVER', 'Cy', 'Again', '''9 Side Rd., Quebec, QC G1A 1A1'''),
  (2, 2, '2019-01-10T12:00:00Z', 'INFO', 3, 'PLAN_GOLD', 'Cy', 'Roy', '''3 Rue Laval, Quebec, QC G1R 2B3'''),
  (2, 3, '2018-12-10T15:00:00Z', 'INFO', 1, 'PLAN_BRONZE', 'Alice', 'Lee', '''12 Elm St., Moncton, NB E1A 1A1'''),
  (2, 4, '2019-01-02T10:00:00Z', 'INFO', 2, 'PLAN_GOLD', 'Bo', 'Tremblay', '''7 Rue Laval, Laterriere, QC G7N 1J2'''),
  (2, 5, '2019-03-01T12:00:00Z', 'INFO', 5, 'PLAN_BRONZE', 'Ed', 'Nowhere', '''somewhere without a code'''),
  (2, 6, '2019-02-15T12:00:00Z', 'INFO', 4, 'PLAN_SILVER', 'Di', 'Park', '''1 King St. W, Toronto, ON M5H 1A1''');
insert into staging.hubdoc_page_access values
  (2, 7, '2019-04-05T12:00:00Z', 'INFO', 4, 'upload_page');
insert into staging.hubdoc_login values
  (2, 8, '2019-03-06T12:00:00Z', 'INFO', 4, 'web login'),
  (2, 9, '2018-12-11T15:00:00Z', 'INFO', 1, 'web login');
select pg_temp.run_jobs();

-- Batch 3: the rest, including the first event of the feed and Fay, whose
-- sign-up is in 2018 in Toronto.
insert into staging.hubdoc_signup values
  (3, 1, '2019-01-01T03:00:00Z', 'INFO', 6, 'PLAN_SILVER', 'Fay', 'Wong', '''5 Bay St., Ottawa, ON K1A 0B1'''),
  (3, 2, '2018-11-20T12:00:00Z', 'INFO', 7, 'PLAN_GOLD', 'Gus', 'Hall', '''2 Main St., Fredericton, NB E3B 1A1''');
insert into staging.hubdoc_plan_change values
  (3, 3, '2019-03-25T12:00:00Z', 'INFO', 6, '2019-03-25T12:00:00Z', 'PLAN_SILVER', 'PLAN_GOLD'),
  (3, 4, '2019-03-01T00:00:00Z', 'INFO', 4, '2019-03-01T00:00:00Z', 'PLAN_SILVER', 'PLAN_GOLD');
insert into staging.hubdoc_login values
  (3, 5, '2019-03-20T12:00:00Z', 'INFO', 6, 'web login'),
  (3, 6, '2018-11-21T12:00:00Z', 'INFO', 7, 'web login');
insert into staging.hubdoc_upload values
  (3, 7, '2019-03-30T12:00:00Z', 'INFO', 6, 'receipt.pdf');

-- Reports change only when the job runs.
select pg_temp.assert_same('signup plans before the job ran',
  'select year, plan, signups from reports.hubdoc_signup_plans',
  $$values (2019, 'PLAN_GOLD', 2), (2019, 'PLAN_SILVER', 1), (2019, 'PLAN_BRONZE', 1), (2018, 'PLAN_BRONZE', 1)$$);
select pg_temp.run_jobs();

-- As of the latest event, 2019-04-05T12:00Z ------------------------------------------

select pg_temp.assert_same('monthly churn as of the latest event',
  'select * from reports.hubdoc_monthly_churn',
  $$values (date '2018-11-01', 1, 0, null::numeric),
           (date '2018-12-01', 0, 2, 0.0000),
           (date '2019-01-01', 2, 2, 1.0000),
           (date '2019-02-01', 0, 3, 0.0000),
           (date '2019-03-01', 1, 3, 0.3333),
           (date '2019-04-01', 0, 3, 0.0000)$$);

select pg_temp.assert_same('signup plans as of the latest event',
  'select * from reports.hubdoc_signup_plans',
  $$values (2018, 'PLAN_GOLD', 1, 33.33), (2018, 'PLAN_BRONZE', 1, 33.33), (2018, 'PLAN_SILVER', 1, 33.33),
           (2019, 'PLAN_GOLD', 2, 50.00), (2019, 'PLAN_SILVER', 1, 25.00), (2019, 'PLAN_BRONZE', 1, 25.00)$$);

select pg_temp.assert_same('plan changes as of the latest event',
  'select * from reports.hubdoc_plan_changes',
  $$values ('PLAN_BRONZE', 'PLAN_SILVER', 1, 25.8750),
           ('PLAN_GOLD', 'PLAN_BRONZE', 1, 31.0000),
           ('PLAN_SILVER', 'PLAN_GOLD', 2, 48.4375)$$);

select pg_temp.assert_same('active by province as of the latest event',
  'select * from reports.hubdoc_active_by_province',
  $$values (2018, 'NB', 1), (2018, 'ON', 1),
           (2019, 'NB', 0), (2019, 'ON', 2), (2019, 'QC', 1), (2019, null, 0)$$);

-- The SCD2 dimension: Alice has three versions, Fay three, the others as many
-- as their changes after sign-up; Cy's plan comes from her earliest sign-up.
select pg_temp.assert_same('customer dimension',
  'select account, plan, valid_from, valid_to, is_current, province, postal_code from core.hubdoc_dim_customer',
  $$values (1, 'PLAN_BRONZE', timestamptz '2018-12-10T15:00:00Z', timestamptz '2019-01-05T12:00:00Z', false, 'NB', 'E1A 1A1'),
           (1, 'PLAN_SILVER', '2019-01-05T12:00:00Z', '2019-01-20T12:00:00Z', false, 'NB', 'E1A 1A1'),
           (1, 'PLAN_GOLD',   '2019-01-20T12:00:00Z', 'infinity', true, 'NB', 'E1A 1A1'),
           (2, 'PLAN_GOLD',   '2019-01-02T10:00:00Z', 'infinity', true, 'QC', 'G7N 1J2'),
           (3, 'PLAN_GOLD',   '2019-01-10T12:00:00Z', '2019-02-10T12:00:00Z', false, 'QC', 'G1R 2B3'),
           (3, 'PLAN_BRONZE', '2019-02-10T12:00:00Z', 'infinity', true, 'QC', 'G1R 2B3'),
           (4, 'PLAN_SILVER', '2019-02-15T12:00:00Z', '2019-03-01T00:00:00Z', false, 'ON', 'M5H 1A1'),
           (4, 'PLAN_GOLD',   '2019-03-01T00:00:00Z', 'infinity', true, 'ON', 'M5H 1A1'),
           (5, 'PLAN_BRONZE', '2019-03-01T12:00:00Z', 'infinity', true, null, null),
           (6, 'PLAN_SILVER', '2019-01-01T03:00:00Z', '2019-03-25T12:00:00Z', false, 'ON', 'K1A 0B1'),
           (6, 'PLAN_GOLD',   '2019-03-25T12:00:00Z', '2019-03-28T12:00:00Z', false, 'ON', 'K1A 0B1'),
           (6, 'PLAN_BRONZE', '2019-03-28T12:00:00Z', 'infinity', true, 'ON', 'K1A 0B1'),
           (7, 'PLAN_GOLD',   '2018-11-20T12:00:00Z', 'infinity', true, 'NB', 'E3B 1A1')$$);

-- A second run with nothing new changes nothing.
select pg_temp.assert_same('a run with nothing new changes nothing',
  $$select reports.hubdoc_refresh(watermark, pg_snapshot_xmin(pg_current_snapshot())) from sluice.jobs where name = 'hubdoc_reports'$$,
  'values (0)');

-- As of 2019-02-28T12:00Z (set explicitly) ---------------------------------------------
-- A - 720 h = 2019-01-29T12:00Z. Later events are ignored: Ed is not yet a
-- customer, Di's and Fay's logins and changes have not happened, Bo's login on
-- 2019-02-01 is recent, Cy's second SIGN_UP still loses to her first.

update settings.hubdoc set as_of = '2019-02-28T12:00:00Z';
select pg_temp.run_jobs();

select pg_temp.assert_same('monthly churn as of 2019-02-28',
  'select * from reports.hubdoc_monthly_churn',
  $$values (date '2018-11-01', 1, 0, null::numeric),
           (date '2018-12-01', 0, 2, 0.0000),
           (date '2019-01-01', 1, 3, 0.3333),
           (date '2019-02-01', 0, 4, 0.0000)$$);

select pg_temp.assert_same('signup plans as of 2019-02-28',
  'select * from reports.hubdoc_signup_plans',
  $$values (2018, 'PLAN_GOLD', 1, 33.33), (2018, 'PLAN_BRONZE', 1, 33.33), (2018, 'PLAN_SILVER', 1, 33.33),
           (2019, 'PLAN_GOLD', 2, 66.67), (2019, 'PLAN_SILVER', 1, 33.33)$$);

select pg_temp.assert_same('plan changes as of 2019-02-28',
  'select * from reports.hubdoc_plan_changes',
  $$values ('PLAN_BRONZE', 'PLAN_SILVER', 1, 25.8750),
           ('PLAN_GOLD', 'PLAN_BRONZE', 1, 31.0000)$$);

select pg_temp.assert_same('active by province as of 2019-02-28',
  'select * from reports.hubdoc_active_by_province',
  $$values (2018, 'NB', 1), (2018, 'ON', 1),
           (2019, 'NB', 0), (2019, 'ON', 2), (2019, 'QC', 2)$$);

-- A LOGIN loaded while the as-of time is set: Gus comes back on 2019-02-20, so
-- he is no longer churned; in the next run only he is re-examined.
insert into staging.hubdoc_login values (4, 1, '2019-02-20T12:00:00Z', 'INFO', 7, 'web login');
select pg_temp.run_jobs();
select pg_temp.assert_same('monthly churn as of 2019-02-28 after Gus came back',
  'select * from reports.hubdoc_monthly_churn',
  $$values (date '2018-11-01', 0, 1, 0.0000),
           (date '2018-12-01', 0, 3, 0.0000),
           (date '2019-01-01', 1, 4, 0.2500),
           (date '2019-02-01', 0, 5, 0.0000)$$);

-- Back to "as of the latest event": the answers of the first part, except Gus.
update settings.hubdoc set as_of = null;
select pg_temp.run_jobs();
select pg_temp.assert_same('monthly churn as of the latest event again',
  'select * from reports.hubdoc_monthly_churn',
  $$values (date '2018-11-01', 0, 1, 0.0000),
           (date '2018-12-01', 0, 3, 0.0000),
           (date '2019-01-01', 2, 3, 0.6667),
           (date '2019-02-01', 1, 3, 0.3333),
           (date '2019-03-01', 1, 3, 0.3333),
           (date '2019-04-01', 0, 3, 0.0000)$$);
select pg_temp.assert_same('active by province as of the latest event again',
  'select * from reports.hubdoc_active_by_province',
  $$values (2018, 'NB', 2), (2018, 'ON', 1),
           (2019, 'NB', 0), (2019, 'ON', 2), (2019, 'QC', 1), (2019, null, 0)$$);

-- And the hand-computed answers agree with the full recompute.
select pg_temp.assert_same('monthly churn equals its full recompute',
  'select * from reports.hubdoc_monthly_churn', 'select * from reports.hubdoc_monthly_churn_full()');
select pg_temp.assert_same('signup plans equal their full recompute',
  'select * from reports.hubdoc_signup_plans', 'select * from reports.hubdoc_signup_plans_full()');
select pg_temp.assert_same('plan changes equal their full recompute',
  'select * from reports.hubdoc_plan_changes', 'select * from reports.hubdoc_plan_changes_full()');
select pg_temp.assert_same('active by province equals its full recompute',
  'select * from reports.hubdoc_active_by_province', 'select * from reports.hubdoc_active_by_province_full()');
