-- Incremental equals full, and the card history is well-formed: Pleo user and
-- card events, generated with a fixed seed (many changes of a card in one
-- second, unknown users, cards that move to another user), are inserted in
-- shuffled order in batches of very different sizes (one INSERT per staging
-- table per batch, as the loader's COPY does). Along the way and at the end,
-- every core table and the report must equal its full recompute from staging,
-- and every card must have exactly one current version and no overlapping or
-- empty ones.
--
-- Run by tests/sql/run_sql_test.sh in a fresh migrated database.

\set ON_ERROR_STOP 1
\o /dev/null
set client_min_messages = warning;
-- Speed only: each batch commits on its own, and the plans here are cheap.
set synchronous_commit = off;
set jit = off;
set timezone = 'America/Vancouver';

\ir lib/helpers.sql

create function pg_temp.assert_core_equals_full(label text) returns void
  language plpgsql
as $$
begin
  perform pg_temp.assert_same(label || ': users',
    'select * from core.pleo_user', 'select * from core.pleo_user_full()');
  perform pg_temp.assert_same(label || ': cards',
    'select * from core.pleo_card', 'select * from core.pleo_card_full()');
  perform pg_temp.assert_same(label || ': card history',
    $q$select card_id, valid_from, valid_to, user_id, active, created_by_name, created_at, event_at,
              event_id, _file_id, _record, events from core.pleo_card_history$q$,
    'select * from core.pleo_card_history_full()');
  perform pg_temp.assert_same(label || ': cards per user',
    'select * from reports.pleo_cards_per_user', 'select * from reports.pleo_cards_per_user_full()');
end
$$;

-- Generate the events -------------------------------------------------------------------
-- Users 0..299 have one to three events each, within two minutes (ties on
-- event_at are common); user 1000, named by some cards, gets its one event in
-- the last batch. Cards 0..599: a creation within ten minutes, then up to six
-- changes each 0-2 seconds after the previous (so several in one second), a
-- few of them moving the card to another user. 5% of cards belong to user
-- 1000, 3% to users 300..309 that never get an event.

select setseed(0.2718281);

create temp table ev (
  kind            text not null,
  event_id        text not null,
  event_at        timestamp not null,
  id              integer not null,   -- user id or card id
  user_id         integer,
  name            text,
  address         text,
  job             text,
  score           double precision,
  created_by_name text,
  updated_at      timestamp,
  created_at      timestamp,
  active          boolean
);

create function pg_temp.uuid() returns text
  language sql volatile
  return md5(random()::text);

insert into ev (kind, event_id, event_at, id, name, address, job, score)
select 'user', pg_temp.uuid(),
       timestamp '2026-01-05 10:00:00' + floor(random() * 120) * interval '1 second',
       u, (array['Ada', 'Bo', 'Cy', 'Di'])[1 + floor(random() * 4)::integer] || ' ' || u,
       format(E'%s Main St.\nTown %s, ST %s', u, u % 50, 10000 + u),
       (array['Pilot', 'Nurse', 'Engineer'])[1 + floor(random() * 3)::integer], random()
  from generate_series(0, 299) as u, generate_series(1, 1 + floor(random() * 3)::integer + 0 * u) as g;

create temp table card as
select c as card_id,
       timestamp '2026-01-05 11:00:00' + floor(random() * 600) * interval '1 second' as created_at,
       case when random() < 0.05 then 1000
            when random() < 0.03 then 300 + floor(random() * 10)::integer
            else floor(random() * 300)::integer end as user_id,
       floor(random() * 7)::integer as changes
  from generate_series(0, 599) as c;

-- Each card's states: 0 is the creation; the k-th change comes 0-2 seconds after the (k-1)-th.
create temp table state as
with recursive s (card_id, k, updated_at, user_id, active) as (
  select card_id, 0, created_at, user_id, true from card
  union all
  select s.card_id, s.k + 1, s.updated_at + floor(random() * 3) * interval '1 second',
         case when random() < 0.04 then floor(random() * 300)::integer else s.user_id end,
         random() < 0.5
    from s join card c on c.card_id = s.card_id
   where s.k < c.changes)
select * from s;

insert into ev (kind, event_id, event_at, id, user_id, created_by_name, updated_at, created_at, active)
select 'card', pg_temp.uuid(), s.updated_at, s.card_id, s.user_id, 'Creator ' || s.card_id,
       s.updated_at, c.created_at, s.active
  from state s join card c on c.card_id = s.card_id;

-- Shuffle, then cut into batches: mostly a few dozen events, some of one, and
-- one of over a thousand. User 1000 comes last, after every card naming them.
create temp table batched as
with shuffled as (
  select ev.*, row_number() over (order by random()) as rank from ev)
select s.*,
       1 + sum(case when s.rank = 1 or s.rank between 500 and 1600 then 0
                    when random() < 0.06 then 1 else 0 end) over (order by s.rank) as batch
  from shuffled s;
insert into batched (kind, event_id, event_at, id, name, address, job, score, rank, batch)
select 'user', pg_temp.uuid(), '2026-01-05 10:00:30', 1000, 'Late Lou', E'1000 Main St.\nTown 0, ST 10000',
       'Pilot', 0.5, (select max(rank) + 1 from batched), (select max(batch) + 1 from batched);

select pg_temp.assert_true('the generated data is big enough',
  (select count(*) from batched where kind = 'card') > 1500
  and (select count(distinct id) from batched where kind = 'user') = 301);
select pg_temp.assert_true('some batch has over a thousand events',
  (select max(n) from (select count(*) as n from batched group by batch) b) > 1000);
select pg_temp.assert_true('some batches have a single event',
  (select count(*) from (select batch from batched group by batch having count(*) = 1) b) > 0);
select pg_temp.assert_true('many cards change more than once in one second',
  (select count(*) from (select id from batched where kind = 'card'
                          group by id, updated_at having count(*) > 1) x) > 100);
select pg_temp.assert_true('changes of a card arrive in an earlier batch than its creation',
  (select count(*) from batched c
     join batched ch on ch.kind = 'card' and ch.id = c.id and ch.updated_at > c.updated_at
                    and ch.batch < c.batch
    where c.kind = 'card' and c.updated_at = c.created_at) > 50);
select pg_temp.assert_true('some cards move to another user',
  (select count(*) from (select id from batched where kind = 'card'
                          group by id having count(distinct user_id) > 1) x) > 3);

-- Load ------------------------------------------------------------------------------------
-- Each batch: one INSERT per staging table (also when it has no rows of that
-- kind: statement triggers then see an empty transition table), one file per
-- event (_file_id = rank, _record = 1), each batch its own transaction. Core
-- is compared with the full recompute every tenth batch.

select stmt
  from (select b.batch, t.step, t.stmt
          from (select distinct batch from batched) b
         cross join lateral (values
           (1, format('insert into staging.pleo_user (_file_id, _record, event_id, event_at, user_id, name, address, job, score) select rank, 1, event_id, event_at, id, name, address, job, score from batched where batch = %1$s and kind = ''user''', b.batch)),
           (2, format('insert into staging.pleo_card (_file_id, _record, event_id, event_at, card_id, user_id, created_by_name, updated_at, created_at, active) select rank, 1, event_id, event_at, id, user_id, created_by_name, updated_at, created_at, active from batched where batch = %1$s and kind = ''card''', b.batch)),
           (3, case when b.batch % 10 = 0
                    then format('select pg_temp.assert_core_equals_full(''after batch %s'')', b.batch) end))
               as t(step, stmt)) s
 where stmt is not null
 order by batch, step
\gexec

-- Incremental equals full ---------------------------------------------------------------------

select pg_temp.assert_core_equals_full('at the end');

select pg_temp.assert_true('the report is not trivial',
  (select count(*) from reports.pleo_cards_per_user where not user_known) between 5 and 10
  and (select cards from reports.pleo_cards_per_user where user_id = 1000 and user_known) > 10
  and (select count(*) from reports.pleo_cards_per_user where user_known and cards = 0) > 0
  and (select sum(cards) from reports.pleo_cards_per_user) = 600);

-- The card history ----------------------------------------------------------------------------

select pg_temp.assert_same('exactly one current version per card',
  'select card_id, count(*) from core.pleo_card_history where valid_to = ''infinity'' group by card_id',
  'select distinct card_id, 1::bigint from staging.pleo_card');

select pg_temp.assert_true('no empty version',
  not exists (select 1 from core.pleo_card_history where valid_from >= valid_to));

select pg_temp.assert_true('versions of a card do not overlap',
  not exists (select 1
                from core.pleo_card_history a
                join core.pleo_card_history b
                  on a.card_id = b.card_id and a.valid_from <> b.valid_from
                 and tstzrange(a.valid_from, a.valid_to) && tstzrange(b.valid_from, b.valid_to)));

select pg_temp.assert_true('versions of a card leave no gaps',
  not exists (select 1
                from (select valid_to, lead(valid_from) over (partition by card_id order by valid_from) as next_from
                        from core.pleo_card_history) v
               where v.next_from is not null and v.next_from <> v.valid_to));

select pg_temp.assert_same('one version per card and second of updated_at, counting every event',
  'select card_id, valid_from, events from core.pleo_card_history',
  $$select card_id, updated_at at time zone 'UTC', count(*)::integer
      from staging.pleo_card group by card_id, updated_at$$);

select pg_temp.assert_same('the current version is the card''s current state',
  $$select card_id, user_id, active, created_at, valid_from, event_id
      from core.pleo_card_history where is_current$$,
  'select card_id, user_id, active, created_at, updated_at, event_id from core.pleo_card');

select pg_temp.assert_same('the counts are the cards'' current states',
  'select user_id, cards, active_cards from core.pleo_user_card_counts',
  $$select user_id, count(*)::integer, (count(*) filter (where active))::integer
      from core.pleo_card group by user_id$$);

-- A rebuild from staging alone gives the same tables.
create temp table before_rebuild as
select 'user' as t, to_jsonb(x) as row from core.pleo_user x
union all select 'card', to_jsonb(x) from core.pleo_card x
union all select 'history', to_jsonb(x) from core.pleo_card_history x
union all select 'counts', to_jsonb(x) from core.pleo_user_card_counts x;
select core.pleo_rebuild();
select pg_temp.assert_same('a rebuild gives what the triggers kept',
  $$select 'user' as t, to_jsonb(x) as row from core.pleo_user x
    union all select 'card', to_jsonb(x) from core.pleo_card x
    union all select 'history', to_jsonb(x) from core.pleo_card_history x
    union all select 'counts', to_jsonb(x) from core.pleo_user_card_counts x$$,
  'select * from before_rebuild');
