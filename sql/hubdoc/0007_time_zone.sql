-- Hubdoc pack: the time zone of its calendar is written once, in
-- core.hubdoc_time_zone(). It was written out in five places of code (the two
-- period helpers of 0002, the login day of core.hubdoc_fact_login, and the
-- change day of core.hubdoc_fact_plan_change in the trigger and in the
-- rebuild), so changing it, or reading which zone the pack means, needed a
-- search. Every day, month and year of the pack now comes from
-- core.hubdoc_local_day(), core.hubdoc_local_month() or core.hubdoc_local_year(),
-- and those from core.hubdoc_time_zone().
--
-- Behaviour is unchanged: the same zone, and the helpers stay immutable SQL
-- functions, which the planner inlines down to the constant. The zone is a
-- function, not a setting a person edits, because the days are stored
-- (core.hubdoc_fact_plan_change.change_day) and the reports kept per period:
-- another zone means a new migration that redefines this function and runs
-- reports.hubdoc_rebuild(). The comments people read keep naming the zone.

create function core.hubdoc_time_zone() returns text
  language sql immutable parallel safe
  return 'America/Toronto';
comment on function core.hubdoc_time_zone() is
  'The time zone of the Hubdoc pack''s calendar (America/Toronto): the day, month and year of an event are those of its local time there, whatever the session''s TimeZone.';

create function core.hubdoc_local_day(t timestamptz) returns date
  language sql immutable parallel safe
  return (t at time zone core.hubdoc_time_zone())::date;
comment on function core.hubdoc_local_day(timestamptz) is
  'The day of t in the pack''s time zone (core.hubdoc_time_zone()).';

create or replace function core.hubdoc_local_month(t timestamptz) returns date
  language sql immutable parallel safe
  return date_trunc('month', t at time zone core.hubdoc_time_zone())::date;

create or replace function core.hubdoc_local_year(t timestamptz) returns integer
  language sql immutable parallel safe
  return extract(year from t at time zone core.hubdoc_time_zone())::integer;

create or replace view core.hubdoc_fact_login as
select l.account,
       l.event_time,
       core.hubdoc_local_day(l.event_time) as login_day,
       c.customer_key,
       c.plan,
       l.details,
       l._file_id,
       l._record
  from staging.hubdoc_login l
  left join core.hubdoc_dim_customer c
    on c.account = l.account and c.valid_from <= l.event_time and l.event_time < c.valid_to;

-- The trigger and the rebuild name the zone in one expression each, inside
-- bodies of 20 and 60 lines: each is created again from its own definition
-- with that expression replaced (not copied here, which would make a second
-- text of them to keep equal), and refused if it is not found exactly once.
do $bodies$
declare
  fn regprocedure;
  def text;
  old constant text := '(change_date at time zone ''America/Toronto'')::date';
begin
  foreach fn in array array['core.hubdoc_on_plan_change()'::regprocedure, 'reports.hubdoc_rebuild()'::regprocedure]
  loop
    def := pg_get_functiondef(fn);
    if array_length(string_to_array(def, old), 1) <> 2 then
      raise exception '% does not name the zone once as %', fn, old;
    end if;
    execute replace(def, old, 'core.hubdoc_local_day(change_date)');
  end loop;
end
$bodies$;
