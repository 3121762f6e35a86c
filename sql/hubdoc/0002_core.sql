-- Hubdoc pack, core: the customer dimension (SCD type 2), facts, and the
-- per-customer state the reports need. The tables here are filled by the
-- statement triggers and the hubdoc_reports job of 0004_maintenance.sql;
-- nothing in this file reads the wall clock.
--
-- Conventions
--   * Calendar periods are those of America/Toronto, whatever the session's
--     TimeZone: every month/year is computed with core.hubdoc_local_month() /
--     core.hubdoc_local_year(), never with a bare ::date cast.
--   * SCD2 current row: valid_to = 'infinity' (not NULL). Validity is the
--     half-open range [valid_from, valid_to), so "the version in effect at t" is
--     `valid_from <= t and t < valid_to` with no coalesce, and
--     tstzrange(valid_from, valid_to) never needs special-casing.

-- The calendar core.dim_date (the days 2000-2060) is sluice's, shared by every
-- pack: sql/sluice/0014_calendar.sql. Days of events join it on date, taken in
-- America/Toronto.

-- Helpers -----------------------------------------------------------------------
-- Immutable SQL functions so the planner inlines them; the time zone is named
-- explicitly so that results never depend on the session's TimeZone.

create function core.hubdoc_local_month(t timestamptz) returns date
  language sql immutable parallel safe
  return date_trunc('month', t at time zone 'America/Toronto')::date;
comment on function core.hubdoc_local_month(timestamptz) is
  'First day of the America/Toronto calendar month that contains t.';

create function core.hubdoc_local_year(t timestamptz) returns integer
  language sql immutable parallel safe
  return extract(year from t at time zone 'America/Toronto')::integer;
comment on function core.hubdoc_local_year(timestamptz) is
  'America/Toronto calendar year that contains t.';

-- Addresses look like '12 Elm St., Moncton, NB E1A 1A1' (single quotes included).
-- Province: one of the 13 Canadian codes directly before a postal code at the end;
-- anything else gives NULL rather than a made-up province.
create function core.hubdoc_address_province(address text) returns text
  language sql immutable parallel safe
  return (select case when m[1] in ('AB', 'BC', 'MB', 'NB', 'NL', 'NS', 'NT', 'NU', 'ON',
                                    'PE', 'QC', 'SK', 'YT') then m[1] end
            from regexp_match(upper(address),
                              '(?:^|[\s,''])([A-Z]{2})\s+[A-Z][0-9][A-Z]\s?[0-9][A-Z][0-9]\s*''?\s*$') as m);
comment on function core.hubdoc_address_province(text) is
  'Two-letter Canadian province/territory code that ends a Hubdoc address before its postal code; NULL when the address does not end that way.';

create function core.hubdoc_address_postal_code(address text) returns text
  language sql immutable parallel safe
  return (select m[1] || ' ' || m[2]
            from regexp_match(upper(address),
                              '(?:^|[^A-Z0-9])([A-Z][0-9][A-Z])\s?([0-9][A-Z][0-9])\s*''?\s*$') as m);
comment on function core.hubdoc_address_postal_code(text) is
  'Canadian postal code (normalized to "A1A 1A1") that ends a Hubdoc address; NULL when there is none.';

-- The triggers parse each address once, with these three instead of the two
-- functions above (the reference, used by the *_full() recomputes): those are
-- SQL functions with a subquery, which the planner cannot inline (~14 us a
-- call, two calls a sign-up). These are bare expressions, so they are inlined.
-- hubdoc_address_tail() runs ONE regular expression, with no capturing
-- group: PostgreSQL then only runs its DFA (~4 us), while captures cost a
-- backtracking pass that took 10-50 us a row here. Its match is the end of the
-- address from just before the province (first alternative: the province
-- pattern) or the postal code (second: the postal-code pattern) to the last
-- character of the postal code (the lookahead keeps the trailing quote and
-- blanks out). The leftmost match wins and the first alternative starts further
-- left, so the match holds a province exactly when the province pattern above
-- matches; the postal code is always its last six letters/digits. The other two
-- cut that match with plain string functions. Checked against the reference on
-- crafted and random addresses by tests/sql/test_hubdoc_address.sql.
--
-- Even that regular expression costs ~5 us a call whatever the address's
-- length, so the usual shape is recognised without one first: when the last 12
-- characters are a blank, comma or quote, two capitals, a blank, capital digit
-- capital, a blank, digit capital digit and the closing quote (translate() maps
-- capitals to A and digits to 9), the expression could only match those
-- characters (all its matches end at the postal code; the province
-- alternative, which wins, starts at the separator), so the tail is them
-- without the quote.
create function core.hubdoc_address_tail(address text) returns text
  language sql immutable parallel safe
  return case when translate(right(upper(address), 12),
                             'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789, ''',
                             'AAAAAAAAAAAAAAAAAAAAAAAAAA9999999999SSQ')
                   in ('SAASA9AS9A9Q', 'QAASA9AS9A9Q')
              then left(right(upper(address), 12), 11)
              else substring(upper(address)
                             from '(?:(?:^|[\s,''])[A-Z]{2}\s+|(?:^|[^A-Z0-9]))[A-Z][0-9][A-Z]\s?[0-9][A-Z][0-9](?=\s*''?\s*$)')
         end;
