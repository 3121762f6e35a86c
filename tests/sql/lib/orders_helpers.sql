-- Helpers of the orders pack's SQL tests (included with \ir after helpers.sql;
-- not a test itself).

create function pg_temp.assert_true(label text, condition boolean) returns void
  language plpgsql
as $$
begin
  if condition is not true then
    raise exception '%: not true', label;
  end if;
end
$$;
