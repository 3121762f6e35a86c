-- Product usage pack, staging: what the product team's pipeline exports.
--
-- 1. Daily event exports, product_usage/events/YYYYMMDD_events.ndjson (or
--    .ndjson.gz) under the inbox, one event per line:
--      {"product":"DataGrip","product_version":"2022.1",
--       "timestamp":"2022-08-19 12:57:16.456874","group_id":"update",
--       "event_id":65564,"event_type":"change_color","user_id":654891,
--       "project_id":6546454,"event_context":{"has_license":false,
--       "prev_state":"dark","curr_state":"light","additional":{"user":{...},
--       "product":{"product_id":3113551,"feature_id":213265484,...}}}}
--    Timestamps are naive UTC; feature_id 0 means no feature; event_id names
--    a kind of event, not an occurrence. A day is exported again, corrected,
--    up to five days later under the same name (renamed over the old file or
--    rewritten in place): the newest export of a day replaces that day's
--    events entirely (core.product_usage_export, 0002_core.sql).
-- 2. Dictionaries, CSV with a header, in product_usage/dictionaries/:
--    users*.csv (user_id,sign_in_date,user_login), releases*.csv
--    (release_id,product_id,release_date), feature_releases*.csv
--    (feature_release_id,product_id,feature_id,release_date). A row of a later
--    file replaces the row with the same key.
--
-- Staging keeps every row of every export; which ones count is decided in core.

create table staging.product_usage_event (
  _file_id           bigint not null,
  _record            bigint not null,
  product            text not null,
  product_version    text,
  event_at           timestamptz not null,
  group_id           text,
  event_id           bigint,
  event_type         text not null,
  user_id            bigint not null,
  project_id         bigint,
  has_license        boolean,
  prev_state         text,
  curr_state         text,
  product_id         bigint not null,
  feature_id         bigint,
  build_id           bigint,
  license_type       text,
  runtime_version_id bigint,
  country            text,
  timezone           text,
  os                 text
);
create index product_usage_event_file on staging.product_usage_event (_file_id);
comment on table staging.product_usage_event is 'Rows of the daily event exports (product_usage/events/YYYYMMDD_events.ndjson[.gz]) as loaded, every export of every day; core.product_usage_event holds the events of the newest export of each day. Rows that could not be typed are in sluice.rejects (feed product_usage_events).';
comment on column staging.product_usage_event._file_id is 'File the row came from (sluice.files.id); its day is the YYYYMMDD of its name.';
comment on column staging.product_usage_event._record is '1-based line of the event in its file.';
comment on column staging.product_usage_event.product is '/product: the product''s name, e.g. DataGrip.';
comment on column staging.product_usage_event.product_version is '/product_version: the version the event came from, e.g. 2022.1.';
comment on column staging.product_usage_event.event_at is '/timestamp: when it happened (naive UTC in the export).';
comment on column staging.product_usage_event.group_id is '/group_id: the group of the kind of event, e.g. update.';
comment on column staging.product_usage_event.event_id is '/event_id: the kind of event (not an occurrence).';
comment on column staging.product_usage_event.event_type is '/event_type: e.g. change_color, version_upgrade.';
comment on column staging.product_usage_event.user_id is '/user_id: who.';
comment on column staging.product_usage_event.project_id is '/project_id: in which project.';
comment on column staging.product_usage_event.has_license is '/event_context/has_license.';
comment on column staging.product_usage_event.prev_state is '/event_context/prev_state: the state before (for version_upgrade, the release left).';
comment on column staging.product_usage_event.curr_state is '/event_context/curr_state: the state after (for version_upgrade, the release upgraded to).';
comment on column staging.product_usage_event.product_id is '/event_context/additional/product/product_id.';
comment on column staging.product_usage_event.feature_id is '/event_context/additional/product/feature_id: the feature used; 0 means none.';
comment on column staging.product_usage_event.build_id is '/event_context/additional/product/build_id.';
comment on column staging.product_usage_event.license_type is '/event_context/additional/product/license_type, e.g. Trial.';
comment on column staging.product_usage_event.runtime_version_id is '/event_context/additional/product/runtime_version_id.';
comment on column staging.product_usage_event.country is '/event_context/additional/user/country.';
comment on column staging.product_usage_event.timezone is '/event_context/additional/user/timezone, e.g. GMT+2.';
comment on column staging.product_usage_event.os is '/event_context/additional/user/OS.';

create table staging.product_usage_user (
  _file_id     bigint not null,
  _record      bigint not null,
  user_id      bigint not null,
  sign_in_date date not null,
  user_login   text
);
comment on table staging.product_usage_user is 'Rows of the users dictionaries (product_usage/dictionaries/users*.csv) as loaded; core.product_usage_user holds each user''s row of the latest file.';
comment on column staging.product_usage_user._file_id is 'File the row came from (sluice.files.id).';
comment on column staging.product_usage_user._record is '1-based row in its file (the header is not a record).';
comment on column staging.product_usage_user.user_id is 'user_id: the user (the events'' user_id).';
comment on column staging.product_usage_user.sign_in_date is 'sign_in_date: the day the user first signed in.';
comment on column staging.product_usage_user.user_login is 'user_login.';