comment on function core.hubdoc_address_tail(text) is
  'The end of an upper-cased Hubdoc address that holds its province (when there is one) and postal code, possibly after one separator character; NULL when the address does not end with a postal code. Input of hubdoc_tail_province() and hubdoc_tail_postal_code().';

-- The tail is [separator] [PP blanks] A1A [blank] 1A1: a separator is never an
-- ASCII capital (codes 65-90), and without a province at most 7 characters
-- remain after it, with one at least 9.
create function core.hubdoc_tail_province(tail text) returns text
  language sql immutable parallel safe
  return case when length(tail) - (ascii(tail) not between 65 and 90)::integer >= 9
               and substr(tail, 1 + (ascii(tail) not between 65 and 90)::integer, 2)
                   in ('AB', 'BC', 'MB', 'NB', 'NL', 'NS', 'NT', 'NU', 'ON',
                       'PE', 'QC', 'SK', 'YT')
              then substr(tail, 1 + (ascii(tail) not between 65 and 90)::integer, 2) end;
comment on function core.hubdoc_tail_province(text) is
  'Province code in a core.hubdoc_address_tail(); equals core.hubdoc_address_province() of the address.';

-- The 4th character from the end is the first half's last letter, or the blank
-- between the halves.
create function core.hubdoc_tail_postal_code(tail text) returns text
  language sql immutable parallel safe
  return case when ascii(right(tail, 4)) between 65 and 90 then left(right(tail, 6), 3)
              else left(right(tail, 7), 3) end || ' ' || right(tail, 3);
comment on function core.hubdoc_tail_postal_code(text) is
  'Postal code ("A1A 1A1") in a core.hubdoc_address_tail(); equals core.hubdoc_address_postal_code() of the address.';

