-- Pleo pack, maintenance: how core.* (and so reports.pleo_cards_per_user) stay
-- current. Everything is kept by statement triggers (AFTER INSERT ...
-- REFERENCING NEW TABLE, FOR EACH STATEMENT) on the staging tables; nothing
-- depends on time, so there is no job.
--
-- A loaded batch holds events for many keys, in any order relative to earlier
-- batches. Each trigger first reduces its transition table to one row per key
-- (the batch's latest event per user or card; one version per card and
-- updated_at), then merges that with what core holds, comparing the event order
-- keys of the header of 0202_core.sql: the result depends on the set of events
-- loaded, not on their order.
--
--   staging.pleo_user -> core.pleo_user: upsert, replacing a row only with a
--     later event.
--   staging.pleo_card -> core.pleo_card: the same; then
--                     -> core.pleo_card_history: for the cards of the batch,
--     their stored versions and the batch's are merged per (card, valid_from),
--     valid_to is recomputed over the card's versions, and the versions that
--     differ are written in one statement (the one-current-row constraint is
--     checked at its end).
--   core.pleo_card -> core.pleo_user_card_counts: statement triggers on
--     INSERT and UPDATE turn the old and new rows (transition tables) into
--     +/- deltas per user_id.
--
-- Concurrent loads (the loader streams batches on several connections; several
-- daemons may share a warehouse). Upserts that keep the later of two events
-- are safe as they are: ON CONFLICT compares with the latest committed row.
-- The history needs more, since it reads the card's stored versions: the
-- upsert into core.pleo_card comes first and locks the row of every card of the
-- batch (ON CONFLICT DO UPDATE locks the row even when its WHERE keeps it), so
-- a batch with the same card waits until this one commits, and the history
-- statement, which runs after it in READ COMMITTED (the loader's isolation
-- level) with a new snapshot, sees every version committed by batches that
-- held the card before; under REPEATABLE READ the wait would end in a
-- serialization failure instead, which the loader retries. The counts
-- are additions, which commute. Rows are taken in key order to keep lock
-- waits from turning into deadlocks; a deadlock that still happens (say a
-- user_id that moves between cards in two orders) is a serialization failure
-- the loader retries (error_kind::transient).
--
-- Measured (PostgreSQL 15, shared 2-core box, so +-30%): 81,000 files from
-- sluice-gen-pleo (1,000 users, 80,000 card events of which 9,130 without
-- user_id, 32k cards, 71k history versions) through `sluice run --once`: 47 s,
-- 40 s with these triggers disabled. The loader made 314 batches of ~225
-- events; the card trigger took 22 ms a batch (7 s in all), the counts
-- triggers 3 ms. Inserted one event per statement instead, the triggers cost
-- 0.11-0.20 ms an event (0.01 ms without), flat while the history grows.

-- Users -------------------------------------------------------------------------------

create function core.pleo_on_user_events() returns trigger
  language plpgsql
as $$
begin
  insert into core.pleo_user as u
         (user_id, name, address, job, score, event_at, event_id, _file_id, _record)
  select distinct on (n.user_id) n.user_id, n.name, n.address, n.job, n.score,
         n.event_at at time zone 'UTC', n.event_id, n._file_id, n._record
    from new_rows n
   order by n.user_id, n.event_at desc, n.event_id collate "C" desc, n._file_id desc, n._record desc
  on conflict (user_id) do update
     set name = excluded.name, address = excluded.address, job = excluded.job,
         score = excluded.score, event_at = excluded.event_at, event_id = excluded.event_id,
         _file_id = excluded._file_id, _record = excluded._record
   where (excluded.event_at, excluded.event_id, excluded._file_id, excluded._record)
         > (u.event_at, u.event_id, u._file_id, u._record);
  return null;
end
$$;
comment on function core.pleo_on_user_events() is
  'Statement trigger on staging.pleo_user: keep each user''s latest event in core.pleo_user.';

create trigger pleo_user_events
  after insert on staging.pleo_user
  referencing new table as new_rows
  for each statement execute function core.pleo_on_user_events();

-- Cards ---------------------------------------------------------------------------------

