-- Issue 15: after `sluice reload` removed a file's rows, the Hubdoc tables of
-- core and reports are recomputed from staging (its jobs only add).
insert into sluice.rebuilds (name, pack, inputs, command) values
  ('hubdoc', 'hubdoc',
   '{staging.hubdoc_login,staging.hubdoc_page_access,staging.hubdoc_upload,staging.hubdoc_signup,staging.hubdoc_plan_change}',
   'select reports.hubdoc_rebuild()');
