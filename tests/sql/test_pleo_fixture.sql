-- The Pleo pack on a small hand-computed fixture: users, cards, card history
-- and cards per user after each of three batches, loaded as the loader would
-- (rows straight into staging, one event per file, several statements and
-- transactions, in the wrong order).
--
-- Run by tests/sql/run_sql_test.sh in a fresh migrated database.
--
-- Times are UTC (staging holds them naive). Event ids are short readable
-- strings; only their order matters: of two events of one key in one second,
-- the one with the greater event_id is the later.
--
-- Users
--   1  "Ann Berg" 10:05 (u1b, batch 1), then an older event "Ann" 10:00 (u1a, batch 2): stays Ann Berg.
--   2  two events in the same second, 10:00, in one batch: u2b (Bo Bright) wins over u2a (Bo), listed after it.
--   3  one event (batch 2), no card of their own until card 14 moves to them.
--   1000  named by card 11 from batch 1 on; its user event arrives in batch 3: unknown, then known.
--   4  named by card 14 at first, never described: unknown, and gone from the report once card 14 moves.
-- Cards
--   10 (user 1)   created 11:00 active (c10a, batch 2); changed 11:00, same second, inactive (c10b,
--                 batch 3, greater id: wins); changed 12:00 active (c10c, batch 1, first to arrive).
--                 -> [11:00, 12:00) inactive (2 events), [12:00, inf) active.
--   11 (user 1000) created 11:30 active (c11a) and changed 11:30 inactive (c11b), both in batch 1, the
--                 winner listed first; changed 13:00 active (c11c, batch 3).
--                 -> [11:30, 13:00) inactive (2 events), [13:00, inf) active.
--   12 (user 2)   changed 11:45 inactive (c12b, batch 1) before its creation 11:15 active (c12a,
--                 batch 2); in batch 3 another event at 11:45, active, with a smaller id (c12_0): it
--                 loses (still inactive) but counts.
--                 -> [11:15, 11:45) active, [11:45, inf) inactive (2 events).
--   13 (no user)  refused by staging (user_id NOT NULL): the loader makes it a reject; not in core.
--   14 (user 4 -> 3) created 09:00 for user 4 (c14a, batch 2), changed 09:30 to user 3 (c14b, batch 3).
--                 -> [09:00, 09:30) user 4, [09:30, inf) user 3.

\set ON_ERROR_STOP 1
\o /dev/null
set client_min_messages = warning;
set synchronous_commit = off;
-- Results must not depend on the session's time zone.
set timezone = 'Pacific/Auckland';

\ir lib/helpers.sql

-- Batch 1: changes before creations; a user's later event before their earlier one.
begin;
insert into staging.pleo_card (_file_id, _record, event_id, event_at, card_id, user_id,
                               created_by_name, updated_at, created_at, active) values
  (1, 1, 'c10c', '2026-01-05 12:00:00', 10, 1, 'Ann', '2026-01-05 12:00:00', '2026-01-05 11:00:00', true),
  (2, 1, 'c11b', '2026-01-05 11:30:00', 11, 1000, 'Max', '2026-01-05 11:30:00', '2026-01-05 11:30:00', false),
  (3, 1, 'c11a', '2026-01-05 11:30:00', 11, 1000, 'Max', '2026-01-05 11:30:00', '2026-01-05 11:30:00', true),
  (4, 1, 'c12b', '2026-01-05 11:45:00', 12, 2, 'Bo', '2026-01-05 11:45:00', '2026-01-05 11:15:00', false);
insert into staging.pleo_user (_file_id, _record, event_id, event_at, user_id, name, address, job, score) values
  (5, 1, 'u1b', '2026-01-05 10:05:00', 1, 'Ann Berg', E'1 Main St.\nTown 1, ST 11111', 'Nurse', 0.5);
commit;

select pg_temp.assert_same('users after batch 1',
  'select user_id, name, job, event_at, event_id from core.pleo_user',
  $$values (1, 'Ann Berg', 'Nurse', timestamptz '2026-01-05 10:05:00Z', 'u1b')$$);
select pg_temp.assert_same('cards after batch 1',
  'select card_id, user_id, created_at, updated_at, active, event_id from core.pleo_card',
  $$values (10, 1, timestamptz '2026-01-05 11:00:00Z', timestamptz '2026-01-05 12:00:00Z', true, 'c10c'),
           (11, 1000, '2026-01-05 11:30:00Z', '2026-01-05 11:30:00Z', false, 'c11b'),
           (12, 2, '2026-01-05 11:15:00Z', '2026-01-05 11:45:00Z', false, 'c12b')$$);
