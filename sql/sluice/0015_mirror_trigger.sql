-- One function keeps every replicated table's mirror: sluice.apply_to_mirror,
-- the statement trigger apply_to_mirror on a change log staging.S_T, given its
-- mirror core.S_T as argument. It used to be a PL/pgSQL function per table,
-- core.S_T_apply, written by the replicator in C++ for that table's columns:
-- SQL that only the warehouse runs, hidden in a string of the loader, and one
-- more name per table that PostgreSQL's 63-byte cut could make two tables
-- share. Everything the old functions had written into them (the columns, the
-- key, a key column's type) is in the mirror's catalog: it is read from there
-- at each statement, which costs a few catalog lookups per batch of changes
-- (measured in scripts/bench.sh --cdc, issue 14's note).
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
--
-- A warehouse made before this file has the per-table functions: each
-- change log's trigger is pointed at this function and its old function is
-- dropped, below.

create or replace function sluice.apply_to_mirror() returns trigger language plpgsql as $$
declare
  mirror regclass := TG_ARGV[0]::regclass;
  target text;        -- the mirror, schema-qualified and quoted
  columns text;       -- its columns, quoted, in order
  keys text;          -- its primary key's columns, quoted; null when it has none
  key_match text;     -- c.k = l.k for each key column
  sets text;          -- each column outside the key, from the change unless unchanged
  old_key_rows text;  -- the deletes of old keys that updates changed
  mirror_empty boolean;
  cut_lsn pg_lsn;
  cut_seq integer;
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

  if keys is not null and not exists (select 1 from new_rows where _op <> 'r') then
    -- The initial copy into an empty mirror: its rows come from a table with
    -- this key, one per key, so there is nothing to fold (the general path
    -- below would sort the whole table to find the last change per key).
    execute format('select not exists (select 1 from %s)', target) into mirror_empty;
    if mirror_empty then
      execute format('insert into %s (%s) select %s from new_rows', target, columns, columns);
      return null;
    end if;
  end if;

  select _lsn, _seq into cut_lsn, cut_seq from new_rows where _op = 't' order by _lsn desc, _seq desc limit 1;
  if found then
    execute format('delete from %s', target);
  else
    cut_lsn := '0/0';
    cut_seq := -1;
  end if;

  if keys is null then
    execute format('insert into %s (%s) select %s from new_rows where _op in (''r'', ''i'') and (_lsn, _seq) > ($1, $2)',
                   target, columns, columns)
      using cut_lsn, cut_seq;
    return null;
  end if;

  -- Every statement of a WITH sees the mirror as it was before it: a key that
  -- `kept` updated is one the mirror had, so the insert only needs to look
  -- there (by its index). Looking in `kept` too was a nested loop over it per
  -- row, the batch size squared: 0.9 s of a 2,500-row batch.
  execute format(
    'with changes as (select * from new_rows union all %1$s),'
    ' last as (select distinct on (%2$s) * from changes where _op in (''r'', ''i'', ''u'', ''d'')'
    '   and (_lsn, _seq) > ($1, $2) order by %2$s, _lsn desc, _seq desc),'
    ' gone as (delete from %3$s c using last l where l._op = ''d'' and %4$s returning 1),'
    ' kept as (%5$s)'
    ' insert into %3$s (%6$s) select %6$s from last l'
    '  where l._op <> ''d'' and not exists (select 1 from %3$s c where %4$s)',
    old_key_rows, keys, target, key_match,
    case when sets is null
         then format('select c.* from %s c join last l on l._op <> ''d'' and %s', target, key_match)
         else format('update %s c set %s from last l where l._op <> ''d'' and %s returning c.*', target, sets, key_match)
    end,
    columns)
    using cut_lsn, cut_seq;
  return null;
end
$$;
comment on function sluice.apply_to_mirror() is 'Statement trigger (apply_to_mirror) on a replicated table''s change log staging.S_T: applies the statement''s changes to the mirror named by its argument (core.S_T), in commit order; the last change per primary key wins, a truncate cuts what came before it, a mirror without a key is append-only.';

-- Warehouses from before: each change log's trigger moves to the function
-- above (disabled if it was: a copy in progress), and the table's own
-- function goes once no trigger uses it.
do $$
declare
  t record;
begin
  for t in
    select tg.tgrelid::regclass as change_log, c.relname, tg.tgfoid::regprocedure as old_function,
           tg.tgenabled = 'D' as disabled
      from pg_trigger tg
      join pg_class c on c.oid = tg.tgrelid
     where tg.tgname = 'apply_to_mirror' and c.relnamespace = 'staging'::regnamespace
       and tg.tgfoid <> 'sluice.apply_to_mirror()'::regprocedure
  loop
    execute format('drop trigger apply_to_mirror on %s', t.change_log);
    execute format('create trigger apply_to_mirror after insert on %s referencing new table as new_rows'
                   ' for each statement execute function sluice.apply_to_mirror(%L)',
                   t.change_log, format('core.%I', t.relname));
    if t.disabled then
      execute format('alter table %s disable trigger apply_to_mirror', t.change_log);
    end if;
    if not exists (select 1 from pg_trigger where tgfoid = t.old_function) then
      execute format('drop function %s', t.old_function);
    end if;
  end loop;
end
$$;
