-- Issue 15: reports within a second. A job names the tables it reads
-- (inputs); the daemon runs it right after a commit that wrote one of them,
-- and on its timer (every) for what time alone changes. last_seconds and
-- last_started_at tell an operator how long it takes (sluice status).
alter table sluice.jobs
  add column inputs text[] not null default '{}',
  add column last_started_at timestamptz,
  add column last_seconds double precision;
comment on column sluice.jobs.inputs is 'Tables ("schema.name") whose new rows are this job''s input: the daemon runs the job right after a commit that wrote one of them (bursts coalesce into one run), besides its timer. Empty: the timer alone.';
comment on column sluice.jobs.every is 'How often the daemon runs it when no commit to its inputs woke it (for what time alone changes); `sluice run --once` runs every enabled job once after loading.';
comment on column sluice.jobs.last_started_at is 'When the last successful run began.';
comment on column sluice.jobs.last_seconds is 'How long the last successful run took, in seconds (its transaction, lock to commit).';
