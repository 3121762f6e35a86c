-- Issue 15: the Hubdoc reports follow a loaded file within a second. The
-- job's inputs are the pack's staging tables, so a commit into any of them
-- runs it at once; its 2-second timer stays for the as-of time (the latest
-- event seen, or a set one) that moves without new rows.
update sluice.jobs
   set inputs = array['staging.hubdoc_login', 'staging.hubdoc_page_access', 'staging.hubdoc_upload',
                      'staging.hubdoc_signup', 'staging.hubdoc_plan_change']
 where name = 'hubdoc_reports';
