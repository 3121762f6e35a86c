-- A file written in place (cp, a service's open-write-close) is seen while it
-- is still being written. When its first bytes are those of a file of its
-- feed that is loaded or loading, it is not read until it has settled (then
-- its whole content decides: a duplicate, or a file of its own) or has
-- outgrown that file: before, `cp` of a loaded log with the daemon running
-- stored it again.
--
-- The first bytes are looked up by index, never by scanning candidates:
-- head_hash (the first 4 KiB) for a copy seen with at least 4 KiB, lead_hash
-- (the first line) for one seen shorter.

alter table sluice.files add column lead_hash text;

create index files_lead on sluice.files (feed, lead_hash)
  where state in ('loading', 'loaded') and lead_hash is not null;
create index files_head on sluice.files (feed, head_hash)
  where state in ('loading', 'loaded');

comment on column sluice.files.lead_hash is 'XXH3-128 of the file''s first line (through its line break, at most 4 KiB) when its row was made; NULL for compressed files and rows from before ledger version 8. A file seen while it is written whose first line is this one waits until it settles or outgrows this file.';
