-- A password in a source's conninfo is refused however it is spelled. The
-- first check (0004) took `password=` and `user:password@`; a URI's query
-- (`?password=`, percent-encoded as `?%70assword=`) and `sslpassword` (the
-- key's passphrase) went through. libpq decodes a URI's query keys and
-- values, so the query is decoded here before it is looked at.

create function sluice.percent_decoded(encoded text) returns text
  language plpgsql immutable strict
as $$
declare
  out text := '';
  at integer := 1;
  code integer;
begin
  while at <= length(encoded) loop
    if substr(encoded, at, 1) = '%' and substr(encoded, at + 1, 2) ~ '^[0-9A-Fa-f]{2}$' then
      code := ('x' || substr(encoded, at + 1, 2))::bit(8)::integer;
      -- (A byte past ASCII never spells a libpq keyword: kept as a marker.)
      out := out || case when code between 1 and 127 then chr(code) else '?' end;
      at := at + 3;
    else
      out := out || substr(encoded, at, 1);
      at := at + 1;
    end if;
  end loop;
  return out;
end
$$;
comment on function sluice.percent_decoded(text) is 'The text with its %XX escapes decoded (as libpq decodes a connection URI''s query); bytes past ASCII become ?.';

create function sluice.conninfo_holds_password(conninfo text) returns boolean
  language sql immutable strict
  return case
    when conninfo ~ '^postgres(ql)?://' then
      conninfo ~ '^postgres(ql)?://[^/?@]*:[^/?@]*@'
      or coalesce(sluice.percent_decoded(substring(conninfo from '\?(.*)$')), '') ~* '(^|&)\s*(ssl)?password\s*='
    else conninfo ~* '(^|\s)(ssl)?password\s*='
  end;
comment on function sluice.conninfo_holds_password(text) is 'Whether a libpq conninfo (keyword=value or URI) holds a password or an SSL key passphrase, however spelled.';

create or replace function sluice.sources_refuse_password() returns trigger
  language plpgsql
as $$
begin
  if sluice.conninfo_holds_password(new.conninfo) then
    raise exception 'source %: the conninfo holds a password (password, sslpassword, user:password@ or ?password= in a URI)', new.name
      using hint = 'Remove it and put it in ~/.pgpass (or the file PGPASSFILE names, or a service file) of the user sluice runs as.',
            errcode = '22023';
  end if;
  return new;
end
$$;
