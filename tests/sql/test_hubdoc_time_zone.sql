-- The Hubdoc pack's time zone is written once, in core.hubdoc_time_zone():
-- no other function or view of the pack names a zone, every day, month and
-- year comes through it (whatever the session's TimeZone), and the period
-- helpers are still inlined by the planner down to the constant.
--
-- Run by tests/sql/run_sql_test.sh in a fresh migrated database.

\set ON_ERROR_STOP 1
\o /dev/null
set client_min_messages = warning;

\ir lib/helpers.sql

select pg_temp.assert_same('only core.hubdoc_time_zone() names a time zone',
  $$select p.oid::regprocedure::text from pg_proc p
     where p.pronamespace in ('core'::regnamespace, 'reports'::regnamespace) and p.proname like 'hubdoc\_%'
       and pg_get_functiondef(p.oid) ~ 'America/|at time zone ''[^'']'
    union all
    select c.oid::regclass::text from pg_class c
     where c.relnamespace in ('core'::regnamespace, 'reports'::regnamespace) and c.relname like 'hubdoc\_%'
       and c.relkind = 'v' and pg_get_viewdef(c.oid) ~ 'America/|at time zone ''[^'']'$$,
  $$values ('core.hubdoc_time_zone()')$$);

-- A session far from Toronto: the answers must not move.
set timezone = 'Asia/Tokyo';

select pg_temp.assert_same('days, months and years are those of America/Toronto, across a new year and DST',
  $$select t, core.hubdoc_local_day(t), core.hubdoc_local_month(t), core.hubdoc_local_year(t)
      from unnest(array['2019-01-01 04:59Z', '2019-01-01 05:00Z', '2019-03-10 06:59Z', '2019-03-10 07:00Z',
                        '2019-11-03 05:59Z', '2019-11-03 06:00Z']::timestamptz[]) t$$,
  $$values ('2019-01-01 04:59Z'::timestamptz, '2018-12-31'::date, '2018-12-01'::date, 2018),
           ('2019-01-01 05:00Z', '2019-01-01', '2019-01-01', 2019),
           ('2019-03-10 06:59Z', '2019-03-10', '2019-03-01', 2019),
           ('2019-03-10 07:00Z', '2019-03-10', '2019-03-01', 2019),
           ('2019-11-03 05:59Z', '2019-11-03', '2019-11-01', 2019),
           ('2019-11-03 06:00Z', '2019-11-03', '2019-11-01', 2019)$$);

insert into staging.hubdoc_login (_file_id, _record, event_time, account) values (1, 1, '2019-01-01 04:30Z', 7);
insert into staging.hubdoc_plan_change (_file_id, _record, event_time, account, change_date, from_plan, to_plan)
values (1, 2, '2019-01-01 04:40Z', 7, '2019-01-01 04:40Z', 'basic', 'pro');
select pg_temp.assert_same('the login day and the change day (trigger) are Toronto days',
  $$select login_day from core.hubdoc_fact_login where account = 7
    union all select change_day from core.hubdoc_fact_plan_change where account = 7$$,
  $$values ('2018-12-31'::date), ('2018-12-31')$$);
select reports.hubdoc_rebuild();
select pg_temp.assert_same('the change day after a rebuild too',
  'select change_day from core.hubdoc_fact_plan_change where account = 7', $$values ('2018-12-31'::date)$$);

-- Inlined: the plan holds the zone as a constant, and no call of the helpers.
create temp table plan_text (line text);
do $$
declare
  line text;
begin
  for line in explain (verbose, costs off)
    select core.hubdoc_local_month(t), core.hubdoc_local_year(t), core.hubdoc_local_day(t)
      from (values (now())) v(t)
  loop
    insert into plan_text values (line);
  end loop;
end
$$;
select pg_temp.assert_true('the helpers are inlined down to the constant zone',
  (select string_agg(line, ' ') from plan_text) ~ 'America/Toronto'
  and (select string_agg(line, ' ') from plan_text) !~ 'hubdoc_');
