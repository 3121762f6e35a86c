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
  -- Mirrors the loader makes later are readable at once.
  alter default privileges for role sluice_loader in schema core grant select on tables to sluice_reader;

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
  if to_regnamespace('settings') is not null then
    grant usage on schema settings to sluice_loader;
    grant select on all tables in schema settings to sluice_loader;
  end if;

  -- The replicator alters its change logs and mirrors (columns added, the
  -- apply trigger made, and turned off during the initial copy, its function
  -- rewritten): it owns them, and their apply functions. Change logs are
  -- those it registered (sluice.source_tables) and those a pack declares
  -- before any change arrived (staging tables with a pg_lsn _lsn column, as
  -- the orders pack's). (Handing a table over needs a superuser or a member
  -- of sluice_loader.)
  if not (select rolsuper from pg_roles where rolname = current_user)
     and not pg_has_role(current_user, 'sluice_loader', 'member') then
    raise notice 'sluice: % may not hand tables to sluice_loader; a daemon running as sluice_loader cannot alter the change logs and mirrors made before (run sluice migrate as a superuser once, or: grant sluice_loader to %)',
      current_user, current_user;
    return;
  end if;
  for t in
    select c.oid::regclass as tbl from pg_class c
     where pg_get_userbyid(c.relowner) <> 'sluice_loader'
       and (c.oid in (select to_regclass(n.name) from sluice.source_tables st
                        cross join lateral (values (st.change_log), (st.mirror)) as n(name))
            or (c.relnamespace = 'staging'::regnamespace and c.relkind in ('r', 'p')
                and exists (select from pg_attribute a where a.attrelid = c.oid and a.attname = '_lsn'
                                                         and a.atttypid = 'pg_lsn'::regtype and not a.attisdropped)))
  loop
    execute format('alter table %s owner to sluice_loader', t.tbl);
  end loop;
  for t in
    select distinct g.tgfoid::regprocedure as fn from pg_trigger g
      join pg_class c on c.oid = g.tgrelid and c.relnamespace = 'staging'::regnamespace
      join pg_proc p on p.oid = g.tgfoid
     where g.tgname = 'apply_to_mirror' and pg_get_userbyid(p.proowner) <> 'sluice_loader'
  loop
    execute format('alter function %s owner to sluice_loader', t.fn);
  end loop;
end
$$;
comment on procedure sluice.grant_roles() is 'Grants sluice_loader and sluice_reader what they need on this database''s schemas as they are now, and hands the replicator''s change logs and mirrors to sluice_loader. `sluice migrate` calls it after every migrate; idempotent.';
