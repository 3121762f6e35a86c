-- Issue 15: report settings move out of `reports`, which sluice_reader reads
-- (BI users), into `settings`, which the warehouse's owner writes and
-- sluice_loader (the jobs) reads. reports.hubdoc_settings becomes
-- settings.hubdoc; the two functions that read it are rewritten to the new
-- name (their text otherwise unchanged).

create schema if not exists settings;
comment on schema settings is 'Settings of the packs'' reports, one table per pack: changed by the warehouse''s owner (e.g. scripts/psql), read by the jobs (sluice_loader); sluice_reader cannot see them.';

alter table reports.hubdoc_settings set schema settings;
alter table settings.hubdoc_settings rename to hubdoc;
alter index settings.hubdoc_settings_one_row rename to hubdoc_one_row;
comment on table settings.hubdoc is 'Settings of the Hubdoc reports; exactly one row. Takes effect at the next run of the hubdoc_reports job (sluice.jobs).';

do $$
declare
  f regprocedure;
  def text;
begin
  foreach f in array array['reports.hubdoc_as_of_full()'::regprocedure,
                           'reports.hubdoc_refresh(xid8, xid8)'::regprocedure] loop
    def := pg_get_functiondef(f);
    if position('reports.hubdoc_settings' in def) = 0 then
      raise exception 'sluice: % does not read reports.hubdoc_settings as hubdoc/0009 expects', f;
    end if;
    execute replace(def, 'reports.hubdoc_settings', 'settings.hubdoc');
  end loop;
end
$$;
comment on column core.hubdoc_refresh_state.as_of_setting is 'settings.hubdoc.as_of at that run; when the setting differs, the next run re-examines every account.';
