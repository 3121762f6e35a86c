-- What keeps a replicated table's mirror is SQL, here, not a string in the
-- loader: sluice.keep_mirror(change_log, mirror) writes the trigger function
-- core.S_T_apply for the mirror core.S_T as its columns and key are now, and
-- hangs it on the change log staging.S_T as the statement trigger
-- apply_to_mirror. The replicator calls it for each table of a source when it
-- starts and when the table's columns change.
--
-- Why a function per table, written for its columns, and not one function
-- that reads the columns at each statement: that one must build its SQL and
-- plan it at every statement (EXECUTE caches no plan) and look the columns up
-- in the catalog. Measured with pgbench, one-row statements on a 4-column
-- mirror: 0.72 ms per statement against 0.15 ms (0.20 ms of it the catalog,
-- the rest planning); the CDC benchmark's lag at 1,000 tx/s rose from 2.8 to
-- 6.1 ms (p50). A function per table keeps its plans.
--
-- What a statement's rows do to the mirror, in the order of the source's
-- commits (_lsn, then _seq within a transaction):
--   - a truncate ('t') empties it and cuts every change before it;
--   - without a primary key, the mirror is append-only: inserts and snapshot
--     rows ('i', 'r') are added;
--   - with one, the last change per key wins: a delete ('d') removes the key,
--     anything else leaves the row as the change has it, except the columns
--     _unchanged names (TOASTed values an update did not send), which keep
--     the mirror's; an update that changed the key ('u' with _old_<key>) is
--     also a delete of its old key at the update's place in the order.

-- The body of the function that applies a statement's rows of a change log
-- (the transition table new_rows) to `mirror`, for its columns and primary
-- key as they are now.
create function sluice.mirror_apply_body(mirror regclass) returns text language plpgsql stable as $$
declare
  target text;        -- the mirror, schema-qualified and quoted
  columns text;       -- its columns, quoted, in order
  keys text;          -- its primary key's columns, quoted; null when it has none
  key_match text;     -- c.k = l.k for each key column
  sets text;          -- each column outside the key, from the change unless unchanged
  old_key_rows text;  -- the deletes of old keys that updates changed
  body text := E'declare cut_lsn pg_lsn := ''0/0''; cut_seq integer := -1;\nbegin\n';
