-- Issue 15: what `sluice status`, the daemon's /status.json and a person
-- with psql see. sluice.status() gathers it in one query: per feed, per
-- source, per job, per daemon (with the claims each holds and the files it
-- is loading). It never shows a connection string.

-- Rows and rejects by feed and minute, written in each batch's transaction
-- (so a rolled-back batch leaves none): the "last hour" figures.
create table sluice.load_log (
  at      timestamptz not null default now(),
  feed    text not null,
  rows    bigint not null,
  rejects bigint not null
);
create index load_log_at on sluice.load_log using brin (at);
comment on table sluice.load_log is 'What each committed batch loaded, per feed: rows into staging and rejects. Insert-only, kept two days (the daemon prunes it). For a replication source the feed is its change log, staging.S_T.';
comment on column sluice.load_log.at is 'When the batch''s transaction began.';
comment on column sluice.load_log.feed is 'The feed (a replication source: its change log staging.S_T).';
comment on column sluice.load_log.rows is 'Records that became staging rows.';
comment on column sluice.load_log.rejects is 'Records that became rows of sluice.rejects (those the server refused included).';

alter table sluice.sources
  add column applied_commit_at timestamptz,
  add column wal_end pg_lsn,
  add column wal_end_at timestamptz,
  add column lag_seconds double precision;
comment on column sluice.sources.applied_commit_at is 'Commit time, on the source, of the last source transaction applied whole (applied_lsn).';
comment on column sluice.sources.wal_end is 'The source''s WAL end as its walsender last told the daemon; lag in bytes is wal_end - applied_end_lsn.';
comment on column sluice.sources.wal_end_at is 'When the daemon recorded wal_end and lag_seconds (every few seconds while it streams).';
comment on column sluice.sources.lag_seconds is 'How old, at wal_end_at, the oldest source transaction was that the daemon had received and the warehouse had not committed yet; 0 when it had none.';

-- Daemons that run (or ran) on this warehouse, each row kept current by its
-- daemon every 2 s and deleted when it stops.
create table sluice.daemons (
  host             text not null,
  pid              integer not null,
  started_at       timestamptz not null default now(),
  seen_at          timestamptz not null default now(),
  queued           integer not null default 0,
  oldest_queued_at timestamptz,
  loading          jsonb not null default '[]',
  skipped_feeds    jsonb not null default '[]',
  primary key (host, pid)
);
comment on table sluice.daemons is 'The `sluice run` daemons using this warehouse: each updates its row every 2 s and deletes it when it stops; a row not seen for 10 s is a daemon that died. Their connections are named "sluice PID@HOST" (pg_stat_activity.application_name).';
comment on column sluice.daemons.host is 'Host name the daemon runs on.';
comment on column sluice.daemons.pid is 'Its process id there.';
comment on column sluice.daemons.started_at is 'When it started.';
comment on column sluice.daemons.seen_at is 'Its last report.';
comment on column sluice.daemons.queued is 'Inbox paths waiting for its loader.';
comment on column sluice.daemons.oldest_queued_at is 'Since when the longest-waiting of them waits (NULL: none).';
comment on column sluice.daemons.loading is 'Files it is reading now: [{"file_id", "feed", "path", "bytes_done", "bytes", "percent", "rows_per_second", "eta_seconds"}].';
comment on column sluice.daemons.skipped_feeds is 'Feeds whose declaration it cannot use, and why: [{"feed", "reason"}]. None of their files is loaded.';

-- "PID@HOST" of the daemon a backend belongs to, from its application_name.
create function sluice.daemon_of(application_name text) returns text
  language sql immutable
  as $$ select substring(application_name from '^sluice ([0-9]+@.*)$') $$;
comment on function sluice.daemon_of(text) is 'The daemon ("PID@HOST") a connection named "sluice PID@HOST" belongs to, else NULL.';

