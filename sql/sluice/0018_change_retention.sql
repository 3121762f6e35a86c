-- Issue 15: the change log of a replicated table grows forever no more. Each
-- source keeps its changes for keep_changes (7 days unless set); older ones
-- are deleted in small batches (sluice.prune_changes, which the daemon calls
-- every 10 minutes). The mirrors (core.S_T) hold the current state and are
-- never touched; a pack that reads older changes says so in
-- sluice.change_retention, and its change logs keep them.

alter table sluice.sources add column keep_changes interval default '7 days';
comment on column sluice.sources.keep_changes is 'How long its changes stay in its change logs (staging.S_T), by source commit time (_commit_at); NULL: for ever. Older ones are deleted every 10 minutes, in batches; the mirrors core.S_T are not touched. A pack may keep more (sluice.change_retention).';

create table sluice.source_tables (
  source       text not null references sluice.sources (name) on delete cascade on update cascade,
  source_table text not null,
  change_log   text not null,
  mirror       text not null,
  primary key (source, source_table)
);
comment on table sluice.source_tables is 'The tables the replicator made for each source table it met: its change log and its mirror.';
comment on column sluice.source_tables.source is 'The source (sluice.sources.name).';
comment on column sluice.source_tables.source_table is 'The table on the source, "schema.name".';
comment on column sluice.source_tables.change_log is 'Its change log, staging."S_T" (quoted as regclass prints it).';
comment on column sluice.source_tables.mirror is 'Its mirror, core."S_T".';

create table sluice.change_retention (
  change_log text primary key,
  keep       interval,
  pack       text not null,
  reason     text not null
);
comment on table sluice.change_retention is 'Change logs a pack reads further back than their source''s keep_changes: their changes stay for keep (NULL: for ever). Inserted by the pack''s migrations.';
comment on column sluice.change_retention.change_log is 'The change log, e.g. staging.shop_orders.';
comment on column sluice.change_retention.keep is 'How long its changes must stay; NULL: all of them.';
comment on column sluice.change_retention.pack is 'The pack that needs them.';
comment on column sluice.change_retention.reason is 'What reads them (for a person who wonders why the log is not pruned).';

-- Deletes the changes past their keep, at most batch_rows per transaction
-- (a procedure: it commits between batches, so no lock or snapshot is held
-- for long). CALL it outside a transaction block.
create procedure sluice.prune_changes(batch_rows integer default 10000)
  language plpgsql
  as $$
declare
  t record;
  n bigint;
begin
  for t in
    select st.change_log,
           case when bool_or(r.change_log is not null and r.keep is null) then null
                else greatest(s.keep_changes, max(r.keep)) end as keep
      from sluice.source_tables st
      join sluice.sources s on s.name = st.source
      left join sluice.change_retention r on to_regclass(r.change_log) = to_regclass(st.change_log)
     where s.keep_changes is not null
     group by st.change_log, s.keep_changes
  loop
    continue when t.keep is null or to_regclass(t.change_log) is null;
    loop
      execute format('delete from %s where ctid = any (array(select ctid from %s where _commit_at < now() - $1 limit $2))',
                     t.change_log, t.change_log)
        using t.keep, batch_rows;
      get diagnostics n = row_count;
      commit;
      exit when n < batch_rows;
    end loop;
  end loop;
end
$$;
comment on procedure sluice.prune_changes(integer) is 'Deletes changes older than their source''s keep_changes (or a pack''s longer keep, sluice.change_retention) from the change logs, batch_rows per transaction. The daemon calls it every 10 minutes; mirrors are not touched.';