select pg_temp.assert_same('history after batch 1',
  'select card_id, valid_from, valid_to, user_id, active, event_id, events from core.pleo_card_history',
  $$values (10, timestamptz '2026-01-05 12:00:00Z', timestamptz 'infinity', 1, true, 'c10c', 1),
           (11, '2026-01-05 11:30:00Z', 'infinity', 1000, false, 'c11b', 2),
           (12, '2026-01-05 11:45:00Z', 'infinity', 2, false, 'c12b', 1)$$);
select pg_temp.assert_same('cards per user after batch 1',
  'select * from reports.pleo_cards_per_user',
  $$values (1, true, 1, 1), (2, false, 1, 0), (1000, false, 1, 0)$$);
select pg_temp.assert_same('card 11''s user is unknown after batch 1',
  'select card_id, user_known, user_name from core.pleo_card_with_user where card_id = 11',
  $$values (11, false, null::text)$$);

-- Batch 2: two statements per table in one transaction; an older user event;
-- two events of one user in one second; creations that arrive after changes.
begin;
insert into staging.pleo_user (_file_id, _record, event_id, event_at, user_id, name, address, job, score) values
  (6, 1, 'u1a', '2026-01-05 10:00:00', 1, 'Ann', E'1 Main St.\nTown 1, ST 11111', 'Pilot', 0.4),
  (7, 1, 'u2a', '2026-01-05 10:00:00', 2, 'Bo', E'2 Main St.\nTown 2, ST 22222', 'Pilot', 0.2);
insert into staging.pleo_user (_file_id, _record, event_id, event_at, user_id, name, address, job, score) values
  (8, 1, 'u2b', '2026-01-05 10:00:00', 2, 'Bo Bright', E'2 Main St.\nTown 2, ST 22222', 'Engineer', 0.25),
  (9, 1, 'u3a', '2026-01-05 10:10:00', 3, 'Cy', E'3 Main St.\nTown 3, ST 33333', 'Nurse', 0.3);
insert into staging.pleo_card (_file_id, _record, event_id, event_at, card_id, user_id,
                               created_by_name, updated_at, created_at, active) values
  (10, 1, 'c10a', '2026-01-05 11:00:00', 10, 1, 'Ann', '2026-01-05 11:00:00', '2026-01-05 11:00:00', true);
insert into staging.pleo_card (_file_id, _record, event_id, event_at, card_id, user_id,
                               created_by_name, updated_at, created_at, active) values
  (11, 1, 'c12a', '2026-01-05 11:15:00', 12, 2, 'Bo', '2026-01-05 11:15:00', '2026-01-05 11:15:00', true),
  (12, 1, 'c14a', '2026-01-05 09:00:00', 14, 4, 'Di', '2026-01-05 09:00:00', '2026-01-05 09:00:00', true);
commit;

-- A card event without user_id: staging refuses it (the loader checks the same
-- NOT NULL and writes a reject naming /payload/user_id instead).
do $$
begin
  insert into staging.pleo_card (_file_id, _record, event_id, event_at, card_id, user_id,
                                 created_by_name, updated_at, created_at, active)
  values (13, 1, 'c13a', '2026-01-05 11:20:00', 13, null, 'Eve', '2026-01-05 11:20:00',
          '2026-01-05 11:20:00', true);
  raise exception 'a card event without user_id was accepted by staging.pleo_card';
exception
  when not_null_violation then null;
end
$$;
select pg_temp.assert_same('the cards feed maps /payload/user_id to a NOT NULL column',
  $$select c.json_pointer, a.attnotnull
      from sluice.feed_columns c
      join pg_attribute a on a.attrelid = c.target_table::regclass and a.attname = c.column_name
     where c.feed = 'pleo_cards' and c.column_name = 'user_id'$$,
  $$values ('/payload/user_id', true)$$);

select pg_temp.assert_same('users after batch 2',
  'select user_id, name, job, event_at, event_id from core.pleo_user',
  $$values (1, 'Ann Berg', 'Nurse', timestamptz '2026-01-05 10:05:00Z', 'u1b'),
           (2, 'Bo Bright', 'Engineer', '2026-01-05 10:00:00Z', 'u2b'),
           (3, 'Cy', 'Nurse', '2026-01-05 10:10:00Z', 'u3a')$$);