create function sluice.status() returns jsonb
  language sql stable
  as $$
  with claims as (
    -- Advisory locks held: a file's (class 1936487750, id) or a source's
    -- hashtextextended('sluice.source:' || name, 0).
    select sluice.daemon_of(a.application_name) as daemon, l.classid::bigint as k1, l.objid::bigint as k2,
           l.objsubid
      from pg_locks l join pg_stat_activity a on a.pid = l.pid
     where l.locktype = 'advisory' and l.granted and l.database = (select oid from pg_database where datname = current_database())
  ),
  feed_files as (
    select f.feed,
           count(*) filter (where f.state = 'loading') as loading,
           count(*) filter (where f.state = 'loaded' and f.reason is null) as loaded,
           count(*) filter (where f.state = 'loaded' and f.reason is not null) as incomplete,
           count(*) filter (where f.state = 'duplicate') as duplicate,
           count(*) filter (where f.state = 'refused') as refused,
           count(*) filter (where f.state = 'gone') as gone,
           min(f.first_seen_at) filter (where f.state = 'loading') as oldest_loading_since
      from sluice.files f group by f.feed
  ),
  feed_hour as (
    select feed, sum(rows)::bigint as rows, sum(rejects)::bigint as rejects
      from sluice.load_log where at > now() - interval '1 hour' group by feed
  ),
  feeds as (
    select coalesce(d.name, ff.feed) as feed,
           jsonb_build_object(
             'feed', coalesce(d.name, ff.feed),
             'files', jsonb_build_object('loading', coalesce(ff.loading, 0), 'loaded', coalesce(ff.loaded, 0),
                                         'not_loaded_completely', coalesce(ff.incomplete, 0),
                                         'duplicate', coalesce(ff.duplicate, 0), 'refused', coalesce(ff.refused, 0),
                                         'gone', coalesce(ff.gone, 0)),
             'rows_last_hour', coalesce(h.rows, 0), 'rejects_last_hour', coalesce(h.rejects, 0),
             'oldest_loading', (select jsonb_build_object('path', o.path, 'since', o.first_seen_at, 'file_id', o.id)
                                  from sluice.files o where o.feed = coalesce(d.name, ff.feed) and o.state = 'loading'
                                 order by o.first_seen_at, o.id limit 1),
             'loading_by', (select jsonb_agg(distinct c.daemon) from claims c join sluice.files o
                              on c.k1 = 1936487750 and c.objsubid = 2 and c.k2 = o.id % 2147483647
                             where o.feed = coalesce(d.name, ff.feed) and o.state = 'loading'),
             'skipped', (select jsonb_agg(distinct s->>'reason') from sluice.daemons dm,
                           jsonb_array_elements(dm.skipped_feeds) s
                          where s->>'feed' = coalesce(d.name, ff.feed) and dm.seen_at > now() - interval '10 seconds')
           ) as doc
      from sluice.feeds d full join feed_files ff on ff.feed = d.name
      left join feed_hour h on h.feed = coalesce(d.name, ff.feed)
  ),
  sources as (
    select s.name,
           jsonb_build_object(
             'source', s.name, 'state', s.state, 'enabled', s.enabled,
             'applied_lsn', s.applied_lsn::text, 'wal_end', s.wal_end::text,
             'lag_bytes', case when s.wal_end is null then null
                               else greatest(s.wal_end - greatest(s.applied_lsn, coalesce(s.applied_end_lsn, s.applied_lsn)), 0)::bigint end,
             'lag_seconds', s.lag_seconds, 'lag_at', s.wal_end_at,
             'last_commit_at', s.applied_commit_at, 'last_error', s.last_error,
             'held_by', (select jsonb_agg(c.daemon) from claims c
                          where c.objsubid = 1
                            and (c.k1 << 32) | c.k2 = hashtextextended('sluice.source:' || s.name, 0))
           ) as doc
      from sluice.sources s
  ),
  jobs as (
    select j.name,
           jsonb_build_object('job', j.name, 'enabled', j.enabled, 'every', j.every::text, 'inputs', to_jsonb(j.inputs),
                              'last_run_at', j.last_run_at, 'last_started_at', j.last_started_at,
                              'last_seconds', j.last_seconds, 'last_error', j.last_error) as doc
      from sluice.jobs j
  ),
  daemons as (
    select dm.host, dm.pid,
           jsonb_build_object('daemon', dm.pid || '@' || dm.host, 'started_at', dm.started_at, 'seen_at', dm.seen_at,
                              'alive', dm.seen_at > now() - interval '10 seconds',
                              'queued', dm.queued, 'oldest_queued_at', dm.oldest_queued_at,
                              'loading', dm.loading, 'skipped_feeds', dm.skipped_feeds,
                              'connections', (select count(*) from pg_stat_activity a
                                               where sluice.daemon_of(a.application_name) = dm.pid || '@' || dm.host)) as doc
      from sluice.daemons dm
  )
  select jsonb_build_object(
    'at', now(),
    'feeds', coalesce((select jsonb_agg(doc order by feed) from feeds), '[]'),
    'sources', coalesce((select jsonb_agg(doc order by name) from sources), '[]'),
    'jobs', coalesce((select jsonb_agg(doc order by name) from jobs), '[]'),
    'daemons', coalesce((select jsonb_agg(doc order by host, pid) from daemons), '[]'))
$$;
comment on function sluice.status() is 'Everything `sluice status` shows, as one JSON document: feeds (files by state, rows and rejects in the last hour, the oldest file still loading and which daemon holds it, why a feed is skipped), sources (state, lag in bytes and seconds, last commit, last error, which daemon streams it), jobs (last run, duration, error) and daemons (pid@host, queue, files being loaded with progress). No connection string.';
