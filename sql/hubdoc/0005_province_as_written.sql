-- Hubdoc: the province is taken as written on the sign-up address. Real logs
-- carry historical codes (NF, before Newfoundland and Labrador became NL) and
-- others outside today's 13; those customers were counted under a NULL
-- province. Now any two capitals before the postal code are the province; only
-- an address that does not end "<province> <postal code>" has none.
create or replace function core.hubdoc_address_province(address text) returns text
  language sql immutable parallel safe
  return (select m[1]
            from regexp_match(upper(address),
                              '(?:^|[\s,''])([A-Z]{2})\s+[A-Z][0-9][A-Z]\s?[0-9][A-Z][0-9]\s*''?\s*$') as m);
comment on function core.hubdoc_address_province(text) is
  'The two-letter province code, as written, that ends a Hubdoc address before its postal code (historical codes such as NF included); NULL when the address does not end that way.';

-- The shortcut of hubdoc_address_tail() took a comma where the reference
-- allows only blanks (between province and postal code, and inside the postal
-- code): ',NB,E1A 1A1' gave NB there and NULL in the reference. The list of 13
-- codes hid that for every code not in it; with codes as written it shows, so
-- the shortcut now tells blanks (B) from commas (S).
create or replace function core.hubdoc_address_tail(address text) returns text
  language sql immutable parallel safe
  return case when translate(right(upper(address), 12),
                             'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789, ''',
                             'AAAAAAAAAAAAAAAAAAAAAAAAAA9999999999SBQ')
                   in ('SAABA9AB9A9Q', 'BAABA9AB9A9Q', 'QAABA9AB9A9Q')
              then left(right(upper(address), 12), 11)
              else substring(upper(address)
                             from '(?:(?:^|[\s,''])[A-Z]{2}\s+|(?:^|[^A-Z0-9]))[A-Z][0-9][A-Z]\s?[0-9][A-Z][0-9](?=\s*''?\s*$)')
         end;

create or replace function core.hubdoc_tail_province(tail text) returns text
  language sql immutable parallel safe
  return case when length(tail) - (ascii(tail) not between 65 and 90)::integer >= 9
              then substr(tail, 1 + (ascii(tail) not between 65 and 90)::integer, 2) end;

comment on column core.hubdoc_customer_state.province is 'Province code as written before the postal code of the sign-up address (historical codes such as NF included); NULL when the address does not end with a province and postal code.';
comment on column core.hubdoc_dim_customer.province is 'Province code as written before the postal code (historical codes such as NF included); NULL when it does not end with a province and postal code.';
comment on column reports.hubdoc_active_by_province.province is 'Province code as written on the sign-up address (historical codes such as NF included); NULL for addresses that do not end with a province and postal code.';

-- Everything derived from provinces is recomputed from staging.
select reports.hubdoc_rebuild();
