-- Product usage pack, core: which rows count (views over staging).
--
-- Events: the newest export of each day replaces the day entirely. The
-- exports of a day are the event feed's files whose name holds that
-- YYYYMMDD; the newest is the one sluice met last (the highest
-- sluice.files.id: a day renamed over, or rewritten in place, is a new file
-- there). An export that sluice found to be a byte-for-byte duplicate of an
-- earlier one (say a correction undone) counts with that one's rows. Until
-- the newest export of a day has loaded whole, the day holds what of it has.
--
-- Dictionaries: a row of a later file (higher sluice.files.id, then later row)
-- replaces the row with the same key.

create view core.product_usage_export as
  select distinct on (x.day) x.day, coalesce(x.duplicate_of, x.id) as file_id, x.id as export_file_id, x.path
    from (select f.id, f.duplicate_of, f.path,
                 to_date(substring(f.path from '(\d{8})_events'), 'YYYYMMDD') as day
            from sluice.files f
           where f.feed = 'product_usage_events' and f.state <> 'refused') x
   where x.day is not null
   order by x.day, x.id desc;
comment on view core.product_usage_export is 'The export of each day that counts: the newest (highest sluice.files.id) event file whose name holds the day; a duplicate counts with the rows of the file it duplicates.';
comment on column core.product_usage_export.day is 'The day (YYYYMMDD in the file''s name).';
comment on column core.product_usage_export.file_id is 'The file whose rows are the day''s events (staging.product_usage_event._file_id).';
comment on column core.product_usage_export.export_file_id is 'The newest export of the day (sluice.files.id); differs from file_id when it duplicates an earlier export.';
comment on column core.product_usage_export.path is 'Its path under the inbox.';

create view core.product_usage_event as
  select e.product, e.product_version, e.event_at, e.group_id, e.event_id, e.event_type, e.user_id, e.project_id,
         e.has_license, e.prev_state, e.curr_state, e.product_id, e.feature_id, e.build_id, e.license_type,
         e.runtime_version_id, e.country, e.timezone, e.os, x.day as export_day
    from staging.product_usage_event e
    join core.product_usage_export x on x.file_id = e._file_id;
comment on view core.product_usage_event is 'The events that count: those of the newest export of each day (core.product_usage_export). Columns as staging.product_usage_event''s.';
comment on column core.product_usage_event.product is 'The product''s name.';
comment on column core.product_usage_event.product_version is 'The version the event came from.';
comment on column core.product_usage_event.event_at is 'When it happened (UTC).';
comment on column core.product_usage_event.group_id is 'The group of the kind of event.';
comment on column core.product_usage_event.event_id is 'The kind of event (not an occurrence).';
comment on column core.product_usage_event.event_type is 'e.g. change_color, version_upgrade.';
comment on column core.product_usage_event.user_id is 'Who.';
comment on column core.product_usage_event.project_id is 'In which project.';
comment on column core.product_usage_event.has_license is 'Whether the user had a license.';
comment on column core.product_usage_event.prev_state is 'The state before.';
comment on column core.product_usage_event.curr_state is 'The state after (for version_upgrade, the release upgraded to).';
comment on column core.product_usage_event.product_id is 'The product.';
comment on column core.product_usage_event.feature_id is 'The feature used; 0 means none.';
comment on column core.product_usage_event.build_id is 'The build.';
comment on column core.product_usage_event.license_type is 'e.g. Trial.';
comment on column core.product_usage_event.runtime_version_id is 'The runtime version.';
comment on column core.product_usage_event.country is 'The user''s country.';
comment on column core.product_usage_event.timezone is 'The user''s time zone, e.g. GMT+2.';
comment on column core.product_usage_event.os is 'The user''s operating system.';
comment on column core.product_usage_event.export_day is 'The day of the export it came from.';

create view core.product_usage_user as
  select distinct on (u.user_id) u.user_id, u.sign_in_date, u.user_login
    from staging.product_usage_user u
   order by u.user_id, u._file_id desc, u._record desc;
comment on view core.product_usage_user is 'Each user as the latest users dictionary row says.';
comment on column core.product_usage_user.user_id is 'The user.';
comment on column core.product_usage_user.sign_in_date is 'The day the user first signed in.';
comment on column core.product_usage_user.user_login is 'The login.';

create view core.product_usage_release as
  select distinct on (r.release_id, r.product_id) r.release_id, r.product_id, r.release_date
    from staging.product_usage_release r
   order by r.release_id, r.product_id, r._file_id desc, r._record desc;
comment on view core.product_usage_release is 'Each release of each product (release names repeat across products) as the latest releases dictionary row says.';
comment on column core.product_usage_release.release_id is 'The release''s name, e.g. 2022.1.';
comment on column core.product_usage_release.product_id is 'The product.';
comment on column core.product_usage_release.release_date is 'When it was released.';

create view core.product_usage_feature_release as
  select distinct on (f.feature_release_id) f.feature_release_id, f.product_id, f.feature_id, f.release_date
    from staging.product_usage_feature_release f
   order by f.feature_release_id, f._file_id desc, f._record desc;
comment on view core.product_usage_feature_release is 'Each feature release as the latest feature releases dictionary row says.';
comment on column core.product_usage_feature_release.feature_release_id is 'The key.';
comment on column core.product_usage_feature_release.product_id is 'The product.';
comment on column core.product_usage_feature_release.feature_id is 'The feature.';
comment on column core.product_usage_feature_release.release_date is 'When the feature was released.';