select pg_temp.assert_same('cards after batch 2',
  'select card_id, user_id, created_at, updated_at, active, event_id from core.pleo_card',
  $$values (10, 1, timestamptz '2026-01-05 11:00:00Z', timestamptz '2026-01-05 12:00:00Z', true, 'c10c'),
           (11, 1000, '2026-01-05 11:30:00Z', '2026-01-05 11:30:00Z', false, 'c11b'),
           (12, 2, '2026-01-05 11:15:00Z', '2026-01-05 11:45:00Z', false, 'c12b'),
           (14, 4, '2026-01-05 09:00:00Z', '2026-01-05 09:00:00Z', true, 'c14a')$$);
select pg_temp.assert_same('history after batch 2',
  'select card_id, valid_from, valid_to, user_id, active, event_id, events from core.pleo_card_history',
  $$values (10, timestamptz '2026-01-05 11:00:00Z', timestamptz '2026-01-05 12:00:00Z', 1, true, 'c10a', 1),
           (10, '2026-01-05 12:00:00Z', 'infinity', 1, true, 'c10c', 1),
           (11, '2026-01-05 11:30:00Z', 'infinity', 1000, false, 'c11b', 2),
           (12, '2026-01-05 11:15:00Z', '2026-01-05 11:45:00Z', 2, true, 'c12a', 1),
           (12, '2026-01-05 11:45:00Z', 'infinity', 2, false, 'c12b', 1),
           (14, '2026-01-05 09:00:00Z', 'infinity', 4, true, 'c14a', 1)$$);
select pg_temp.assert_same('cards per user after batch 2',
  'select * from reports.pleo_cards_per_user',
  $$values (1, true, 1, 1), (2, true, 1, 0), (3, true, 0, 0), (4, false, 1, 1), (1000, false, 1, 0)$$);

-- Batch 3: one transaction per statement. The same-second change of card 10
-- arrives after the version it belongs to; card 14 moves to user 3; user 1000
-- arrives after their card.
insert into staging.pleo_card (_file_id, _record, event_id, event_at, card_id, user_id,
                               created_by_name, updated_at, created_at, active) values
  (14, 1, 'c10b', '2026-01-05 11:00:00', 10, 1, 'Ann', '2026-01-05 11:00:00', '2026-01-05 11:00:00', false),
  (15, 1, 'c14b', '2026-01-05 09:30:00', 14, 3, 'Di', '2026-01-05 09:30:00', '2026-01-05 09:00:00', true);
insert into staging.pleo_card (_file_id, _record, event_id, event_at, card_id, user_id,
                               created_by_name, updated_at, created_at, active) values
  (16, 1, 'c11c', '2026-01-05 13:00:00', 11, 1000, 'Max', '2026-01-05 13:00:00', '2026-01-05 11:30:00', true),
  (17, 1, 'c12_0', '2026-01-05 11:45:00', 12, 2, 'Bo', '2026-01-05 11:45:00', '2026-01-05 11:15:00', true);
insert into staging.pleo_user (_file_id, _record, event_id, event_at, user_id, name, address, job, score) values
  (18, 1, 'u1000a', '2026-01-05 10:30:00', 1000, 'Max Late', E'1000 Main St.\nTown 9, ST 99999', 'Pilot', 0.9);

select pg_temp.assert_same('users at the end',
  'select user_id, name, address, job, score, event_at, event_id, _file_id, _record from core.pleo_user',
  $$values (1, 'Ann Berg', E'1 Main St.\nTown 1, ST 11111', 'Nurse', 0.5::float8, timestamptz '2026-01-05 10:05:00Z', 'u1b', 5::bigint, 1::bigint),
           (2, 'Bo Bright', E'2 Main St.\nTown 2, ST 22222', 'Engineer', 0.25, '2026-01-05 10:00:00Z', 'u2b', 8, 1),
           (3, 'Cy', E'3 Main St.\nTown 3, ST 33333', 'Nurse', 0.3, '2026-01-05 10:10:00Z', 'u3a', 9, 1),
           (1000, 'Max Late', E'1000 Main St.\nTown 9, ST 99999', 'Pilot', 0.9, '2026-01-05 10:30:00Z', 'u1000a', 18, 1)$$);