begin
  select format('%I.%I', n.nspname, c.relname) into target
    from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = mirror;
  select string_agg(quote_ident(a.attname), ', ' order by a.attnum),
         string_agg(quote_ident(a.attname), ', ' order by a.attnum) filter (where k.is_key),
         string_agg(format('c.%1$I = l.%1$I', a.attname), ' and ' order by a.attnum) filter (where k.is_key),
         string_agg(format('%1$I = case when l._unchanged is not null and %2$L = any(string_to_array(l._unchanged, '',''))'
                           ' then c.%1$I else l.%1$I end', a.attname, a.attname), ', ' order by a.attnum)
           filter (where not k.is_key),
         'select ''d''::text, _lsn, _seq, _commit_at, null::text'
           || coalesce(string_agg(', ' || quote_ident('_old_' || a.attname), '' order by a.attnum)
                         filter (where k.is_key), '')
           || string_agg(case when k.is_key then ', ' || quote_ident('_old_' || a.attname)
                              else ', null::' || format_type(a.atttypid, a.atttypmod) end, '' order by a.attnum)
           || ' from new_rows where _op = ''u'' and '
           || (array_agg(quote_ident('_old_' || a.attname) order by a.attnum) filter (where k.is_key))[1]
           || ' is not null'
    into columns, keys, key_match, sets, old_key_rows
    from pg_attribute a
    cross join lateral (
      select exists (select 1 from pg_index i
                      where i.indrelid = mirror and i.indisprimary and a.attnum = any(i.indkey)) as is_key) k
   where a.attrelid = mirror and a.attnum > 0 and not a.attisdropped;

  if keys is not null then
    -- The initial copy into an empty mirror: its rows come from a table with
    -- this key, one per key, so there is nothing to fold (the general path
    -- below would sort the whole table to find the last change per key).
    body := body || format(
      E'  if not exists (select 1 from new_rows where _op <> ''r'') and not exists (select 1 from %1$s) then\n'
      '    insert into %1$s (%2$s) select %2$s from new_rows;\n    return null;\n  end if;\n',
      target, columns);
  end if;
  body := body || format(
    E'  select _lsn, _seq into cut_lsn, cut_seq from new_rows where _op = ''t'' order by _lsn desc, _seq desc limit 1;\n'
    '  if found then delete from %s; else cut_lsn := ''0/0''; cut_seq := -1; end if;\n', target);
  if keys is null then
    return body || format(
      E'  insert into %1$s (%2$s) select %2$s from new_rows where _op in (''r'', ''i'') and (_lsn, _seq) > (cut_lsn, cut_seq);\n'
      '  return null;\nend', target, columns);
  end if;
  -- Every statement of a WITH sees the mirror as it was before it: a key that
  -- `kept` updated is one the mirror had, so the insert only needs to look
  -- there (by its index). Looking in `kept` too was a nested loop over it per
  -- row, the batch size squared: 0.9 s of a 2,500-row batch.
  return body || format(
    E'  with changes as (select * from new_rows union all %1$s),\n'
    '  last as (select distinct on (%2$s) * from changes where _op in (''r'', ''i'', ''u'', ''d'')'
    ' and (_lsn, _seq) > (cut_lsn, cut_seq) order by %2$s, _lsn desc, _seq desc),\n'
    '  gone as (delete from %3$s c using last l where l._op = ''d'' and %4$s returning 1),\n'
    '  kept as (%5$s)\n'
    '  insert into %3$s (%6$s) select %6$s from last l where l._op <> ''d'' and not exists'
    ' (select 1 from %3$s c where %4$s);\n'
    '  return null;\nend',
    old_key_rows, keys, target, key_match,
    case when sets is null
         then format('select c.* from %s c join last l on l._op <> ''d'' and %s', target, key_match)
         else format('update %s c set %s from last l where l._op <> ''d'' and %s returning c.*', target, sets, key_match)
    end,
    columns);
end
$$;
comment on function sluice.mirror_apply_body(regclass) is 'The body of the trigger function that applies a change log''s statement (its transition table new_rows) to the mirror given, for the mirror''s columns and primary key as they are now; sluice.keep_mirror installs it.';

-- Makes `change_log`'s statement trigger apply_to_mirror keep `mirror`: the
-- function <mirror>_apply beside the mirror is (re)written when its body is
-- not the one for the mirror's columns now, and the trigger is added when
-- missing. Returns what it created or replaced, for the replicator's log.
create function sluice.keep_mirror(change_log regclass, mirror regclass) returns text[] language plpgsql as $$
declare
  apply_function text;
  body text := sluice.mirror_apply_body(mirror);
  made text[] := '{}';
begin
  select format('%I.%I', n.nspname, c.relname || '_apply') into apply_function
    from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = mirror;
  if coalesce((select prosrc from pg_proc where oid = to_regprocedure(apply_function || '()')), '')
       <> E'\n' || body || E'\n' then
    execute format(E'create or replace function %s() returns trigger language plpgsql as $sluice$\n%s\n$sluice$',
                   apply_function, body);
    execute format('comment on function %s() is %L', apply_function,
                   format('Applies a batch of %s to %s (written by sluice.keep_mirror).', change_log, mirror));
    made := made || (apply_function || '()');
  end if;
  if not exists (select 1 from pg_trigger where tgrelid = change_log and tgname = 'apply_to_mirror') then
    execute format('create trigger apply_to_mirror after insert on %s referencing new table as new_rows'
                   ' for each statement execute function %s()', change_log, apply_function);
    made := made || 'trigger apply_to_mirror'::text;
  end if;
  return made;
end
$$;
comment on function sluice.keep_mirror(regclass, regclass) is 'Makes the change log''s statement trigger apply_to_mirror keep the mirror: (re)writes the function <mirror>_apply for the mirror''s columns and key now, adds the trigger when missing; returns what it created or replaced. Called by the replicator for each replicated table.';
