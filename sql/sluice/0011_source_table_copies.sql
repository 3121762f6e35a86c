-- A table added to a source's publication while sluice streams it was never
-- copied: pgoutput streams a table's changes only from the moment it is in
-- the publication, so the mirror held only the rows changed since. sluice
-- now copies such a table (found in the stream, or in the publication when a
-- run starts and every 30 s) inside a snapshot taken at a known LSN of the
-- source, and applies the table's streamed changes only from that LSN on:
-- the ones before are in the copy. That LSN is kept here, with the copy's
-- rows, so that a restart skips them as well.

create table sluice.source_copies (
  source      text not null references sluice.sources (name) on delete cascade on update cascade,
  source_table text not null,
  copied_lsn  pg_lsn,
  copied_at   timestamptz,
  primary key (source, source_table)
);
comment on table sluice.source_copies is 'Tables of a source copied after its initial snapshot (added to its publication since), one row each; the initial snapshot''s tables are not here.';
comment on column sluice.source_copies.source is 'The source (sluice.sources.name).';
comment on column sluice.source_copies.source_table is 'The table on the source, schema.name.';
comment on column sluice.source_copies.copied_lsn is 'The source LSN the copy was taken at: its changes committed before it are in the copy (staging rows _op r at this _lsn), the ones after are streamed. NULL while the copy is under way (it is taken again after a crash).';
comment on column sluice.source_copies.copied_at is 'When the copy committed.';
