-- Issue 15: a source table with no primary key but REPLICA IDENTITY FULL
-- sends every update's and delete's whole old row. Its mirror was
-- append-only (inserts only) and drifted from the source; now the change log
-- keeps each update's old row (_old_<column> for every column; a delete's is
-- in its columns) and the mirror applies each change in order, matching one
-- row on all its values (IS NOT DISTINCT FROM: NULLs match, and of equal
-- rows one goes). Row by row, each a scan of the mirror (it has no key to
-- look up): fine for the small keyless tables applications have; a large
-- one wants a key.

create function sluice.mirror_apply_body_whole_rows(mirror regclass) returns text language plpgsql stable as $$
declare
  target text;      -- the mirror, schema-qualified and quoted
  columns text;     -- its columns, quoted, in order
  new_values text;  -- r.<column>, or the old value for a column _unchanged names
  match_old text;   -- x.<column> is not distinct from r._old_<column>, each column
  match_new text;   -- x.<column> is not distinct from r.<column>, each column
begin
  select format('%I.%I', n.nspname, c.relname) into target
    from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = mirror;
  select string_agg(quote_ident(a.attname), ', ' order by a.attnum),
         string_agg(format('case when r._unchanged is not null and %1$L = any(string_to_array(r._unchanged, '',''))'
                           ' then r.%2$I else r.%1$I end', a.attname, '_old_' || a.attname), ', ' order by a.attnum),
         string_agg(format('x.%1$I is not distinct from r.%2$I', a.attname, '_old_' || a.attname), ' and '
                    order by a.attnum),
         string_agg(format('x.%1$I is not distinct from r.%1$I', a.attname), ' and ' order by a.attnum)
    into columns, new_values, match_old, match_new
    from pg_attribute a where a.attrelid = mirror and a.attnum > 0 and not a.attisdropped;
  return format(
    E'declare r record; cut_lsn pg_lsn := ''0/0''; cut_seq integer := -1;\nbegin\n'
    '  select _lsn, _seq into cut_lsn, cut_seq from new_rows where _op = ''t'' order by _lsn desc, _seq desc limit 1;\n'
    '  if found then delete from %1$s; else cut_lsn := ''0/0''; cut_seq := -1; end if;\n'
    '  if not exists (select 1 from new_rows where _op in (''u'', ''d'')) then\n'
    '    insert into %1$s (%2$s) select %2$s from new_rows where _op in (''r'', ''i'') and (_lsn, _seq) > (cut_lsn, cut_seq);\n'
    '    return null;\n'
    '  end if;\n'
    '  for r in select * from new_rows where _op in (''r'', ''i'', ''u'', ''d'') and (_lsn, _seq) > (cut_lsn, cut_seq)'
    ' order by _lsn, _seq loop\n'
    '    if r._op = ''u'' then\n'
    '      delete from %1$s where ctid = (select x.ctid from %1$s x where %3$s limit 1);\n'
    '    elsif r._op = ''d'' then\n'
    '      delete from %1$s where ctid = (select x.ctid from %1$s x where %4$s limit 1);\n'
    '    end if;\n'
    '    if r._op <> ''d'' then insert into %1$s (%2$s) values (%5$s); end if;\n'
    '  end loop;\n'
    '  return null;\nend',
    target, columns, match_old, match_new, new_values);
end
$$;
comment on function sluice.mirror_apply_body_whole_rows(regclass) is 'The body of the trigger function that applies a change log''s statement to a mirror without a primary key whose change log keeps each update''s old row (_old_<column> for every column: a source table with REPLICA IDENTITY FULL): each change in order, one row matched on all its values.';

-- Which body a mirror's function has: whole rows for a mirror without a
-- primary key whose change log has _old_<column> for each of its columns,
-- else sluice.mirror_apply_body.
create function sluice.mirror_body(change_log regclass, mirror regclass) returns text language sql stable as $$
  select case
           when not exists (select 1 from pg_index where indrelid = mirror and indisprimary)
                and not exists (select 1 from pg_attribute a
                                 where a.attrelid = mirror and a.attnum > 0 and not a.attisdropped
                                   and not exists (select 1 from pg_attribute o
                                                    where o.attrelid = change_log and o.attname = '_old_' || a.attname
                                                      and not o.attisdropped))
             then sluice.mirror_apply_body_whole_rows(mirror)
           else sluice.mirror_apply_body(mirror)
         end
$$;
comment on function sluice.mirror_body(regclass, regclass) is 'The body sluice.keep_mirror gives the mirror''s function: sluice.mirror_apply_body_whole_rows for a keyless mirror whose change log keeps old rows, else sluice.mirror_apply_body.';

do $$
declare
  def text := pg_get_functiondef('sluice.keep_mirror(regclass, regclass)'::regprocedure);
begin
  if position('body text := sluice.mirror_apply_body(mirror);' in def) = 0 then
    raise exception 'sluice: sluice.keep_mirror does not take its body from mirror_apply_body as 0021 expects';
  end if;
  execute replace(def, 'body text := sluice.mirror_apply_body(mirror);',
                  'body text := sluice.mirror_body(change_log, mirror);');
end
$$;
