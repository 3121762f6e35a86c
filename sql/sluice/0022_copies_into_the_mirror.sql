-- Issue 15: the initial copy writes each row once, into the mirror. A
-- table's change log begins at its copy with one marker row, _op 's', at the
-- copy's LSN (the snapshot's consistent point, or the LSN of a table added to
-- the publication later): the mirror held the table as it stood there, and
-- the changes after it follow. Before, every copied row was also written into
-- the change log as an 'r' row, twice the writing, and the copy ran at 0.77x
-- PostgreSQL's own initial sync.
--
-- A change log a pack reads from the table's first state (it keeps it for
-- ever in sluice.change_retention, as the orders pack's status history
-- does: the snapshot status of an order changed later is in no mirror) still
-- gets the 'r' rows, beside its marker.
--
-- Pruning never deletes a marker: it says where the change log begins.

create function sluice.comment_change_log_op(change_log regclass) returns void language plpgsql as $$
begin
  execute format('comment on column %s._op is %L', change_log,
    's: the copy of the table ended here (one row, at the copy''s LSN; the other columns NULL): the mirror held the'
    ' table as it stood then, and the changes after it follow; r: a row of that copy (only in a change log a pack'
    ' reads from its first state, sluice.change_retention); i: insert; u: update; o: the old row of the update of'
    ' the same _seq (a table without a key, REPLICA IDENTITY FULL); d: delete (the key columns hold the old key, or'
    ' the whole old row); t: truncate.');
end
$$;
comment on function sluice.comment_change_log_op(regclass) is 'Writes the comment of a change log''s _op column (what each value means); the replicator calls it for each change log it makes.';

do $$
declare
  t record;
begin
  for t in select change_log from sluice.source_tables where to_regclass(change_log) is not null loop
    perform sluice.comment_change_log_op(t.change_log::regclass);
  end loop;
end
$$;

create or replace procedure sluice.prune_changes(batch_rows integer default 10000)
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
      execute format('delete from %s where ctid = any (array(select ctid from %s'
                     ' where _commit_at < now() - $1 and _op <> ''s'' limit $2))',
                     t.change_log, t.change_log)
        using t.keep, batch_rows;
      get diagnostics n = row_count;
      commit;
      exit when n < batch_rows;
    end loop;
  end loop;
end
$$;
comment on procedure sluice.prune_changes(integer) is 'Deletes changes older than their source''s keep_changes (or a pack''s longer keep, sluice.change_retention) from the change logs, batch_rows per transaction, never a copy''s marker (_op s). The daemon calls it every 10 minutes; mirrors are not touched.';
