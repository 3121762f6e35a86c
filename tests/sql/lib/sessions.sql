-- Sessions for the concurrency tests: other backends into the test's own
-- database through dblink (included with \ir; not a test itself).

create extension dblink;

create function pg_temp.connect(name text) returns integer
  language plpgsql
as $$
begin
  perform dblink_connect(name, format('host=%s port=%s dbname=%s user=%s',
                                      split_part(current_setting('unix_socket_directories'), ',', 1),
                                      current_setting('port'), current_database(), current_user));
  return (select pid from dblink(name, 'select pg_backend_pid()') as t(pid integer));
exception
  when others then
    raise exception 'this test needs dblink sessions into its own database: %', sqlerrm
      using hint = 'run it through scripts/test.sh (a throwaway cluster with trust authentication)';
end
$$;

-- Sends `sql` on session `name` without waiting for it; pg_temp.finish() collects it.
create function pg_temp.start(name text, sql text) returns void
  language plpgsql
as $$
begin
  if dblink_send_query(name, sql) <> 1 then
    raise exception 'could not send a query on session %', name;
  end if;
end
$$;

create function pg_temp.finish(name text) returns void
  language plpgsql
as $$
begin
  perform * from dblink_get_result(name) as t(status text);
  perform * from dblink_get_result(name) as t(status text);  -- the empty result that ends it
end
$$;

-- True once backend `pid` waits for a lock; false after 10 s of not doing so.
create function pg_temp.blocked(pid integer) returns boolean
  language plpgsql
as $$
begin
  for attempt in 1 .. 200 loop
    perform pg_stat_clear_snapshot();
    if exists (select 1 from pg_stat_activity a where a.pid = blocked.pid and a.wait_event_type = 'Lock') then
      return true;
    end if;
    perform pg_sleep(0.05);
  end loop;
  return false;
end
$$;
