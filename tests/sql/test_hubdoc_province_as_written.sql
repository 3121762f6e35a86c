-- The province is taken as written on the sign-up address (promise issue: a
-- historical code such as NF was counted under a NULL province).
\ir lib/helpers.sql

insert into sluice.files (feed, path) values ('hubdoc', 'test/provinces.log');
insert into staging.hubdoc_signup (_file_id, _record, event_time, level, account, plan, firstname, lastname, address)
select f.id, v.record, v.at, 'INFO', v.account, 'PLAN_BRONZE', 'A', 'B', v.address
  from sluice.files f,
       (values (1, timestamptz '2019-01-03T10:00:00-05:00', 1, '''1 Water St., St. John''s, NF A1C 1A1'''),
               (2, timestamptz '2019-01-04T10:00:00-05:00', 2, '''2 Elm St., Moncton, NB E1A 1A1'''),
               (3, timestamptz '2019-01-05T10:00:00-05:00', 3, '''3 Nowhere Road''')) as v(record, at, account, address)
 where f.path = 'test/provinces.log';
insert into staging.hubdoc_login (_file_id, _record, event_time, level, account, details)
select f.id, 10 + a, timestamptz '2019-01-20T10:00:00-05:00', 'INFO', a, 'web login'
  from sluice.files f, generate_series(1, 3) a where f.path = 'test/provinces.log';

select pg_temp.run_jobs();

do $$
begin
  if (select province from core.hubdoc_customer_state where account = 1) is distinct from 'NF' then
    raise exception 'account 1 should be in province NF as written, got %',
      (select province from core.hubdoc_customer_state where account = 1);
  end if;
  if (select province from core.hubdoc_customer_state where account = 3) is not null then
    raise exception 'an address without province and postal code has no province';
  end if;
  if not exists (select 1 from reports.hubdoc_active_by_province where province = 'NF' and active_customers = 1) then
    raise exception 'reports.hubdoc_active_by_province has no NF row with one customer: %',
      (select string_agg(format('%s/%s/%s', year, province, active_customers), ', ') from reports.hubdoc_active_by_province);
  end if;
  if exists (select * from reports.hubdoc_active_by_province_full()
             except select year, province, active_customers from reports.hubdoc_active_by_province) then
    raise exception 'incremental and full recompute disagree';
  end if;
end $$;
