-- Helpers shared by the SQL tests (included with \ir; not a test itself).

-- Run every enabled job the way the daemon's scheduler does: the command with
-- $1 = the job's watermark and $2 = the current snapshot's xmin, then store $2.
create function pg_temp.run_jobs() returns void
  language plpgsql
as $$
declare
  job  record;
  upto xid8 := pg_snapshot_xmin(pg_current_snapshot());
begin
  for job in select name, command, watermark from sluice.jobs where enabled order by name loop
    execute job.command using job.watermark, upto;
    update sluice.jobs set watermark = upto, last_run_at = now(), last_error = null
     where name = job.name;
  end loop;
end
$$;

-- Fail, showing both differences, unless the two queries return the same rows
-- (as multisets).
create function pg_temp.assert_same(label text, actual text, expected text) returns void
  language plpgsql
as $$
declare
  missing    text;
  unexpected text;
begin
  execute format('select string_agg(x::text, E''\n    '' order by x::text) from ((%s) except all (%s)) x',
                 expected, actual) into missing;
  execute format('select string_agg(x::text, E''\n    '' order by x::text) from ((%s) except all (%s)) x',
                 actual, expected) into unexpected;
  if missing is not null or unexpected is not null then
    raise exception E'%: rows differ\n  expected, missing:\n    %\n  present, not expected:\n    %',
      label, coalesce(missing, '(none)'), coalesce(unexpected, '(none)');
  end if;
end
$$;

-- Fails the test with `label` unless `condition` is true.
create function pg_temp.assert_true(label text, condition boolean) returns void
  language plpgsql
as $$
begin
  if condition is not true then
    raise exception '%: not true', label;
  end if;
end
$$;