-- enable_seqscan = off: the stored versions of the batch's cards are an index
-- range each; during a first load the planner has no statistics for
-- core.pleo_card_history yet and, for a batch of a few hundred cards, guessed
-- the whole table and scanned it once per batch (the cost of a batch grew with
-- the history). Nothing else here scans a table.
create function core.pleo_on_card_events() returns trigger
  language plpgsql
  set enable_seqscan = off
as $$
declare
  batch_cards integer[];
begin
  -- Current state; also locks every card of the batch (see the header).
  insert into core.pleo_card as c
         (card_id, user_id, created_by_name, created_at, updated_at, active, event_at, event_id,
          _file_id, _record)
  select distinct on (n.card_id) n.card_id, n.user_id, n.created_by_name,
         n.created_at at time zone 'UTC', n.updated_at at time zone 'UTC', n.active,
         n.event_at at time zone 'UTC', n.event_id, n._file_id, n._record
    from new_rows n
   order by n.card_id, n.updated_at desc, n.event_at desc, n.event_id collate "C" desc,
            n._file_id desc, n._record desc
  on conflict (card_id) do update
     set user_id = excluded.user_id, created_by_name = excluded.created_by_name,
         created_at = excluded.created_at, updated_at = excluded.updated_at,
         active = excluded.active, event_at = excluded.event_at, event_id = excluded.event_id,
         _file_id = excluded._file_id, _record = excluded._record
   where (excluded.updated_at, excluded.event_at, excluded.event_id, excluded._file_id, excluded._record)
         > (c.updated_at, c.event_at, c.event_id, c._file_id, c._record);

  -- History: a new snapshot, taken after the locks above. Every version of the
  -- batch's cards is offered again; ON CONFLICT writes only those that differ.
  select array_agg(distinct n.card_id) into batch_cards from new_rows n;
  with batch as (
    select distinct on (n.card_id, n.updated_at)
           n.card_id, n.updated_at at time zone 'UTC' as valid_from, n.user_id, n.active,
           n.created_by_name, n.created_at at time zone 'UTC' as created_at,
           n.event_at at time zone 'UTC' as event_at, n.event_id collate "C" as event_id,
           n._file_id, n._record,
           (count(*) over (partition by n.card_id, n.updated_at))::integer as events
      from new_rows n
     order by n.card_id, n.updated_at, n.event_at desc, n.event_id collate "C" desc,
              n._file_id desc, n._record desc),
  stored as (
    select h.card_id, h.valid_from, h.valid_to, h.user_id, h.active, h.created_by_name,
           h.created_at, h.event_at, h.event_id, h._file_id, h._record, h.events
      from core.pleo_card_history h
     where h.card_id = any (batch_cards)),
  -- Per (card, valid_from), the later of the stored version's event and the
  -- batch's; the events of both count.
  version as (
    select distinct on (x.card_id, x.valid_from)
           x.card_id, x.valid_from, x.user_id, x.active, x.created_by_name, x.created_at,
           x.event_at, x.event_id, x._file_id, x._record,
           (sum(x.events) over (partition by x.card_id, x.valid_from))::integer as events
      from (select b.card_id, b.valid_from, b.user_id, b.active, b.created_by_name, b.created_at,
                   b.event_at, b.event_id, b._file_id, b._record, b.events
              from batch b
            union all
            select s.card_id, s.valid_from, s.user_id, s.active, s.created_by_name, s.created_at,
                   s.event_at, s.event_id, s._file_id, s._record, s.events
              from stored s) x
     order by x.card_id, x.valid_from, x.event_at desc, x.event_id desc, x._file_id desc,
              x._record desc),
  placed as (
    select v.*,
           coalesce(lead(v.valid_from) over (partition by v.card_id order by v.valid_from),
                    'infinity'::timestamptz) as valid_to
      from version v)
  insert into core.pleo_card_history as h
         (card_id, valid_from, valid_to, user_id, active, created_by_name, created_at, event_at,
          event_id, _file_id, _record, events)
  select p.card_id, p.valid_from, p.valid_to, p.user_id, p.active, p.created_by_name,
         p.created_at, p.event_at, p.event_id, p._file_id, p._record, p.events
    from placed p
   order by p.card_id, p.valid_from
  on conflict (card_id, valid_from) do update
     set valid_to = excluded.valid_to, user_id = excluded.user_id, active = excluded.active,
         created_by_name = excluded.created_by_name, created_at = excluded.created_at,
         event_at = excluded.event_at, event_id = excluded.event_id,
         _file_id = excluded._file_id, _record = excluded._record, events = excluded.events
   where (h.valid_to, h.user_id, h.active, h.created_by_name, h.created_at, h.event_at,
          h.event_id, h._file_id, h._record, h.events)
         is distinct from
         (excluded.valid_to, excluded.user_id, excluded.active, excluded.created_by_name,
          excluded.created_at, excluded.event_at, excluded.event_id, excluded._file_id,
          excluded._record, excluded.events);
  return null;
