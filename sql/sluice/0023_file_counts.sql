-- Files by feed and state, counted as the ledger changes: sluice.status()
-- (every `sluice status`, /metrics scrape and status page refresh) counted
-- them with a scan of sluice.files, 2.8 s per call at a million files (one
-- JSON event per file fills a ledger fast), and looked for each feed's files
-- still loading with another scan each.
--
-- Triggers on sluice.files write what a row's insert, delete or change of
-- state changed into sluice.file_count_changes, insert-only: two loaders
-- committing at once take no lock on a shared counter. Now and then (one
-- change in 500, and then one transaction at a time) the changes are folded
-- into sluice.file_counts. The count is the sum of both.

create table sluice.file_counts (
  feed       text not null,
  state      text not null,
  incomplete boolean not null,
  files      bigint not null,
  primary key (feed, state, incomplete)
);
comment on table sluice.file_counts is 'Files of sluice.files by feed and state, as of the last fold of sluice.file_count_changes; the count now is the sum of both (sluice.status() adds them). Kept by the trigger count_files on sluice.files.';
comment on column sluice.file_counts.feed is 'The feed (sluice.files.feed).';
comment on column sluice.file_counts.state is 'The ledger state (sluice.files.state).';
comment on column sluice.file_counts.incomplete is 'Whether the files have a reason (loaded: not loaded completely).';
comment on column sluice.file_counts.files is 'How many.';

create table sluice.file_count_changes (
  feed       text not null,
  state      text not null,
  incomplete boolean not null,
  files      bigint not null
);
comment on table sluice.file_count_changes is 'What changes of sluice.files did to sluice.file_counts since its last fold: files added (positive) or taken away (negative) per feed and state. Insert-only but for the fold.';
comment on column sluice.file_count_changes.feed is 'The feed.';
comment on column sluice.file_count_changes.state is 'The ledger state.';
comment on column sluice.file_count_changes.incomplete is 'Whether the files have a reason.';
comment on column sluice.file_count_changes.files is 'Files added to (positive) or taken from (negative) that count.';

-- Folds the changes into the counts; one transaction at a time (another that
-- would fold meanwhile leaves it to the next). Changes a transaction still
-- writes are not seen, and stay for the next fold. Only under READ
-- COMMITTED: a snapshot older than the last fold's commit would find its
-- rows deleted already, and a serialization error would fail the statement
-- on sluice.files that called it.
create function sluice.fold_file_counts() returns void language plpgsql as $$
begin
  if current_setting('transaction_isolation') <> 'read committed'
     or not pg_try_advisory_xact_lock(hashtextextended('sluice.fold_file_counts', 0)) then
    return;
  end if;
  with folded as (delete from sluice.file_count_changes returning *)
  insert into sluice.file_counts as c (feed, state, incomplete, files)
  select feed, state, incomplete, sum(files) from folded group by feed, state, incomplete
  on conflict (feed, state, incomplete) do update set files = c.files + excluded.files;
  delete from sluice.file_counts where files = 0;
end
$$;
comment on function sluice.fold_file_counts() is 'Folds sluice.file_count_changes into sluice.file_counts (one transaction at a time, under READ COMMITTED only; returns at once otherwise). The trigger count_files calls it now and then.';

-- Row triggers, with the update's condition in the trigger's WHEN (checked
-- without calling the function): most updates of the ledger move bytes_done
-- only. Measured over 20,000 files (an insert, an update of bytes_done and
-- one of state each, as the loader makes them): statement triggers with
-- transition tables added 1.2 s to 1.5 s; these add 0.35 s to 0.8 s.
create function sluice.count_files() returns trigger language plpgsql as $$
begin
  if tg_op = 'UPDATE' then
    insert into sluice.file_count_changes (feed, state, incomplete, files)
    values (old.feed, old.state, old.reason is not null, -1), (new.feed, new.state, new.reason is not null, 1);
  elsif tg_op = 'INSERT' then
    insert into sluice.file_count_changes (feed, state, incomplete, files)
    values (new.feed, new.state, new.reason is not null, 1);
  else
    insert into sluice.file_count_changes (feed, state, incomplete, files)
    values (old.feed, old.state, old.reason is not null, -1);
  end if;
  if random() < 0.002 then
    perform sluice.fold_file_counts();
  end if;
  return null;
