-- Concurrent loads: the loader streams batches on several connections, so two
-- batches with events of one card (or one user) can be in flight at once.
-- Two dblink sessions play those batches: session a inserts and holds its
-- transaction open, session b inserts meanwhile, then a commits. The result
-- must equal the full recompute, as if they had run one after the other.
--
--   1. Same card: b's change falls between a's two versions. b must wait for a
--      (the card row lock), then merge with a's versions: three versions, not
--      two histories that each miss the other's events.
--   2. Same user, different cards: both add to the user's card count.
--   3. A user event committed while a batch with that user's card is still
--      open: the user is known once both committed.
--
-- Run by tests/sql/run_sql_test.sh in a fresh migrated database. Needs the
-- dblink extension (in Debian's postgresql package) and a server that lets its
-- superuser connect to itself over its unix socket without a password, as the
-- throwaway cluster of scripts/test.sh does.

\set ON_ERROR_STOP 1
\o /dev/null
set client_min_messages = warning;
set timezone = 'UTC';

\ir lib/helpers.sql

\ir lib/sessions.sql

select pg_temp.connect('a');
select pg_temp.connect('b') as b_pid \gset

-- 1. Same card ---------------------------------------------------------------------------------
select dblink_exec('a', 'begin');
select dblink_exec('a', $$
  insert into staging.pleo_card (_file_id, _record, event_id, event_at, card_id, user_id,
                                 created_by_name, updated_at, created_at, active) values
    (1, 1, 'a1', '2026-01-05 10:00:00', 1, 7, 'Ann', '2026-01-05 10:00:00', '2026-01-05 10:00:00', true),
    (2, 1, 'a3', '2026-01-05 10:05:00', 1, 7, 'Ann', '2026-01-05 10:05:00', '2026-01-05 10:00:00', false)$$);
select pg_temp.start('b', $$
  insert into staging.pleo_card (_file_id, _record, event_id, event_at, card_id, user_id,
                                 created_by_name, updated_at, created_at, active) values
    (3, 1, 'b2', '2026-01-05 10:02:00', 1, 7, 'Ann', '2026-01-05 10:02:00', '2026-01-05 10:00:00', false)$$);
select pg_temp.assert_true('a batch with a card another open batch holds waits for it', pg_temp.blocked(:b_pid));
select dblink_exec('a', 'commit');
select pg_temp.finish('b');

select pg_temp.assert_same('both batches'' versions of the card, in order',
  'select card_id, valid_from, valid_to, active, event_id from core.pleo_card_history',
  $$values (1, timestamptz '2026-01-05 10:00:00Z', timestamptz '2026-01-05 10:02:00Z', true, 'a1'),
           (1, '2026-01-05 10:02:00Z', '2026-01-05 10:05:00Z', false, 'b2'),
           (1, '2026-01-05 10:05:00Z', 'infinity', false, 'a3')$$);

-- 2. Same user, different cards ----------------------------------------------------------------
select dblink_exec('a', 'begin');
select dblink_exec('a', $$
  insert into staging.pleo_card (_file_id, _record, event_id, event_at, card_id, user_id,
                                 created_by_name, updated_at, created_at, active) values
    (4, 1, 'a4', '2026-01-05 11:00:00', 2, 7, 'Ann', '2026-01-05 11:00:00', '2026-01-05 11:00:00', true),
    (5, 1, 'a5', '2026-01-05 11:00:00', 3, 8, 'Bo', '2026-01-05 11:00:00', '2026-01-05 11:00:00', true)$$);
select pg_temp.start('b', $$
  insert into staging.pleo_card (_file_id, _record, event_id, event_at, card_id, user_id,
                                 created_by_name, updated_at, created_at, active) values
    (6, 1, 'b6', '2026-01-05 11:00:01', 4, 8, 'Bo', '2026-01-05 11:00:01', '2026-01-05 11:00:01', true)$$);
select pg_temp.assert_true('counting a card of a user another open batch counts waits for it', pg_temp.blocked(:b_pid));
select dblink_exec('a', 'commit');
select pg_temp.finish('b');

-- 3. A user committed while a batch with their card is open --------------------------------------
select dblink_exec('a', 'begin');
select dblink_exec('a', $$
  insert into staging.pleo_card (_file_id, _record, event_id, event_at, card_id, user_id,
                                 created_by_name, updated_at, created_at, active) values
    (7, 1, 'a7', '2026-01-05 12:00:00', 5, 50, 'Cy', '2026-01-05 12:00:00', '2026-01-05 12:00:00', false)$$);
select dblink_exec('b', $$
  insert into staging.pleo_user (_file_id, _record, event_id, event_at, user_id, name, address, job, score)
  values (8, 1, 'b8', '2026-01-05 09:00:00', 50, 'Cy', E'5 Main St.\nTown 5, ST 55555', 'Pilot', 0.5)$$);
select dblink_exec('a', 'commit');

select pg_temp.assert_same('cards per user after the concurrent batches',
  'select * from reports.pleo_cards_per_user',
  $$values (7, false, 2, 1), (8, false, 2, 2), (50, true, 1, 0)$$);
select pg_temp.assert_same('the user committed meanwhile is known',
  'select card_id, user_known from core.pleo_card_with_user where card_id = 5',
  $$values (5, true)$$);

select pg_temp.assert_same('users equal their full recompute',
  'select * from core.pleo_user', 'select * from core.pleo_user_full()');
select pg_temp.assert_same('cards equal their full recompute',
  'select * from core.pleo_card', 'select * from core.pleo_card_full()');
select pg_temp.assert_same('the card history equals its full recompute',
  $$select card_id, valid_from, valid_to, user_id, active, created_by_name, created_at, event_at,
           event_id, _file_id, _record, events from core.pleo_card_history$$,
  'select * from core.pleo_card_history_full()');
select pg_temp.assert_same('the report equals its full recompute',
  'select * from reports.pleo_cards_per_user', 'select * from reports.pleo_cards_per_user_full()');

select dblink_disconnect('a');
select dblink_disconnect('b');
