-- Change data capture: a source is a row (issue "Change data capture"). Its
-- applied LSN advances in the same transaction as the rows it covers (see
-- warehouse/src/source_ledger.cpp, where every statement on this table
-- lives); the slot's flush position is confirmed to the source only after.

create table sluice.sources (
  name           text primary key check (name ~ '^[a-z][a-z0-9_]{0,40}$'),
  conninfo       text not null,
  publication    text not null,
  enabled        boolean not null default true,
  slot_name      text not null generated always as ('sluice_' || name) stored,
  applied_lsn    pg_lsn not null default '0/0',
  snapshot_lsn   pg_lsn,
  state          text not null default 'new'
                   check (state in ('new', 'snapshot', 'streaming', 'stopped')),
  last_error     text,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now()
);
comment on table sluice.sources is 'Application databases replicated into the warehouse, one row each: insert a row to add one (README "Change data capture"). sluice creates and owns the replication slot sluice_<name>.';
comment on column sluice.sources.name is 'Source name: lower-case letters, digits and _; staging.<name>_<table> and core.<name>_<table> are its tables.';
comment on column sluice.sources.conninfo is 'libpq connection string or URI of the source database. Never a password: it comes from ~/.pgpass, PGPASSFILE or a service file.';
comment on column sluice.sources.publication is 'The publication on the source (CREATE PUBLICATION ... FOR TABLE ...), created by its owner; its tables are replicated.';
comment on column sluice.sources.enabled is 'Disabled sources are not replicated (their slot still retains WAL: drop it, see README).';
comment on column sluice.sources.slot_name is 'The logical replication slot sluice uses on the source.';
comment on column sluice.sources.applied_lsn is 'Commit LSN of the last source transaction whose changes are committed in the warehouse; streaming resumes after it.';
comment on column sluice.sources.snapshot_lsn is 'The slot''s consistent point: the initial copy holds every change up to it.';
comment on column sluice.sources.state is 'new: nothing copied yet; snapshot: the initial copy is under way; streaming: changes flow; stopped: stopped by an error that needs a person (see last_error).';
comment on column sluice.sources.last_error is 'Why the source stopped, in words a person can act on; NULL while it works.';
comment on column sluice.sources.created_at is 'When the row was inserted.';
comment on column sluice.sources.updated_at is 'When applied_lsn or state last changed.';

-- A password in the conninfo would sit in the warehouse for every reader of
-- this table and in its backups.
create function sluice.sources_refuse_password() returns trigger
  language plpgsql
as $$
begin
  if new.conninfo ~* '(^|\s)password\s*=' or new.conninfo ~ '^postgres(ql)?://[^/@]*:[^/@]*@' then
    raise exception 'source %: the conninfo holds a password', new.name
      using hint = 'Remove it and put it in ~/.pgpass (or the file PGPASSFILE names, or a service file) of the user sluice runs as.',
            errcode = '22023';
  end if;
  return new;
end
$$;
comment on function sluice.sources_refuse_password() is 'Refuses a sluice.sources conninfo that holds a password.';
create trigger sources_refuse_password before insert or update of conninfo on sluice.sources
  for each row execute function sluice.sources_refuse_password();
