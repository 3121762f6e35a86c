-- The ledger learns file identity that can never lose a record (see
-- warehouse/src/file_ledger.cpp, where every statement on sluice.files lives).
--
-- * A live file is the same file when its (device, inode) is: a rename to any
--   name keeps its row. A restart trusts (device, inode, size, mtime) as they
--   were at the last commit before it reads anything; a file that grew is
--   checked by the hash of the 4 KiB before bytes_done (guard_hash), never by
--   re-reading what was loaded.
-- * A settled file is a duplicate only when its whole content (size and hash)
--   equals a file of the same feed that is loaded (content_size, content_hash).
-- * Files that are not loaded say why (state refused or gone, with reason).

alter table sluice.files
  add column device       bigint,
  add column inode        bigint,
  add column size_seen    bigint,
  add column mtime_ns     bigint,
  add column guard_hash   text not null default '',
  add column content_size bigint,
  add column content_hash text,
  add column reason       text,
  alter column head_hash set default '',
  alter column done_hash set default '';

alter table sluice.files drop constraint files_state_check;
alter table sluice.files add constraint files_state_check
  check (state in ('loading', 'loaded', 'duplicate', 'replaced', 'refused', 'gone'));

drop index sluice.files_head;
drop index sluice.files_path;
create index files_path on sluice.files (path) where state in ('loading', 'loaded', 'duplicate', 'refused');
create index files_inode on sluice.files (device, inode) where state in ('loading', 'loaded', 'duplicate', 'replaced');
create index files_content on sluice.files (feed, content_size, content_hash)
  where state in ('loading', 'loaded');

comment on column sluice.files.state is 'loading: being read, or waiting for more (a line without its newline waits in the daemon); loaded: read to its end once it had settled (loaded again from bytes_done if it grows); duplicate: the same content as duplicate_of, whose rows are in staging under that file (if it grows, what is new is loaded under this row); replaced: the path now holds another file, or the file was rewritten in place (loaded as a new row; a replaced file found again under another name is followed again); refused: not read at all (see reason); gone: deleted before it was loaded to its end (see reason).';
comment on column sluice.files.path is 'Path relative to the inbox where the file was last seen (a rotated log keeps the name it was rotated to).';
comment on column sluice.files.head_hash is 'XXH3-128 of the (at most) 4 KiB at the start of what was loaded: with guard_hash, a touched file is checked against it instead of being re-read. (Rows from before ledger version 2: the hash of the first line.)';
comment on column sluice.files.device is 'st_dev of the file when its last batch committed: with inode, identifies a file across renames.';
comment on column sluice.files.inode is 'st_ino of the file when its last batch committed.';
comment on column sluice.files.size_seen is 'Size of the file when its last batch committed: with mtime_ns unchanged, a restart trusts the row without reading the file.';
comment on column sluice.files.mtime_ns is 'Modification time (ns since the epoch) when its last batch committed.';
comment on column sluice.files.guard_hash is 'XXH3-128 of the (at most) 4 KiB just before bytes_done: a grown or renamed file is checked against it instead of being re-read.';
comment on column sluice.files.content_size is 'Size of the whole file when it was settled (complete): with content_hash, a later copy of it is recognised as a duplicate.';
comment on column sluice.files.content_hash is 'XXH3-128 of the whole settled file (NULL while it is a growing log).';
comment on column sluice.files.reason is 'Why a refused, gone or duplicate file was not loaded, in words a person can act on.';
comment on column sluice.files.done_hash is 'XXH3-128 chain over bytes [0, bytes_done): a load that resumes at bytes_done hashes this digest, then the new bytes, so nothing loaded is re-read. Checked by every batch that advances the row.';