end
$$;
comment on function sluice.count_files() is 'Row trigger of sluice.files: writes what an insert, a delete or an update of feed, state or reason changed in the counts by feed and state into sluice.file_count_changes, and now and then folds them (sluice.fold_file_counts).';

create trigger count_files_inserted after insert on sluice.files
  for each row execute function sluice.count_files();
create trigger count_files_updated after update of feed, state, reason on sluice.files
  for each row when (old.feed is distinct from new.feed or old.state is distinct from new.state
                     or (old.reason is null) is distinct from (new.reason is null))
  execute function sluice.count_files();
create trigger count_files_deleted after delete on sluice.files
  for each row execute function sluice.count_files();

create function sluice.count_files_truncated() returns trigger language plpgsql as $$
begin
  truncate sluice.file_counts, sluice.file_count_changes;
  return null;
end
$$;
comment on function sluice.count_files_truncated() is 'Statement trigger of sluice.files: a truncate of the ledger empties its counts.';
create trigger count_files_truncated after truncate on sluice.files
  for each statement execute function sluice.count_files_truncated();

insert into sluice.file_counts (feed, state, incomplete, files)
select feed, state, reason is not null, count(*) from sluice.files group by 1, 2, 3;

-- The files still loading, per feed, oldest first: status's "oldest loading"
-- and "loading by" (a scan of the whole ledger per feed before). Only for
-- queries that say `path <> ''` (no path is empty): with its predicate on state
-- alone, the planner took this index for the loader's own lookups of files
-- loading (file_ledger.cpp: by content, by prefix), and walked every file
-- loading: 90 ms to 170 ms a lookup while 20,000 files loaded at once, the
-- load of one-event files 2.3x slower.
create index files_loading on sluice.files (feed, first_seen_at, id) where state = 'loading' and path <> '';

create or replace function sluice.status() returns jsonb
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
    -- Counted by sluice.count_files, not by a scan of sluice.files (2.8 s
    -- for this whole function at a million files, 0.8 s of it the count).
    select c.feed,
           sum(c.files) filter (where c.state = 'loading') as loading,
           sum(c.files) filter (where c.state = 'loaded' and not c.incomplete) as loaded,
           sum(c.files) filter (where c.state = 'loaded' and c.incomplete) as incomplete,
           sum(c.files) filter (where c.state = 'duplicate') as duplicate,
           sum(c.files) filter (where c.state = 'refused') as refused,
           sum(c.files) filter (where c.state = 'gone') as gone
      from (select feed, state, incomplete, files from sluice.file_counts
            union all
            select feed, state, incomplete, files from sluice.file_count_changes) c
     group by c.feed
    having sum(c.files) <> 0
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
                                  from sluice.files o where o.feed = coalesce(d.name, ff.feed) and o.state = 'loading' and o.path <> ''
                                 order by o.first_seen_at, o.id limit 1),
             'loading_by', (select jsonb_agg(distinct c.daemon) from claims c join sluice.files o
                              on c.k1 = 1936487750 and c.objsubid = 2 and c.k2 = o.id % 2147483647
                             where o.feed = coalesce(d.name, ff.feed) and o.state = 'loading' and o.path <> ''),
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
comment on function sluice.status() is 'Everything `sluice status` shows, as one JSON document: feeds (files by state, rows and rejects in the last hour, the oldest file still loading and which daemon holds it, why a feed is skipped), sources (state, lag in bytes and seconds, last commit, last error, which daemon streams it), jobs (last run, duration, error) and daemons (pid@host, queue, files being loaded with progress). No connection string. Files are counted by sluice.count_files.';
