-- Rejects of replication sources: a change the warehouse refused (a value
-- that does not fit a staging column a user narrowed, a CHECK constraint
-- added there) is kept like a file's refused record, with the source and the
-- LSN of its transaction as its position instead of a file and a line.

alter table sluice.rejects alter column file_id drop not null,
                           alter column line drop not null,
                           alter column byte_offset drop not null,
                           add column source text,
                           add column lsn pg_lsn,
                           add constraint rejects_from_a_file_or_a_source check (
                             (file_id is not null and source is null and lsn is null
                              and line is not null and byte_offset is not null)
                             or (file_id is null and source is not null and lsn is not null));
create index rejects_source on sluice.rejects (source, lsn, record) where source is not null;

comment on column sluice.rejects.file_id is 'The file (sluice.files.id); NULL for a change of a replication source (see source, lsn).';
comment on column sluice.rejects.feed is 'The feed that read it; for a change of a replication source, the staging table it was for.';
comment on column sluice.rejects.record is '1-based ordinal of the record in its file (same numbering as staging._record); for a change of a replication source, its _seq within its transaction.';
comment on column sluice.rejects.line is '1-based line of the file where the record starts; NULL for a change of a replication source.';
comment on column sluice.rejects.byte_offset is '0-based byte offset in the file where the record starts; NULL for a change of a replication source.';
comment on column sluice.rejects.raw is 'The record as it was in the file (invalid UTF-8 and NUL shown as U+FFFD; exact bytes in raw_bytes); for a change of a replication source, the operation and each column''s value as the source sent it.';
comment on column sluice.rejects.source is 'The replication source (sluice.sources.name) whose change this was; NULL for a file''s record.';
comment on column sluice.rejects.lsn is 'Commit LSN of the source transaction that held the change (staging._lsn); NULL for a file''s record.';
