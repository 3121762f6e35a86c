-- Hubdoc pack, staging: one table per log_type, typed. The column types and
-- NOT NULLs are the feed's contract: the loader validates every record against
-- them and rejects what does not fit (no CHECK constraints here: a failing check
-- would abort a whole COPY).

create table staging.hubdoc_login (
  _file_id   bigint not null,
  _record    bigint not null,
  event_time timestamptz not null,
  level      text,
  account    integer not null,
  details    text
);
create table staging.hubdoc_page_access (like staging.hubdoc_login);
create table staging.hubdoc_upload (like staging.hubdoc_login);

create table staging.hubdoc_signup (
  _file_id   bigint not null,
  _record    bigint not null,
  event_time timestamptz not null,
  level      text,
  account    integer not null,
  plan       text not null,
  firstname  text,
  lastname   text,
  address    text not null
);

create table staging.hubdoc_plan_change (
  _file_id    bigint not null,
  _record     bigint not null,
  event_time  timestamptz not null,
  level       text,
  account     integer not null,
  change_date timestamptz not null,
  from_plan   text not null,
  to_plan     text not null
);

do $$
declare
  t text;
begin
  foreach t in array array['hubdoc_login', 'hubdoc_page_access', 'hubdoc_upload',
                           'hubdoc_signup', 'hubdoc_plan_change'] loop
    execute format('comment on column staging.%I._file_id is %L', t,
      'File the row came from (sluice.files.id).');
    execute format('comment on column staging.%I._record is %L', t,
      '1-based ordinal of the record in its file.');
    execute format('comment on column staging.%I.event_time is %L', t,
      'The event''s "date", with its UTC offset applied.');
    execute format('comment on column staging.%I.level is %L', t,
      'Log level, e.g. INFO.');
    execute format('comment on column staging.%I.account is %L', t,
      'Customer id.');
  end loop;
end $$;

comment on table staging.hubdoc_login is 'Hubdoc LOGIN events as loaded.';
comment on column staging.hubdoc_login.details is 'Free text, e.g. "web login".';
comment on table staging.hubdoc_page_access is 'Hubdoc PAGE_ACCESS events as loaded.';
comment on column staging.hubdoc_page_access.details is 'The page, e.g. upload_page.';
comment on table staging.hubdoc_upload is 'Hubdoc UPLOAD events as loaded.';
comment on column staging.hubdoc_upload.details is 'The uploaded file name.';
comment on table staging.hubdoc_signup is 'Hubdoc SIGN_UP events as loaded.';
comment on column staging.hubdoc_signup.plan is 'Plan chosen at sign-up, e.g. PLAN_BRONZE.';
comment on column staging.hubdoc_signup.firstname is 'First name.';
comment on column staging.hubdoc_signup.lastname is 'Last name.';
comment on column staging.hubdoc_signup.address is 'Address as logged, wrapped in single quotes, ending with province code and postal code.';
comment on table staging.hubdoc_plan_change is 'Hubdoc PLAN_CHANGE events as loaded.';
comment on column staging.hubdoc_plan_change.change_date is 'details.change_date: when the plan changed.';
comment on column staging.hubdoc_plan_change.from_plan is 'details.from: the plan before.';
comment on column staging.hubdoc_plan_change.to_plan is 'details.to: the plan after.';

-- The feed: which files, how records are routed, which pointer fills which column.
insert into sluice.feeds (name, file_globs, format, route_pointer, description) values
  ('hubdoc', '{hubdoc/*.log,hubdoc/*.ndjson,hubdoc/*.jsonl}', 'auto', '/log_type',
   'Hubdoc monthly NDJSON event logs.');

insert into sluice.feed_targets (feed, route_value, target_table) values
  ('hubdoc', 'LOGIN',       'staging.hubdoc_login'),
  ('hubdoc', 'PAGE_ACCESS', 'staging.hubdoc_page_access'),
  ('hubdoc', 'UPLOAD',      'staging.hubdoc_upload'),
  ('hubdoc', 'SIGN_UP',     'staging.hubdoc_signup'),
  ('hubdoc', 'PLAN_CHANGE', 'staging.hubdoc_plan_change');

insert into sluice.feed_columns (feed, target_table, column_name, json_pointer)
select 'hubdoc', t.target_table, c.column_name, c.json_pointer
  from sluice.feed_targets t
 cross join (values ('event_time', '/date'), ('level', '/level'), ('account', '/account'))
         as c(column_name, json_pointer)
 where t.feed = 'hubdoc'
union all
select 'hubdoc', t, 'details', '/details'
  from unnest(array['staging.hubdoc_login', 'staging.hubdoc_page_access', 'staging.hubdoc_upload']) t
union all
select 'hubdoc', 'staging.hubdoc_signup', c, '/' || c
  from unnest(array['plan', 'firstname', 'lastname', 'address']) c
union all
select 'hubdoc', 'staging.hubdoc_plan_change', c, p
  from (values ('change_date', '/details/change_date'), ('from_plan', '/details/from'),
               ('to_plan', '/details/to')) as m(c, p);
