-- A source transaction too large to hold is committed in several batches
-- (issue "Change data capture", long transactions): the position of a source
-- is then the last whole transaction plus how far into the next one the
-- warehouse holds. And the end of the last whole transaction's commit record,
-- the most the slot can have been confirmed to, tells a slot recreated behind
-- sluice's back (its confirmed position is past it) from ours.

alter table sluice.sources
  add column applied_end_lsn pg_lsn,
  add column partial_lsn pg_lsn,
  add column partial_seq integer,
  add constraint sources_partial_whole check ((partial_lsn is null) = (partial_seq is null));
comment on column sluice.sources.applied_end_lsn is 'End of the commit record of the transaction at applied_lsn (the snapshot''s consistent point after the copy): the slot is never confirmed past it, so a slot confirmed further was recreated or advanced behind sluice''s back. NULL for sources streamed before sluice recorded it.';
comment on column sluice.sources.partial_lsn is 'Commit LSN of a source transaction after applied_lsn whose first changes (up to partial_seq) are already committed in the warehouse, because it was too large for one batch; NULL when none. On restart the source sends it again and those changes are skipped.';
comment on column sluice.sources.partial_seq is 'The _seq of the last change of the transaction at partial_lsn committed in the warehouse; NULL when none.';
comment on column sluice.sources.applied_lsn is 'Commit LSN of the last source transaction whose changes are all committed in the warehouse; streaming resumes after it (and after partial_seq of the transaction at partial_lsn).';
