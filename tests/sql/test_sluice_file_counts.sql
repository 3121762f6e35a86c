-- sluice.status() counts files by feed and state from sluice.file_counts and
-- sluice.file_count_changes, kept by the statement triggers on sluice.files
-- (migration 0023), no longer by a scan of the ledger. Here: 300 random
-- statements on the ledger as the loader makes them (inserts of one or many
-- rows, updates that move bytes_done only, updates of state and reason,
-- updates in an upsert, deletes, folds, a rolled-back statement); after each,
-- every feed's counts in status() equal a count of sluice.files. Then a
-- truncate of the ledger empties them.
--
-- Run by tests/sql/run_sql_test.sh in a fresh migrated database.

\set ON_ERROR_STOP 1
\o /dev/null
set client_min_messages = warning;

create function pg_temp.counts_differ() returns text language sql as $$
  with counted as (
    select feed, jsonb_build_object(
             'loading', count(*) filter (where state = 'loading'),
             'loaded', count(*) filter (where state = 'loaded' and reason is null),
             'not_loaded_completely', count(*) filter (where state = 'loaded' and reason is not null),
             'duplicate', count(*) filter (where state = 'duplicate'),
             'refused', count(*) filter (where state = 'refused'),
             'gone', count(*) filter (where state = 'gone')) as files
      from sluice.files group by feed
  ),
  shown as (
    select f->>'feed' as feed, f->'files' as files
      from jsonb_array_elements(sluice.status()->'feeds') f
  )
  select string_agg(coalesce(c.feed, s.feed) || ': counted ' || coalesce(c.files::text, 'nothing')
                    || ', status ' || coalesce(s.files::text, 'nothing'), '; ')
    from counted c full join shown s on s.feed = c.feed
   where c.files is distinct from s.files
     and not (c.files is null and s.files = '{"gone": 0, "loaded": 0, "loading": 0, "refused": 0, "duplicate": 0, "not_loaded_completely": 0}')
$$;

do $$
declare
  states text[] := array['loading', 'loaded', 'duplicate', 'refused', 'gone', 'replaced', 'reloaded'];
  feeds text[] := array['cards', 'users', 'sales'];
  r float8;
  differ text;
  n int := 0;
begin
  perform setseed(0.20261207);
  for step in 1 .. 300 loop
    r := random();
    if r < 0.25 then
      insert into sluice.files (feed, path, state, reason)
      select feeds[1 + floor(random() * 3)::int], 'f' || step || '-' || g, 'loading', null
        from generate_series(1, 1 + floor(random() * 20)::int) g;
    elsif r < 0.40 then
      update sluice.files set bytes_done = bytes_done + 100
       where id in (select id from sluice.files order by random() limit 10);
    elsif r < 0.60 then
      update sluice.files
         set state = states[1 + floor(random() * 7)::int],
             reason = case when random() < 0.3 then 'cut short' end
       where id in (select id from sluice.files order by random() limit 1 + floor(random() * 30)::int);
    elsif r < 0.70 then
      -- the reason alone (a loaded file found not loaded completely, and back)
      update sluice.files set reason = case when reason is null then 'cut short' end
       where id in (select id from sluice.files where state = 'loaded' order by random() limit 1 + floor(random() * 5)::int);
    elsif r < 0.75 then
      update sluice.files set feed = feeds[1 + floor(random() * 3)::int]
       where id in (select id from sluice.files order by random() limit 3);
    elsif r < 0.80 then
      insert into sluice.files (id, feed, path, state)
      select id, feed, path, 'loaded' from sluice.files where id in (select id from sluice.files order by random() limit 3)
      on conflict (id) do update set state = 'refused', reason = 'upserted';
    elsif r < 0.88 then
      delete from sluice.files where id in (select id from sluice.files order by random() limit 2);
    elsif r < 0.95 then
      perform sluice.fold_file_counts();
    else
      begin
        update sluice.files set state = 'gone' where state = 'loading';
        raise exception 'rolled back';
      exception when raise_exception then
        null;
      end;
    end if;
    differ := pg_temp.counts_differ();
    if differ is not null then
      raise exception 'after step % (r = %): %', step, r, differ;
    end if;
    n := n + 1;
  end loop;
  if (select count(*) from sluice.files) < 50 or (select count(distinct state) from sluice.files) < 5 then
    raise exception 'the random statements left too little to count: % files', (select count(*) from sluice.files);
  end if;
  if (select count(*) from sluice.file_counts) = 0 then
    raise exception 'no fold ever ran';
  end if;
end
$$;

truncate sluice.files cascade;
do $$
begin
  if (select count(*) from sluice.file_counts) + (select count(*) from sluice.file_count_changes) <> 0 then
    raise exception 'a truncated ledger left counts';
  end if;
  if pg_temp.counts_differ() is not null then
    raise exception 'after the truncate: %', pg_temp.counts_differ();
  end if;
end
$$;