create table staging.product_usage_release (
  _file_id     bigint not null,
  _record      bigint not null,
  release_id   text not null,
  product_id   bigint not null,
  release_date date not null
);
comment on table staging.product_usage_release is 'Rows of the releases dictionaries (product_usage/dictionaries/releases*.csv) as loaded; core.product_usage_release holds each (release_id, product_id)''s row of the latest file.';
comment on column staging.product_usage_release._file_id is 'File the row came from (sluice.files.id).';
comment on column staging.product_usage_release._record is '1-based row in its file (the header is not a record).';
comment on column staging.product_usage_release.release_id is 'release_id: the release''s name, e.g. 2022.1 (names repeat across products).';
comment on column staging.product_usage_release.product_id is 'product_id: the product released.';
comment on column staging.product_usage_release.release_date is 'release_date.';

create table staging.product_usage_feature_release (
  _file_id           bigint not null,
  _record            bigint not null,
  feature_release_id bigint not null,
  product_id         bigint not null,
  feature_id         bigint not null,
  release_date       date not null
);
comment on table staging.product_usage_feature_release is 'Rows of the feature releases dictionaries (product_usage/dictionaries/feature_releases*.csv) as loaded; core.product_usage_feature_release holds each feature_release_id''s row of the latest file.';
comment on column staging.product_usage_feature_release._file_id is 'File the row came from (sluice.files.id).';
comment on column staging.product_usage_feature_release._record is '1-based row in its file (the header is not a record).';
comment on column staging.product_usage_feature_release.feature_release_id is 'feature_release_id: the key.';
comment on column staging.product_usage_feature_release.product_id is 'product_id: the product the feature belongs to.';
comment on column staging.product_usage_feature_release.feature_id is 'feature_id: the feature (the events'' feature_id).';
comment on column staging.product_usage_feature_release.release_date is 'release_date: when the feature was released; orders a product''s features.';

insert into sluice.feeds (name, file_globs, format, route_pointer, time_zone, description) values
  ('product_usage_events', '{product_usage/events/*_events.ndjson,product_usage/events/*_events.ndjson.gz}', 'ndjson',
   null, 'UTC', 'Daily product event exports, YYYYMMDD_events.ndjson[.gz], one event per line; a day exported again replaces it.');
insert into sluice.feeds (name, file_globs, format, csv_header, null_strings, description) values
  ('product_usage_users', '{product_usage/dictionaries/users*.csv}', 'csv', true, '{""}',
   'Users dictionary: user_id,sign_in_date,user_login; a later file''s row replaces the same user''s.'),
  ('product_usage_releases', '{product_usage/dictionaries/releases*.csv}', 'csv', true, '{""}',
   'Releases dictionary: release_id,product_id,release_date; a later file''s row replaces the same (release_id, product_id)''s.'),
  ('product_usage_feature_releases', '{product_usage/dictionaries/feature_releases*.csv}', 'csv', true, '{""}',
   'Feature releases dictionary: feature_release_id,product_id,feature_id,release_date; a later file''s row replaces the same feature_release_id''s.');

insert into sluice.feed_targets (feed, route_value, target_table) values
  ('product_usage_events', '', 'staging.product_usage_event'),
  ('product_usage_users', '', 'staging.product_usage_user'),
  ('product_usage_releases', '', 'staging.product_usage_release'),
  ('product_usage_feature_releases', '', 'staging.product_usage_feature_release');

insert into sluice.feed_columns (feed, target_table, column_name, json_pointer)
select 'product_usage_events', 'staging.product_usage_event', c, p
  from (values ('product', '/product'), ('product_version', '/product_version'), ('event_at', '/timestamp'),
               ('group_id', '/group_id'), ('event_id', '/event_id'), ('event_type', '/event_type'),
               ('user_id', '/user_id'), ('project_id', '/project_id'),
               ('has_license', '/event_context/has_license'), ('prev_state', '/event_context/prev_state'),
               ('curr_state', '/event_context/curr_state'),
               ('product_id', '/event_context/additional/product/product_id'),
               ('feature_id', '/event_context/additional/product/feature_id'),
               ('build_id', '/event_context/additional/product/build_id'),
               ('license_type', '/event_context/additional/product/license_type'),
               ('runtime_version_id', '/event_context/additional/product/runtime_version_id'),
               ('country', '/event_context/additional/user/country'),
               ('timezone', '/event_context/additional/user/timezone'),
               ('os', '/event_context/additional/user/OS')) as m(c, p);

insert into sluice.feed_columns (feed, target_table, column_name, csv_header) values
  ('product_usage_users', 'staging.product_usage_user', 'user_id', 'user_id'),
  ('product_usage_users', 'staging.product_usage_user', 'sign_in_date', 'sign_in_date'),
  ('product_usage_users', 'staging.product_usage_user', 'user_login', 'user_login'),
  ('product_usage_releases', 'staging.product_usage_release', 'release_id', 'release_id'),
  ('product_usage_releases', 'staging.product_usage_release', 'product_id', 'product_id'),
  ('product_usage_releases', 'staging.product_usage_release', 'release_date', 'release_date'),
  ('product_usage_feature_releases', 'staging.product_usage_feature_release', 'feature_release_id', 'feature_release_id'),
  ('product_usage_feature_releases', 'staging.product_usage_feature_release', 'product_id', 'product_id'),
  ('product_usage_feature_releases', 'staging.product_usage_feature_release', 'feature_id', 'feature_id'),
  ('product_usage_feature_releases', 'staging.product_usage_feature_release', 'release_date', 'release_date');
