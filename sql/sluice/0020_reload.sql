-- Issue 15: `sluice reload` loads a file again (a feed fixed since, a bad
-- export). The file gets a new ledger row (reload_of: the old one), loaded
-- from byte 0 like any new file. In the transaction of its first batch, a
-- trigger on sluice.files removes the old row's staging rows and rejects,
-- marks the old row reloaded and runs the rebuild of every pack that reads
-- those tables (sluice.rebuilds): readers never see the file twice, nor
-- missing, and the packs' tables equal their full recomputation. A file
-- longer than one batch is then loaded on like any file (its later batches
-- reach the packs the usual way).

alter table sluice.files drop constraint files_state_check;
alter table sluice.files add constraint files_state_check
  check (state in ('loading', 'loaded', 'duplicate', 'replaced', 'refused', 'gone', 'reloaded'));
comment on column sluice.files.state is 'loading: being read, or waiting for more (a line without its newline waits in the daemon); loaded: read to its end once it had settled (it is loaded again from bytes_done if it grows); duplicate: same content as duplicate_of, nothing loaded from it; replaced: the path now holds other content, loaded as a new row; refused: never read (reason says why); gone: its file disappeared before it was loaded; reloaded: `sluice reload` loaded its file again as the row whose reload_of is this one, and its rows and rejects are gone.';

alter table sluice.files add column reload_of bigint references sluice.files;
create unique index files_reload_of on sluice.files (reload_of)
  where reload_of is not null and state in ('loading', 'loaded');
comment on column sluice.files.reload_of is 'For a file loaded again by `sluice reload`: the row it replaces (state reloaded once this row''s first batch committed).';

create table sluice.rebuilds (
  name    text primary key,
  pack    text not null,
  inputs  text[] not null,
  command text not null
);
comment on table sluice.rebuilds is 'How a pack recomputes, from staging alone, what it derives from some staging tables: run after rows of those tables were removed (`sluice reload`), where the packs'' incremental paths only add. Inserted by the packs'' migrations.';
comment on column sluice.rebuilds.name is 'Name, for logs.';
comment on column sluice.rebuilds.pack is 'The pack it belongs to.';
comment on column sluice.rebuilds.inputs is 'The staging tables it reads, "schema.name": it runs when rows of one of them are removed.';
comment on column sluice.rebuilds.command is 'The SQL to run (e.g. select core.pleo_rebuild()), in the transaction that removed the rows.';

create function sluice.file_tables() returns text[]
  language sql stable
as $$
  select coalesce(array_agg(distinct c.oid::regclass::text order by c.oid::regclass::text), '{}')
    from pg_class c
   where c.relnamespace = 'staging'::regnamespace and c.relkind in ('r', 'p')
     and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = '_file_id'
                                                and not a.attisdropped)
$$;
comment on function sluice.file_tables() is 'The staging tables a file''s rows can be in: every table of staging with a _file_id column (also one the feed no longer targets since its declaration was fixed).';

create function sluice.feed_tables(file_id bigint) returns text[]
  language sql stable
as $$
  select coalesce(array_agg(distinct t.target_table), '{}')
    from sluice.files f join sluice.feed_targets t on t.feed = f.feed
   where f.id = file_id
$$;
comment on function sluice.feed_tables(bigint) is 'The staging tables the file''s feed loads into now (its declaration''s targets).';

-- What `sluice reload --dry-run` prints: the rows and rejects that would go,
-- and the rebuilds that would run.
create function sluice.reload_plan(file_id bigint) returns table (kind text, name text, count bigint)
  language plpgsql stable
as $$
declare
  t text;
  n bigint;
  touched text[] := '{}';
begin
  foreach t in array sluice.file_tables() loop
    execute format('select count(*) from %s where _file_id = $1', t::regclass) into n using file_id;
    if n > 0 then
      touched := touched || t;
      return query select 'rows'::text, t, n;
    end if;
  end loop;
  return query select 'rejects'::text, 'sluice.rejects'::text, count(*) from sluice.rejects r where r.file_id = reload_plan.file_id;
  return query select 'rebuild'::text, b.name || ': ' || b.command, null::bigint
                 from sluice.rebuilds b where b.inputs && (touched || sluice.feed_tables(file_id)) order by b.name;
end
$$;
comment on function sluice.reload_plan(bigint) is 'What reloading the file would remove (rows per staging table, rejects) and which rebuilds would run; changes nothing.';

-- Run in the transaction of the reloading row's first batch: removes what the
-- old row loaded and lets the packs recompute. Returns the rebuilds it ran.
create function sluice.finish_reload(old_id bigint, new_id bigint) returns text[]
  language plpgsql
as $$
declare
  old_row sluice.files;
  n bigint;
  t text;
  targets text[];
  ran text[] := '{}';
  r record;
begin
  select * into old_row from sluice.files where id = old_id for update;
  if old_row.state = 'reloaded' then return ran; end if;
  targets := sluice.feed_tables(old_id);
  foreach t in array sluice.file_tables() loop
    execute format('delete from %s where _file_id = $1', t::regclass) using old_id;
    get diagnostics n = row_count;
    if n > 0 then targets := targets || t; end if;
  end loop;
  delete from sluice.rejects where file_id = old_id;
  update sluice.files
     set state = 'reloaded', reason = format('loaded again as file %s (sluice reload)', new_id), updated_at = now()
   where id = old_id;
  for r in select name, command from sluice.rebuilds where inputs && targets order by name loop
    execute r.command;
    ran := ran || r.name;
  end loop;
  return ran;
end
$$;
comment on function sluice.finish_reload(bigint, bigint) is 'The end of `sluice reload`: deletes the old file row''s staging rows (from every staging table with a _file_id) and rejects, marks it reloaded, and runs the rebuilds (sluice.rebuilds) that read the tables it had rows in or its feed loads into. Called by the trigger reload_on_first_batch.';

create function sluice.reload_on_first_batch() returns trigger
  language plpgsql
as $$
begin
  perform sluice.finish_reload(new.reload_of, new.id);
  return new;
end
$$;
comment on function sluice.reload_on_first_batch() is 'Trigger of sluice.files: when a row that reloads another commits its first batch (its offset leaves 0, or an empty file is found complete), finish_reload runs in that batch''s transaction. A reloading row retired before (its file gone or rewritten) leaves the old row as it was.';

create trigger reload_on_first_batch
  before update of bytes_done, state on sluice.files
  for each row
  when (new.reload_of is not null and old.bytes_done = 0 and old.state = 'loading'
        and (new.bytes_done > 0 or new.state = 'loaded'))
  execute function sluice.reload_on_first_batch();
