-- Issue 15: least privilege. Two roles, made here and granted by
-- sluice.grant_roles(), which `sluice migrate` calls after every migrate (so
-- that the tables of packs migrated later are covered too):
--   sluice_loader  what the daemon needs: write staging, core, reports and
--                  sluice's ledgers, run the jobs, and make the change logs
--                  and mirrors of replicated tables (it owns those).
--   sluice_reader  what a BI user needs: read core and reports. No staging,
--                  no sluice (sources hold connection strings), no settings.
-- Roles belong to the whole PostgreSQL cluster; the grants to this database.
-- Both are made LOGIN without a password: `sluice password ROLE` gives one.
-- A migrating user that may not create roles gets a notice saying what to
-- ask an administrator for, and the grants wait for the roles.

do $$
declare
  r text;
begin
  foreach r in array array['sluice_loader', 'sluice_reader'] loop
    continue when exists (select from pg_roles where rolname = r);
    begin
      execute format('create role %I login', r);
    exception
      when duplicate_object or unique_violation then null;  -- another migrate made it meanwhile
      when insufficient_privilege then
        raise notice 'sluice: % may not create the role %; ask an administrator to run: create role % login; then run sluice migrate again',
          current_user, r, r;
    end;
  end loop;
end
$$;
comment on schema staging is 'What sluice loaded, as loaded: one table per feed and per replicated table (change logs). Written by sluice_loader; not readable by sluice_reader.';
comment on schema core is 'The warehouse''s model (dimensions, facts, mirrors of replicated tables), kept by triggers and jobs. sluice_reader reads it.';
comment on schema reports is 'Report tables and views for people and BI tools. sluice_reader reads it.';

create procedure sluice.grant_roles()
  language plpgsql
as $$
declare
  s text;
  t record;
begin
  if (select count(*) from pg_roles where rolname in ('sluice_loader', 'sluice_reader')) < 2 then
    raise notice 'sluice: the roles sluice_loader and sluice_reader are missing; nothing granted';
    return;
  end if;
  execute format('grant connect, temporary on database %I to sluice_loader, sluice_reader', current_database());

  -- sluice_reader: core and reports, to read.
  foreach s in array array['core', 'reports'] loop
    continue when to_regnamespace(s) is null;
    execute format('grant usage on schema %I to sluice_reader', s);
    execute format('grant select on all tables in schema %I to sluice_reader', s);
  end loop;
  foreach s in array array['staging', 'sluice', 'settings'] loop
    continue when to_regnamespace(s) is null;
    execute format('revoke all on schema %I from sluice_reader', s);
    execute format('revoke all on all tables in schema %I from sluice_reader', s);
  end loop;

  -- sluice_loader: write what the daemon writes; make tables where the
  -- replicator makes them (staging, core); read the settings.
  foreach s in array array['staging', 'core', 'reports', 'sluice'] loop
    continue when to_regnamespace(s) is null;
    execute format('grant usage on schema %I to sluice_loader', s);
    execute format('grant select, insert, update, delete, truncate on all tables in schema %I to sluice_loader', s);
    execute format('grant usage, select, update on all sequences in schema %I to sluice_loader', s);
  end loop;
  grant create on schema staging, core to sluice_loader;
  -- What the packs declare (feeds, rebuilds, retention) and migrate records
  -- is read, not written, by the daemon.
  foreach s in array array['sluice.packs', 'sluice.pack_migrations', 'sluice.feeds', 'sluice.feed_targets',
                           'sluice.feed_columns', 'sluice.rebuilds', 'sluice.change_retention'] loop
    continue when to_regclass(s) is null;
    execute format('revoke insert, update, delete, truncate on %s from sluice_loader', s::regclass);
  end loop;
  -- What the owner decides and the daemon reads: jobs' commands and sources'
  -- connections (SQL and conninfo someone else's session runs), not written
  -- by the daemon beyond its own bookkeeping columns.
  if to_regclass('sluice.jobs') is not null then
    revoke insert, update, delete, truncate on sluice.jobs from sluice_loader;
    grant update (watermark, last_run_at, last_error, last_started_at, last_seconds) on sluice.jobs to sluice_loader;
  end if;
  if to_regclass('sluice.sources') is not null then
    revoke insert, update, delete, truncate on sluice.sources from sluice_loader;
    grant update (state, slot_name, applied_lsn, applied_end_lsn, snapshot_lsn, partial_lsn, partial_seq,
                  last_error, updated_at, applied_commit_at, wal_end, wal_end_at, lag_seconds)
      on sluice.sources to sluice_loader;
  end if;
  if to_regnamespace('settings') is not null then
    grant usage on schema settings to sluice_loader;
    grant select on all tables in schema settings to sluice_loader;
  end if;

  -- Needs a superuser or a member of sluice_loader from here on.
  if not (select rolsuper from pg_roles where rolname = current_user)
     and not pg_has_role(current_user, 'sluice_loader', 'member') then
    raise notice 'sluice: % may not act for sluice_loader: mirrors it makes are not readable by sluice_reader until a superuser runs sluice migrate, and a daemon running as sluice_loader cannot alter the change logs packs declared (run sluice migrate as a superuser once, or: grant sluice_loader to %)',
      current_user, current_user;
    return;
  end if;
  -- Mirrors the loader makes later are readable at once.
  alter default privileges for role sluice_loader in schema core grant select on tables to sluice_reader;
  -- The replicator alters change logs (columns added, its trigger made and
  -- turned off during the initial copy): it owns those a pack declares before
  -- any change arrived (the orders pack's), found by their shape alone
  -- (_op text, _lsn pg_lsn, _seq integer in staging), never by a row the
  -- loader could write; what it makes itself it owns already. (A change log
  -- or mirror made by a superuser's daemon before the roles stays its: run
  -- that daemon once more, or hand it over by hand.)
  for t in
    select c.oid::regclass as tbl from pg_class c
     where c.relnamespace = 'staging'::regnamespace and c.relkind in ('r', 'p')
       and pg_get_userbyid(c.relowner) <> 'sluice_loader'
       and (select count(*) from pg_attribute a
             where a.attrelid = c.oid and not a.attisdropped
               and (a.attname, a.atttypid) in (('_op', 'text'::regtype), ('_lsn', 'pg_lsn'::regtype),
                                               ('_seq', 'integer'::regtype))) = 3
  loop
    execute format('alter table %s owner to sluice_loader', t.tbl);
  end loop;
end
$$;
comment on procedure sluice.grant_roles() is 'Grants sluice_loader and sluice_reader what they need on this database''s schemas as they are now (the loader writes only its own columns of sluice.jobs and sluice.sources), and hands the change logs packs declared to sluice_loader. `sluice migrate` calls it after every migrate; idempotent.';
