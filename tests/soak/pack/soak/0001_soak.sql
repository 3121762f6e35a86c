-- The soak's own pack (tests/soak/, scripts/soak.sh): one NDJSON feed for the
-- soak's event logs, plain and gzip, as services and loggers write them
-- (files written in place, growing logs, every logrotate style). Every record
-- carries the id the harness gave it (rid), so that the oracle can find each
-- one in staging or in sluice.rejects. No reports: the soak checks the
-- reports of the built-in packs it also installs (pleo, sales).
--
-- The glob takes *.log but not *.log.1 or *.log-20261205: rotated copies are
-- named both inside (app-20261205.log, app.1.log) and outside the glob.

create table staging.soak_event (
  _file_id bigint not null,
  _record  bigint not null,
  rid      bigint not null,
  writer   text not null,
  at       timestamptz not null,
  body     text
);
comment on table staging.soak_event is 'Soak events as loaded: one row per NDJSON record the soak harness wrote.';
comment on column staging.soak_event._file_id is 'File the row came from (sluice.files.id).';
comment on column staging.soak_event._record is '1-based ordinal of the record in its file.';
comment on column staging.soak_event.rid is 'The id the harness gave the record (unique over a soak run).';
comment on column staging.soak_event.writer is 'Which writer of the harness wrote it.';
comment on column staging.soak_event.at is 'When the harness wrote it.';
comment on column staging.soak_event.body is 'Filler text.';

insert into sluice.feeds (name, file_globs, format, description)
values ('soak_log', '{soak/logs/*.log,soak/logs/*.log.gz,soak/logs/*.ndjson,soak/logs/*.ndjson.gz}', 'ndjson',
        'Soak harness: NDJSON event logs and files, plain or gzip.');
insert into sluice.feed_targets (feed, target_table) values ('soak_log', 'staging.soak_event');
insert into sluice.feed_columns (feed, target_table, column_name, json_pointer) values
  ('soak_log', 'staging.soak_event', 'rid',    '/rid'),
  ('soak_log', 'staging.soak_event', 'writer', '/writer'),
  ('soak_log', 'staging.soak_event', 'at',     '/at'),
  ('soak_log', 'staging.soak_event', 'body',   '/body');