end
$$;
comment on function core.pleo_on_card_events() is
  'Statement trigger on staging.pleo_card: keep each card''s latest event in core.pleo_card and merge the batch''s versions into core.pleo_card_history.';

create trigger pleo_card_events
  after insert on staging.pleo_card
  referencing new table as new_rows
  for each statement execute function core.pleo_on_card_events();

-- Cards per user ---------------------------------------------------------------------------

create function core.pleo_on_cards_inserted() returns trigger
  language plpgsql
as $$
begin
  insert into core.pleo_user_card_counts as k (user_id, cards, active_cards)
  select n.user_id, count(*), count(*) filter (where n.active)
    from new_cards n
   group by n.user_id
   order by n.user_id
  on conflict (user_id) do update
     set cards = k.cards + excluded.cards, active_cards = k.active_cards + excluded.active_cards;
  return null;
end
$$;
comment on function core.pleo_on_cards_inserted() is
  'Statement trigger on core.pleo_card (INSERT): count the new cards in core.pleo_user_card_counts.';

create function core.pleo_on_cards_updated() returns trigger
  language plpgsql
as $$
declare
  emptied integer[];
begin
  with delta as (
    select d.user_id, sum(d.cards)::integer as cards, sum(d.active_cards)::integer as active_cards
      from (select o.user_id, -1 as cards, -(o.active::integer) as active_cards from old_cards o
            union all
            select n.user_id, 1, n.active::integer from new_cards n) d
     group by d.user_id
    having sum(d.cards) <> 0 or sum(d.active_cards) <> 0),
  counted as (
    insert into core.pleo_user_card_counts as k (user_id, cards, active_cards)
    select delta.user_id, delta.cards, delta.active_cards from delta order by delta.user_id
    on conflict (user_id) do update
       set cards = k.cards + excluded.cards, active_cards = k.active_cards + excluded.active_cards
    returning k.user_id, k.cards)
  select array_agg(counted.user_id) into emptied from counted where counted.cards = 0;

  -- A user_id that no card names any more (its cards moved to another user_id).
  if emptied is not null then
    delete from core.pleo_user_card_counts k where k.user_id = any (emptied) and k.cards = 0;
  end if;
  return null;
end
$$;
comment on function core.pleo_on_cards_updated() is
  'Statement trigger on core.pleo_card (UPDATE): move the changed cards'' counts in core.pleo_user_card_counts (old row -1, new row +1).';

create trigger pleo_cards_inserted
  after insert on core.pleo_card
  referencing new table as new_cards
  for each statement execute function core.pleo_on_cards_inserted();

create trigger pleo_cards_updated
  after update on core.pleo_card
  referencing old table as old_cards new table as new_cards
  for each statement execute function core.pleo_on_cards_updated();

-- Full rebuild -----------------------------------------------------------------------------

create function core.pleo_rebuild() returns void
  language plpgsql
as $$
begin
  truncate core.pleo_user, core.pleo_card, core.pleo_card_history, core.pleo_user_card_counts;
  insert into core.pleo_user select * from core.pleo_user_full();
  -- The counts follow through the INSERT trigger on core.pleo_card.
  insert into core.pleo_card select * from core.pleo_card_full();
  insert into core.pleo_card_history
         (card_id, valid_from, valid_to, user_id, active, created_by_name, created_at, event_at,
          event_id, _file_id, _record, events)
  select * from core.pleo_card_history_full();
end
$$;
comment on function core.pleo_rebuild() is
  'Recompute core.pleo_user, core.pleo_card, core.pleo_card_history and core.pleo_user_card_counts (so reports.pleo_cards_per_user) from staging alone, e.g. after a fix. Takes the tables'' locks for the duration.';
