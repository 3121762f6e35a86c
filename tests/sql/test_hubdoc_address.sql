-- The sign-up trigger's one-regex address parse (core.hubdoc_address_tail(),
-- core.hubdoc_tail_province(), core.hubdoc_tail_postal_code()) gives exactly
-- what the reference functions core.hubdoc_address_province() and
-- core.hubdoc_address_postal_code() give: on crafted addresses around every
-- edge of the patterns, and on many random strings over the characters that
-- matter to them. Then the same through the trigger itself.
--
-- Run by tests/sql/run_sql_test.sh in a fresh migrated database.

\set ON_ERROR_STOP 1
\o /dev/null
set client_min_messages = warning;

create function pg_temp.check_parse(label text) returns void
  language plpgsql
as $$
declare
  bad text;
begin
  select string_agg(format('%L: reference (%s, %s), trigger (%s, %s)', address,
                           coalesce(p_ref, 'NULL'), coalesce(c_ref, 'NULL'),
                           coalesce(p_new, 'NULL'), coalesce(c_new, 'NULL')),
                    E'\n  ' order by address)
    into bad
    from (select address,
                 core.hubdoc_address_province(address) as p_ref,
                 core.hubdoc_address_postal_code(address) as c_ref,
                 core.hubdoc_tail_province(core.hubdoc_address_tail(address)) as p_new,
                 core.hubdoc_tail_postal_code(core.hubdoc_address_tail(address)) as c_new
            from addresses) x
   where (p_ref, c_ref) is distinct from (p_new, c_new);
  if bad is not null then
    raise exception E'%: the parses differ\n  %', label, bad;
  end if;
end
$$;

create temp table addresses (address text);

insert into addresses values
  ('''12 Elm St., Moncton, NB E1A 1A1'''),
  ('12 Elm St., Moncton, NB E1A 1A1'),
  ('''12 Elm St., Moncton, NB E1A1A1'''),
  ('''12 Elm St., Moncton, nb e1a 1a1'''),
  ('''12 Elm St., Moncton, NB   E1A 1A1  ''  '),
  (E'''12 Elm St., Moncton,\tNB\tE1A\t1A1\t''\n'),
  ('''12 Elm St., Moncton, NB  E1A  1A1'''),          -- two blanks inside: no postal code
  ('''12 Elm St., Moncton,NB E1A 1A1'''),
  ('''NB E1A 1A1'''),
  ('NB E1A 1A1'),
  ('E1A 1A1'),
  ('E1A1A1'),
  ('''E1A 1A1'''),
  ('XNB E1A 1A1'),                                   -- letters before the province
  ('-NB E1A 1A1'),                                   -- '-' may precede a postal code, not a province
  ('12 Main St, XX E1A 1A1'),                        -- not a province code
  ('12 Main St, QC E1A 1A1'),
  ('12 Main St, YT Y1A 1A1'),
  ('12 Main St, ON'),
  ('12 Main St'),
  (''),
  (''''''),
  ('9E1A 1A1'),
  ('NBE1A 1A1'),
  ('N E1A 1A1'),
  ('ON E1A 1A1 X'),
  ('ON E1A 1A12'),
  ('ON E1A 1A'),
  ('ON, E1A 1A1'),
  ('Québec, QC H5K 4M5'),
  ('ÉQC H5K 4M5'),
  ('ßQC H5K 4M5'),
  ('QC H5K 4M5'''''),
  ('''ON'' K1A 0B1'),
  -- the shape recognised without the regular expression, and near misses
  ('x,NB E1A 1A1'''), ('x''NB E1A 1A1'''), ('x NB E1A 1A1'''), ('xxNB E1A 1A1'''),
  (',NB E1A 1A1'''), ('NB E1A 1A1'''), ('x-NB E1A 1A1'''), ('x NB E1A 1A1'' '),
  ('x ZZ E1A 1A1'''), ('x NB E1A 1A1"'), ('x NB E1A-1A1'''), ('x N8 E1A 1A1'''),
  ('x NB 11A 1A1'''), ('x NB EAA 1A1'''), ('x NB E1A 1AA'''), ('x NB E1A A1A'''),
  ('x nb e1a 1a1'''), ('x ÉB E1A 1A1'''), (E'x\tNB E1A 1A1'''), ('x NB E1A 1A1'''''),
  ('x NB E1A 1A1,'), ('x NB E1A 1A1 '), ('x NB E1A 1A1x'), ('x NB E1A 1A1'''''),
  (null);

select pg_temp.check_parse('crafted addresses');

-- Random strings over letters, digits, blanks, quotes and separators, most of
-- them ending like a postal code so that the interesting branches are taken.
truncate addresses;
select setseed(0.27);
insert into addresses
select string_agg(substr(alphabet, 1 + floor(random() * length(alphabet))::integer, 1), '')
       || (array['', ' ', ',', '''', '-', 'x', ' ON ', ' XX ', ' QC', ',NB  ', E'\tYT\t', ' ON',
                 ',ON ', '''NB ', ' QC ', 'XQC ', '-ON '])[1 + floor(random() * 17)::integer]
       || case when random() < 0.7 then
            (array['E1A 1A1', 'E1A1A1', 'E1A  1A1', 'E1 1A1', 'E1A 1A', 'E1A 1A1', 'E1A 1A1'])[1 + floor(random() * 7)::integer]
            || (array['', '''', ' ', ''' ', ' '' ', E'\t', 'x', '''', '''', ',', ''''''])[1 + floor(random() * 11)::integer]
          else '' end
  from (select g, E'ABNQCOXYZ019 \t,''-.é' as alphabet, 1 + floor(random() * 8)::integer as len
          from generate_series(1, 20000) g) s
  cross join lateral generate_series(1, s.len) as c
 group by s.g;

select pg_temp.check_parse('random addresses');

do $$
begin
  if (select count(*) from addresses
       where core.hubdoc_address_province(address) is not null) < 1000
     or (select count(*) from addresses
          where core.hubdoc_address_postal_code(address) is not null
            and core.hubdoc_address_province(address) is null) < 1000
     or (select count(*) from addresses
          where core.hubdoc_address_postal_code(address) is null) < 1000
     or (select count(*) from addresses
          where translate(right(upper(address), 12),
                          'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789, ''',
                          'AAAAAAAAAAAAAAAAAAAAAAAAAA9999999999SSQ')
                in ('SAASA9AS9A9Q', 'QAASA9AS9A9Q')) < 300 then
    raise exception 'the random addresses do not cover province, postal code only, neither, and the usual shape';
  end if;
end
$$;

-- Through the sign-up trigger: what it stores equals the reference.
insert into staging.hubdoc_signup
select 1, row_number() over (), timestamptz '2019-01-01T00:00:00Z', 'INFO',
       row_number() over (), 'PLAN_GOLD', 'F', 'L', address
  from addresses
 where address is not null;

do $$
declare
  bad text;
begin
  select string_agg(format('%L', g.address), E'\n  ') into bad
    from staging.hubdoc_signup g
    join core.hubdoc_customer_state s on s.account = g.account
   where (s.province, s.postal_code, s.address)
         is distinct from
         (core.hubdoc_address_province(g.address), core.hubdoc_address_postal_code(g.address),
          core.hubdoc_address_clean(g.address));
  if bad is not null then
    raise exception E'the sign-up trigger stored another parse for\n  %', bad;
  end if;
  if (select count(*) from core.hubdoc_customer_state) <> (select count(*) from staging.hubdoc_signup) then
    raise exception 'the sign-up trigger did not store every sign-up';
  end if;
end
$$;