select pg_temp.assert_same('cards at the end',
  'select * from core.pleo_card',
  $$values (10, 1, 'Ann', timestamptz '2026-01-05 11:00:00Z', timestamptz '2026-01-05 12:00:00Z', true,
            timestamptz '2026-01-05 12:00:00Z', 'c10c', 1::bigint, 1::bigint),
           (11, 1000, 'Max', '2026-01-05 11:30:00Z', '2026-01-05 13:00:00Z', true, '2026-01-05 13:00:00Z', 'c11c', 16, 1),
           (12, 2, 'Bo', '2026-01-05 11:15:00Z', '2026-01-05 11:45:00Z', false, '2026-01-05 11:45:00Z', 'c12b', 4, 1),
           (14, 3, 'Di', '2026-01-05 09:00:00Z', '2026-01-05 09:30:00Z', true, '2026-01-05 09:30:00Z', 'c14b', 15, 1)$$);
select pg_temp.assert_same('history at the end',
  'select card_id, valid_from, valid_to, is_current, user_id, active, event_id, events from core.pleo_card_history',
  $$values (10, timestamptz '2026-01-05 11:00:00Z', timestamptz '2026-01-05 12:00:00Z', false, 1, false, 'c10b', 2),
           (10, '2026-01-05 12:00:00Z', 'infinity', true, 1, true, 'c10c', 1),
           (11, '2026-01-05 11:30:00Z', '2026-01-05 13:00:00Z', false, 1000, false, 'c11b', 2),
           (11, '2026-01-05 13:00:00Z', 'infinity', true, 1000, true, 'c11c', 1),
           (12, '2026-01-05 11:15:00Z', '2026-01-05 11:45:00Z', false, 2, true, 'c12a', 1),
           (12, '2026-01-05 11:45:00Z', 'infinity', true, 2, false, 'c12b', 2),
           (14, '2026-01-05 09:00:00Z', '2026-01-05 09:30:00Z', false, 4, true, 'c14a', 1),
           (14, '2026-01-05 09:30:00Z', 'infinity', true, 3, true, 'c14b', 1)$$);
select pg_temp.assert_same('cards per user at the end: 1000 known, 4 gone',
  'select * from reports.pleo_cards_per_user',
  $$values (1, true, 1, 1), (2, true, 1, 0), (3, true, 1, 1), (1000, true, 1, 1)$$);
select pg_temp.assert_same('card 11''s user is known once their event arrived',
  'select card_id, user_known, user_name from core.pleo_card_with_user where card_id = 11',
  $$values (11, true, 'Max Late')$$);
select pg_temp.assert_same('the version in effect at 11:59:59 is one row per card',
  $$select card_id, active from core.pleo_card_history
     where valid_from <= timestamptz '2026-01-05 11:59:59Z' and timestamptz '2026-01-05 11:59:59Z' < valid_to$$,
  $$values (10, false), (11, false), (12, false), (14, true)$$);

-- The full recomputes agree, and a rebuild from staging gives the same tables.
select pg_temp.assert_same('core.pleo_user equals its full recompute',
  'select * from core.pleo_user', 'select * from core.pleo_user_full()');
select pg_temp.assert_same('core.pleo_card equals its full recompute',
  'select * from core.pleo_card', 'select * from core.pleo_card_full()');
select pg_temp.assert_same('core.pleo_card_history equals its full recompute',
  $$select card_id, valid_from, valid_to, user_id, active, created_by_name, created_at, event_at,
           event_id, _file_id, _record, events from core.pleo_card_history$$,
  'select * from core.pleo_card_history_full()');
select pg_temp.assert_same('the report equals its full recompute',
  'select * from reports.pleo_cards_per_user', 'select * from reports.pleo_cards_per_user_full()');

create temp table before_rebuild as
select 'user' as t, to_jsonb(x) as row from core.pleo_user x
union all select 'card', to_jsonb(x) from core.pleo_card x
union all select 'history', to_jsonb(x) from core.pleo_card_history x
union all select 'report', to_jsonb(x) from reports.pleo_cards_per_user x;
select core.pleo_rebuild();
select pg_temp.assert_same('a rebuild gives what the triggers kept',
  $$select 'user' as t, to_jsonb(x) as row from core.pleo_user x
    union all select 'card', to_jsonb(x) from core.pleo_card x
    union all select 'history', to_jsonb(x) from core.pleo_card_history x
    union all select 'report', to_jsonb(x) from reports.pleo_cards_per_user x$$,
  'select * from before_rebuild');
