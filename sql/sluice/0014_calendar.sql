-- The warehouse's one calendar, core.dim_date, is sluice's and no pack's: every
-- pack joins it and may add days, none creates it. It used to come from the
-- hubdoc pack (every day of 2000-2060) or, without hubdoc, from the sales pack
-- (the days its facts need): a warehouse made with --packs sales could not add
-- hubdoc later, whose migration created the table unconditionally.
--
-- A warehouse made before this file has the table from one of those packs,
-- with these columns in this order (sales added weekday; hubdoc alone did
-- not): what it has is kept, what it lacks is added, and the comments are
-- written again, so that it ends as a new warehouse does.

create table if not exists core.dim_date (
  date         date primary key,
  date_key     integer not null unique,
  year         integer not null,
  quarter      integer not null,
  month        integer not null,
  month_name   text not null,
  day          integer not null,
  day_of_week  integer not null,
  day_name     text not null,
  iso_week     integer not null,
  is_weekend   boolean not null,
  month_start  date not null,
  month_end    date not null,
  year_start   date not null
);
alter table core.dim_date
  add column if not exists weekday integer generated always as (extract(isodow from date)::integer) stored;

insert into core.dim_date (date, date_key, year, quarter, month, month_name, day, day_of_week, day_name,
                           iso_week, is_weekend, month_start, month_end, year_start)
select d::date,
       to_char(d, 'YYYYMMDD')::integer,
       extract(year from d)::integer,
       extract(quarter from d)::integer,
       extract(month from d)::integer,
       trim(to_char(d, 'Month')),
       extract(day from d)::integer,
       extract(isodow from d)::integer,
       trim(to_char(d, 'Day')),
       extract(week from d)::integer,
       extract(isodow from d) in (6, 7),
       date_trunc('month', d)::date,
       (date_trunc('month', d) + interval '1 month' - interval '1 day')::date,
       date_trunc('year', d)::date
  from generate_series(timestamp '2000-01-01', timestamp '2060-12-31', interval '1 day') as g(d)
on conflict do nothing;

comment on table core.dim_date is 'Calendar dimension shared by every pack (sluice''s own, not a pack''s), one row per day: every day from 2000-01-01 to 2060-12-31, and any day outside them a pack''s facts need. Join on date, or on date_key (YYYYMMDD). Days are calendar days: each pack says in which time zone its events fall on a day.';
comment on column core.dim_date.date is 'The day.';
comment on column core.dim_date.date_key is 'The day as a number YYYYMMDD, for tools that prefer integer keys: the date_key of facts.';
comment on column core.dim_date.year is 'Calendar year.';
comment on column core.dim_date.quarter is 'Calendar quarter, 1-4.';
comment on column core.dim_date.month is 'Month number, 1-12.';
comment on column core.dim_date.month_name is 'Month name in English, e.g. January.';
comment on column core.dim_date.day is 'Day of the month, 1-31.';
comment on column core.dim_date.day_of_week is 'ISO day of the week: 1 = Monday ... 7 = Sunday.';
comment on column core.dim_date.day_name is 'Day name in English, e.g. Monday.';
comment on column core.dim_date.iso_week is 'ISO 8601 week number, 1-53.';
comment on column core.dim_date.is_weekend is 'True on Saturdays and Sundays.';
comment on column core.dim_date.month_start is 'First day of the month; the key of monthly reports.';
comment on column core.dim_date.month_end is 'Last day of the month.';
comment on column core.dim_date.year_start is 'First day of the year.';
comment on column core.dim_date.weekday is 'ISO day of the week, 1 = Monday ... 7 = Sunday (the same as day_of_week).';
