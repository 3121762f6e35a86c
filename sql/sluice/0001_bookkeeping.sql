-- sluice's own bookkeeping: the file ledger, rejects, feed declarations and
-- scheduled jobs. Migration runner: warehouse/src/migrate.cpp; every file in
-- sql/ named NNNN_name.sql is applied once, in NNNN order, in its own
-- transaction, and recorded in sluice.migrations.

create schema if not exists sluice;
comment on schema sluice is 'sluice bookkeeping: which files were loaded how far (files), what was rejected and why (rejects), feed and job declarations.';
create schema if not exists staging;
comment on schema staging is 'Rows exactly as loaded by sluice, typed; one table per record kind. Every row carries _file_id and _record (its provenance).';
create schema if not exists core;
comment on schema core is 'Dimensions and facts derived from staging by set-based triggers.';
create schema if not exists reports;
comment on schema reports is 'Report tables kept current by triggers and scheduled jobs; query these directly.';

create table sluice.migrations (
  version    int primary key,
  name       text not null,
  checksum   text not null,
  applied_at timestamptz not null default now()
);
comment on table sluice.migrations is 'One row per SQL migration applied by `sluice migrate`.';
comment on column sluice.migrations.version is 'The NNNN prefix of the migration file name.';
comment on column sluice.migrations.name is 'Path of the migration under sql/, e.g. hubdoc/0101_staging.sql.';
comment on column sluice.migrations.checksum is 'Hash of the file as applied; a changed file is refused on the next migrate.';
comment on column sluice.migrations.applied_at is 'When it was applied.';

-- A feed says which files it takes, how they are framed, and where each record goes.
create table sluice.feeds (
  name          text primary key,
  file_globs    text[] not null,
  format        text not null default 'auto' check (format in ('auto', 'ndjson', 'json')),
  route_pointer text,
  enabled       boolean not null default true,
  description   text
);
comment on table sluice.feeds is 'Feed declarations read by the loader at start-up: adding a feed is SQL only. See README "Adding a feed".';
comment on column sluice.feeds.name is 'Feed name, used in logs and rejects.';
comment on column sluice.feeds.file_globs is 'Globs (fnmatch, * also matches /) on the path relative to the inbox, e.g. {hubdoc/*.log}.';
comment on column sluice.feeds.format is 'ndjson: one record per line; json: pretty-printed document(s) or a top-level array of records; auto: json when the first line is a lone { or [, else ndjson.';
comment on column sluice.feeds.route_pointer is 'JSON pointer whose string value picks the target table in sluice.feed_targets; NULL when every record goes to the one target.';
comment on column sluice.feeds.enabled is 'Disabled feeds take no files.';
comment on column sluice.feeds.description is 'Free text for people.';

