-- A source's replication slot was sluice_<name>, a name computed from the
-- source's name alone: a second warehouse replicating the same source
-- database under the same source name dropped the first one's slot (its first
-- run drops a slot of that name, taking it for one its own earlier run left)
-- and the first stopped for good. sluice now names a new slot
-- sluice_<name>_<id of the warehouse> and records it here when it makes it;
-- the slot named here is the only one it ever drops. A source that already
-- has its slot keeps it under its old name.

alter table sluice.sources alter column slot_name drop expression;
alter table sluice.sources alter column slot_name drop not null;
-- Not copied yet: no slot of ours to keep, and a slot named sluice_<name> on
-- the source may be another warehouse's (sluice warns of it and leaves it).
update sluice.sources set slot_name = null where state = 'new';

comment on column sluice.sources.slot_name is 'The logical replication slot this warehouse made on the source and streams from, recorded when it made it: sluice_<name>_<8 hex digits of this warehouse''s id>, or sluice_<name> for sources added before that (or the name given at insert); NULL until the first run. sluice drops no other slot. Drop it on the source (pg_drop_replication_slot) when you delete the source.';
comment on table sluice.sources is 'Application databases replicated into the warehouse, one row each: insert a row to add one (README "Change data capture"). sluice creates and owns the replication slot slot_name names.';