create function core.hubdoc_address_clean(address text) returns text
  language sql immutable parallel safe
  return btrim(btrim(address), '''');
comment on function core.hubdoc_address_clean(text) is
  'The address without the single quotes the log wraps it in.';

-- Per-customer state --------------------------------------------------------------

create table core.hubdoc_customer_state (
  account          integer primary key,
  signup_time      timestamptz,
  signup_plan      text,
  signup_file_id   bigint,
  signup_record    bigint,
  firstname        text,
  lastname         text,
  address          text,
  province         text,
  postal_code      text,
  first_login      timestamptz,
  last_login       timestamptz,
  changed_xid      xid8 not null default pg_current_xact_id()
);
-- The job finds whose sign-up changed since its watermark, and who crossed the
-- 30-day silence line since its last run, through these two.
create index hubdoc_customer_state_changed on core.hubdoc_customer_state (changed_xid);
-- Partial: a sign-up creates the row without a login, and the job's range
-- (last_login >= ... and last_login < ...) implies NOT NULL, so the trigger's
-- inserts skip this index.
create index hubdoc_customer_state_last_login on core.hubdoc_customer_state (last_login)
  where last_login is not null;

comment on table core.hubdoc_customer_state is 'One row per Hubdoc account seen in SIGN_UP, LOGIN or PLAN_CHANGE events: its earliest sign-up and its first and last login, whatever order the events arrived in. Sign-ups are kept by the staging trigger; logins are folded in by the hubdoc_reports job (every few seconds).';
comment on column core.hubdoc_customer_state.account is 'Customer id (the events'' account).';
comment on column core.hubdoc_customer_state.signup_time is 'Time of the earliest SIGN_UP event; NULL while no SIGN_UP has been loaded.';
comment on column core.hubdoc_customer_state.signup_plan is 'Plan chosen in the earliest SIGN_UP.';
comment on column core.hubdoc_customer_state.signup_file_id is 'File of the earliest SIGN_UP (breaks ties between sign-ups with the same time).';
comment on column core.hubdoc_customer_state.signup_record is 'Record number of the earliest SIGN_UP in its file (breaks ties).';
comment on column core.hubdoc_customer_state.firstname is 'First name given at sign-up.';
comment on column core.hubdoc_customer_state.lastname is 'Last name given at sign-up.';
comment on column core.hubdoc_customer_state.address is 'Address given at sign-up, without the wrapping quotes.';
comment on column core.hubdoc_customer_state.province is 'Province code parsed from the address; NULL when the address does not end with a province and postal code.';
comment on column core.hubdoc_customer_state.postal_code is 'Postal code parsed from the address, as "A1A 1A1".';
comment on column core.hubdoc_customer_state.first_login is 'Time of the first LOGIN loaded (as of the last run of the hubdoc_reports job).';
comment on column core.hubdoc_customer_state.last_login is 'Time of the last LOGIN loaded (as of the last run of the hubdoc_reports job); the churn clock starts here.';
comment on column core.hubdoc_customer_state.changed_xid is 'Transaction that created the row or last changed its sign-up; the reports job re-examines accounts changed since its watermark.';

-- Customer dimension, SCD type 2 ----------------------------------------------------

create table core.hubdoc_dim_customer (
  customer_key  bigint generated always as identity primary key,
  account       integer not null,
  plan          text not null,
  valid_from    timestamptz not null,
  valid_to      timestamptz not null default 'infinity',
  is_current    boolean generated always as (valid_to = 'infinity') stored,
  firstname     text,
  lastname      text,
  address       text,
  province      text,
  postal_code   text,
  signup_time   timestamptz not null,
  check (valid_from < valid_to)
);
create unique index hubdoc_dim_customer_version on core.hubdoc_dim_customer (account, valid_from);
-- Exactly one current row per customer. A constraint rather than a unique index
-- so that it is checked at the end of each statement, not row by row: the
-- trigger retires a current version and inserts its successor in one statement.
alter table core.hubdoc_dim_customer
  add constraint hubdoc_dim_customer_one_current
  exclude using btree (account with =) where (valid_to = 'infinity')
  deferrable initially immediate;

comment on table core.hubdoc_dim_customer is 'Hubdoc customers with their plan history (SCD type 2): a first version at sign-up, a new version at each later PLAN_CHANGE (by details.change_date). The current version has valid_to = ''infinity''; validity is [valid_from, valid_to). Kept by the hubdoc_reports job (sluice.jobs, every few seconds): a SIGN_UP or PLAN_CHANGE shows here after the job''s next run.';
comment on column core.hubdoc_dim_customer.customer_key is 'Surrogate key of this version; stays the same while the version''s start stays the same.';
comment on column core.hubdoc_dim_customer.account is 'Customer id (natural key).';
comment on column core.hubdoc_dim_customer.plan is 'Plan during this version: the sign-up plan, then the "to" plan of each change.';
comment on column core.hubdoc_dim_customer.valid_from is 'Start of this version (inclusive): the sign-up time or the change_date of the plan change.';
comment on column core.hubdoc_dim_customer.valid_to is 'End of this version (exclusive): the next change_date, or ''infinity'' for the current version.';
comment on column core.hubdoc_dim_customer.is_current is 'True for the one current version of each customer (valid_to = ''infinity'').';
comment on column core.hubdoc_dim_customer.firstname is 'First name given at sign-up.';
comment on column core.hubdoc_dim_customer.lastname is 'Last name given at sign-up.';
comment on column core.hubdoc_dim_customer.address is 'Address given at sign-up, without the wrapping quotes.';
comment on column core.hubdoc_dim_customer.province is 'Province code parsed from the address; NULL when it does not end with a province and postal code.';
comment on column core.hubdoc_dim_customer.postal_code is 'Postal code parsed from the address, as "A1A 1A1".';
comment on column core.hubdoc_dim_customer.signup_time is 'Time of the customer''s earliest SIGN_UP.';

-- Facts ----------------------------------------------------------------------------

create table core.hubdoc_fact_plan_change (
  plan_change_id  bigint generated always as identity primary key,
  account         integer not null,
  change_date     timestamptz not null,
  change_day      date not null,
  event_time      timestamptz not null,
  from_plan       text not null,
  to_plan         text not null,
  _file_id        bigint not null,
  _record         bigint not null
);
create index hubdoc_fact_plan_change_account on core.hubdoc_fact_plan_change (account, change_date);

comment on table core.hubdoc_fact_plan_change is 'One row per PLAN_CHANGE event loaded (copied by the staging trigger; these are few, and the dimension and reports look them up by account).';
comment on column core.hubdoc_fact_plan_change.plan_change_id is 'Surrogate key.';
comment on column core.hubdoc_fact_plan_change.account is 'Customer id; join core.hubdoc_dim_customer on account and change_date within [valid_from, valid_to).';
comment on column core.hubdoc_fact_plan_change.change_date is 'details.change_date: when the plan changed.';
comment on column core.hubdoc_fact_plan_change.change_day is 'America/Toronto day of change_date; joins core.dim_date.date.';
comment on column core.hubdoc_fact_plan_change.event_time is 'When the event was logged.';
comment on column core.hubdoc_fact_plan_change.from_plan is 'details.from: the plan before, as logged.';
comment on column core.hubdoc_fact_plan_change.to_plan is 'details.to: the plan after.';
comment on column core.hubdoc_fact_plan_change._file_id is 'File the event came from (sluice.files.id).';
comment on column core.hubdoc_fact_plan_change._record is 'Record number of the event in its file.';

-- Logins are the bulk of the feed: a trigger-maintained copy would cost as much
-- as the load itself, so the login fact is a view over staging (see the
-- measurements in 0004_maintenance.sql); what the reports need from logins is
-- kept per customer in core.hubdoc_customer_state.
create view core.hubdoc_fact_login as
select l.account,
       l.event_time,
       (l.event_time at time zone 'America/Toronto')::date as login_day,
       c.customer_key,
       c.plan,
       l.details,
       l._file_id,
       l._record
  from staging.hubdoc_login l
  left join core.hubdoc_dim_customer c
    on c.account = l.account and c.valid_from <= l.event_time and l.event_time < c.valid_to;

comment on view core.hubdoc_fact_login is 'One row per LOGIN event, with the customer version in effect at the time (a view over staging.hubdoc_login).';
comment on column core.hubdoc_fact_login.account is 'Customer id.';
comment on column core.hubdoc_fact_login.event_time is 'When the customer logged in.';
comment on column core.hubdoc_fact_login.login_day is 'America/Toronto day of the login; joins core.dim_date.date.';
comment on column core.hubdoc_fact_login.customer_key is 'core.hubdoc_dim_customer version in effect at the login; NULL for logins before the sign-up (or without one).';
comment on column core.hubdoc_fact_login.plan is 'Plan the customer was on at the login.';
comment on column core.hubdoc_fact_login.details is 'Free text, e.g. "web login".';
comment on column core.hubdoc_fact_login._file_id is 'File the event came from (sluice.files.id).';
comment on column core.hubdoc_fact_login._record is 'Record number of the event in its file.';

-- Feed-wide bounds: "as of" defaults to the latest event time of any kind, and the
-- churn report starts at the month of the first event.
create table core.hubdoc_feed_state (
  singleton        boolean primary key default true check (singleton),
  first_event_time timestamptz,
  last_event_time  timestamptz
);
insert into core.hubdoc_feed_state default values;

comment on table core.hubdoc_feed_state is 'One row: the earliest and latest event time over all Hubdoc events loaded (any type). Kept by the staging triggers, and for PAGE_ACCESS and UPLOAD (which have none) by the hubdoc_reports job.';
comment on column core.hubdoc_feed_state.singleton is 'Always true; keeps the table at one row.';
comment on column core.hubdoc_feed_state.first_event_time is 'Earliest event_time loaded; the churn report starts at its month.';
comment on column core.hubdoc_feed_state.last_event_time is 'Latest event_time loaded; the reports'' default "as of" time.';