create table sluice.feed_targets (
  feed         text not null references sluice.feeds on delete cascade,
  route_value  text not null default '',
  target_table text not null,
  primary key (feed, route_value)
);
comment on table sluice.feed_targets is 'Where records go: the route value (value at feeds.route_pointer; empty when the feed has no route) names the staging table.';
comment on column sluice.feed_targets.feed is 'The feed.';
comment on column sluice.feed_targets.route_value is 'Value of the route pointer that selects this target; '''' for feeds without a route pointer.';
comment on column sluice.feed_targets.target_table is 'Schema-qualified staging table; its column types and NOT NULLs are the contract records are validated against.';

create table sluice.feed_columns (
  feed         text not null,
  target_table text not null,
  column_name  text not null,
  json_pointer text not null,
  primary key (feed, target_table, column_name),
  foreign key (feed) references sluice.feeds on delete cascade
);
comment on table sluice.feed_columns is 'Which JSON pointer fills which staging column. Columns without a mapping (other than _file_id, _record) get their default.';
comment on column sluice.feed_columns.feed is 'The feed.';
comment on column sluice.feed_columns.target_table is 'Schema-qualified staging table, as in feed_targets.';
comment on column sluice.feed_columns.column_name is 'Column of the staging table.';
comment on column sluice.feed_columns.json_pointer is 'RFC 6901 pointer into the record, e.g. /details/change_date.';

-- The ledger. One row per distinct file content seen; its offset advances in
-- the same transaction as the rows it covers (exactly once).
create table sluice.files (
  id             bigserial primary key,
  feed           text not null,
  path           text not null,
  state          text not null default 'loading'
                   check (state in ('loading', 'loaded', 'duplicate', 'replaced')),
  duplicate_of   bigint references sluice.files,
  head_hash      text not null,
  bytes_done     bigint not null default 0,
  done_hash      text not null,
  records_done   bigint not null default 0,
  lines_done     bigint not null default 0,
  rows_loaded    bigint not null default 0,
  rows_rejected  bigint not null default 0,
  first_seen_at  timestamptz not null default now(),
  updated_at     timestamptz not null default now()
);
create index files_path on sluice.files (path) where state in ('loading', 'loaded', 'duplicate');
create index files_head on sluice.files (head_hash) where state in ('loading', 'loaded');
comment on table sluice.files is 'The ledger: every input file sluice has seen, how far it is loaded, and its counts. rows_loaded + rows_rejected = records_done.';
comment on column sluice.files.id is 'File id; staging rows carry it as _file_id, rejects as file_id.';
comment on column sluice.files.feed is 'Feed that took the file.';
comment on column sluice.files.path is 'Path relative to the inbox where the file was last seen.';
comment on column sluice.files.state is 'loading: being read, or waiting for more (a line without its newline waits in the daemon); loaded: read to its end once it had settled (it is loaded again from bytes_done if it grows); duplicate: same content as duplicate_of, nothing loaded from it; replaced: the path now holds other content, loaded as a new row.';
comment on column sluice.files.duplicate_of is 'For duplicates: the file whose content this one repeats.';
comment on column sluice.files.head_hash is 'XXH3-128 of the first line (at most 4 KiB): finds the same content under another name.';
comment on column sluice.files.bytes_done is 'Bytes of the file consumed by committed batches (always ends at a record boundary).';
comment on column sluice.files.done_hash is 'XXH3-128 of bytes [0, bytes_done): proves on restart that the file is the one the ledger describes.';
comment on column sluice.files.records_done is 'Records consumed so far (the next record is records_done + 1).';
comment on column sluice.files.lines_done is 'Newlines consumed so far (for line numbers of later records).';
comment on column sluice.files.rows_loaded is 'Records that became staging rows.';
comment on column sluice.files.rows_rejected is 'Records that became rows of sluice.rejects.';
comment on column sluice.files.first_seen_at is 'When sluice first saw the file.';
comment on column sluice.files.updated_at is 'When its last batch committed.';

create table sluice.rejects (
  id          bigserial primary key,
  file_id     bigint not null references sluice.files,
  feed        text not null,
  record      bigint not null,
  line        bigint not null,
  byte_offset bigint not null,
  field       text,
  reason      text not null,
  raw         text not null,
  raw_bytes   bytea,
  raw_truncated boolean not null default false,
  rejected_at timestamptz not null default now()
);
create index rejects_file on sluice.rejects (file_id, record);
comment on table sluice.rejects is 'Every record that could not be loaded, with why and where. Fix the input and drop it again under a new name, or load the raw text by hand.';
comment on column sluice.rejects.id is 'Reject id.';
comment on column sluice.rejects.file_id is 'The file (sluice.files.id).';
comment on column sluice.rejects.feed is 'The feed that read it.';
comment on column sluice.rejects.record is '1-based ordinal of the record in its file (same numbering as staging._record).';
comment on column sluice.rejects.line is '1-based line of the file where the record starts.';
comment on column sluice.rejects.byte_offset is '0-based byte offset in the file where the record starts.';
comment on column sluice.rejects.field is 'JSON pointer of the offending field, when one field is at fault.';
comment on column sluice.rejects.reason is 'What is wrong, in words a person can act on.';
comment on column sluice.rejects.raw is 'The record as it was in the file (invalid UTF-8 and NUL shown as U+FFFD; exact bytes in raw_bytes).';
comment on column sluice.rejects.raw_bytes is 'Exact bytes of the record when raw could not hold them (invalid UTF-8 or NUL); NULL otherwise.';
comment on column sluice.rejects.raw_truncated is 'True when the record was longer than 1 MiB and raw keeps only its first 1 MiB.';
comment on column sluice.rejects.rejected_at is 'When it was rejected.';

-- Scheduled SQL run by the daemon's scheduler under an advisory lock.
create table sluice.jobs (
  name        text primary key,
  command     text not null,
  every       interval not null default '10 seconds',
  enabled     boolean not null default true,
  watermark   xid8 not null default '0',
  last_run_at timestamptz,
  last_error  text,
  description text
);
comment on table sluice.jobs is 'Scheduled SQL. The scheduler runs command with $1 = watermark (xid8: every transaction below it was seen by the previous run) and $2 = the new watermark (pg_snapshot_xmin of the current snapshot), then stores $2, all in one transaction under an advisory lock.';
comment on column sluice.jobs.name is 'Job name.';
comment on column sluice.jobs.command is 'One SQL statement taking $1 and $2 (both xid8), usually a procedure or function call.';
comment on column sluice.jobs.every is 'How often the daemon runs it; `sluice run --once` runs every enabled job once after loading.';
comment on column sluice.jobs.enabled is 'Disabled jobs are not run.';
comment on column sluice.jobs.watermark is 'Transactions below this xid8 have been processed by the job.';
comment on column sluice.jobs.last_run_at is 'When the last successful run committed.';
comment on column sluice.jobs.last_error is 'Error of the last failed run, NULL after a success.';
comment on column sluice.jobs.description is 'Free text for people.';
